package spemu

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/beevik/etree"
)

// Hostile switches make the library's WebDAV answers wrong on purpose:
// what a broken proxy, a buggy server release or an attacker in the
// middle might send. No SharePoint is known to send them; they exist so
// that the client is tested to refuse each one with a clear error,
// without crashing, without showing an entry that does not exist and
// without writing outside its cache directory (issue 13, docs/spemu.md).
// Set them in Config.Hostile or, while serving, with Server.SetHostile.
type Hostile struct {
	// EscapingHrefs adds responses to every PROPFIND multistatus whose
	// hrefs lie outside the library or are not names at all: "../"
	// climbs (raw and percent-encoded), another site's library, another
	// host, an encoded "/" and an encoded NUL inside a name.
	EscapingHrefs bool
	// DuplicateEntries answers every member of a PROPFIND twice more:
	// once under the same href with another size and ETag, once with
	// the name's case changed.
	DuplicateEntries bool
	// HugeMultistatus, when > 0, pads every PROPFIND multistatus with
	// whitespace to at least this many bytes (streamed, never held in
	// memory, sent without Content-Length).
	HugeMultistatus int64
	// WrongTypes puts values of the wrong type into every property:
	// words for sizes and dates, text inside resourcetype, elements
	// inside getetag, "perhaps" for iscollection.
	WrongTypes bool
	// NegativeSizes answers getcontentlength -4096 for every file.
	NegativeSizes bool
	// FarDates answers getlastmodified and creationdate in year 9999
	// for every other entry and year 1601 (Windows' epoch) for the rest.
	FarDates bool
	// TruncatedBodies cuts every GET and PROPFIND answer after half the
	// bytes its Content-Length announces (the connection is closed).
	TruncatedBodies bool
	// WrongContentRange answers a ranged GET with a 206 whose
	// Content-Range starts one byte after the range asked for (the body
	// is the bytes the header names).
	WrongContentRange bool
	// ShortContentRange answers a ranged GET with a 206 for the first half
	// of the range asked for (header and body agree), although the file
	// holds all of it.
	ShortContentRange bool
	// LongBodies sends 64 bytes more after every GET body than its
	// Content-Length announces, then closes the connection.
	LongBodies bool
	// PathContains limits the switches to requests whose decoded path
	// contains it; "" applies them to every request of the library.
	PathContains string
}

func (h Hostile) active() bool {
	return h.EscapingHrefs || h.DuplicateEntries || h.HugeMultistatus > 0 || h.WrongTypes ||
		h.NegativeSizes || h.FarDates || h.TruncatedBodies || h.WrongContentRange || h.ShortContentRange || h.LongBodies
}

func (h Hostile) rewritesMultistatus() bool {
	return h.EscapingHrefs || h.DuplicateEntries || h.WrongTypes || h.NegativeSizes || h.FarDates
}

type hostileKey struct{}

type hostileState struct {
	mu sync.Mutex
	h  Hostile
}

func (s *Server) hostileState() *hostileState {
	return s.extState(hostileKey{}, func() any { return &hostileState{h: s.cfg.Hostile} }).(*hostileState)
}

// SetHostile replaces the hostile switches; safe while serving.
func (s *Server) SetHostile(h Hostile) {
	st := s.hostileState()
	st.mu.Lock()
	st.h = h
	st.mu.Unlock()
}

// HostileSwitches returns the hostile switches in force.
func (s *Server) HostileSwitches() Hostile {
	st := s.hostileState()
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.h
}

// serveHostile answers r when a hostile switch applies to it and reports
// whether it did; otherwise the request is served normally.
func (s *Server) serveHostile(w http.ResponseWriter, r *http.Request, libPath string) bool {
	h := s.HostileSwitches()
	if !h.active() || !strings.Contains(r.URL.Path, h.PathContains) {
		return false
	}
	switch {
	case r.Method == "PROPFIND" && (h.rewritesMultistatus() || h.HugeMultistatus > 0 || h.TruncatedBodies):
		rec := newBufWriter()
		s.davPropfind(rec, r, libPath)
		if rec.status != http.StatusMultiStatus {
			rec.copyTo(w)
			return true
		}
		body := rec.buf.Bytes()
		if h.rewritesMultistatus() {
			body = s.hostileMultistatus(r, h, body)
		}
		switch {
		case h.HugeMultistatus > 0:
			writeHuge(w, rec.header, body, h.HugeMultistatus)
		case h.TruncatedBodies:
			writeTruncated(w, rec.header, rec.status, body)
		default:
			writeWith(w, rec.header, rec.status, body)
		}
		return true
	case r.Method == http.MethodGet && (h.TruncatedBodies || h.WrongContentRange || h.ShortContentRange || h.LongBodies):
		rec := newBufWriter()
		s.davGet(rec, r, libPath)
		if rec.status/100 != 2 {
			rec.copyTo(w)
			return true
		}
		body := rec.buf.Bytes()
		if h.WrongContentRange && rec.status == http.StatusPartialContent {
			body = s.shiftRange(rec, libPath, body)
		}
		if h.ShortContentRange && rec.status == http.StatusPartialContent {
			body = shortenRange(rec, body)
		}
		switch {
		case h.TruncatedBodies:
			writeTruncated(w, rec.header, rec.status, body)
		case h.LongBodies:
			writeLong(w, rec.header, rec.status, body)
		default:
			writeWith(w, rec.header, rec.status, body)
		}
		return true
	}
	return false
}

// hostileMultistatus rewrites a multistatus document as h says.
func (s *Server) hostileMultistatus(r *http.Request, h Hostile, body []byte) []byte {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil || doc.Root() == nil {
		return body
	}
	ms := doc.Root()
	resps := ms.SelectElements("D:response")
	for i, resp := range resps {
		if h.WrongTypes {
			setProp(resp, "D:getcontentlength", "lots")
			setProp(resp, "D:getlastmodified", "yesterday")
			setProp(resp, "D:creationdate", "soon")
			setProp(resp, "D:iscollection", "perhaps")
			if rt := findProp(resp, "D:resourcetype"); rt != nil {
				rt.SetText("collection")
			}
			if et := findProp(resp, "D:getetag"); et != nil {
				et.SetText("")
				et.CreateElement("D:href").SetText("/elsewhere")
			}
		}
		if h.NegativeSizes && findProp(resp, "D:getcontentlength") != nil {
			setProp(resp, "D:getcontentlength", "-4096")
		}
		if h.FarDates {
			mod, created := "Fri, 31 Dec 9999 23:59:59 GMT", "9999-12-31T23:59:59Z"
			if i%2 == 1 {
				mod, created = "Mon, 01 Jan 1601 00:00:00 GMT", "1601-01-01T00:00:00Z"
			}
			setProp(resp, "D:getlastmodified", mod)
			setProp(resp, "D:creationdate", created)
		}
		if h.DuplicateEntries && i > 0 {
			same := resp.Copy()
			setProp(same, "D:getcontentlength", "999999")
			setProp(same, "D:getetag", `"{00000000-0000-0000-0000-000000000000},99"`)
			ms.AddChild(same)
			cased := resp.Copy()
			if href := cased.SelectElement("D:href"); href != nil {
				href.SetText(swapLastSegmentCase(href.Text()))
			}
			ms.AddChild(cased)
		}
	}
	if h.EscapingHrefs && len(resps) > 0 {
		lib := s.baseFor(r) + escapePath(s.libPrefix)
		rel := escapePath(s.libPrefix)
		for _, href := range []string{
			lib + "/../../../../etc/passwd",
			rel + "/%2e%2e/%2e%2e/escaped.txt",
			rel + "/..%2f..%2fescaped2.txt",
			escapePath(s.cfg.Site+"x/"+s.cfg.Library) + "/neighbour.txt",
			"/personal/mallory_contoso_com/Documents/mallory.txt",
			"http://evil.example" + rel + "/evil.txt",
			"https://evil.example:443" + rel + "/",
			rel + "/slash%2Fname.txt",
			rel + "/nul%00name.txt",
			rel + "/line%0Abreak.txt",
			"file:///etc/shadow",
		} {
			e := resps[len(resps)-1].Copy()
			if he := e.SelectElement("D:href"); he != nil {
				he.SetText(href)
			}
			ms.AddChild(e)
		}
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		return body
	}
	return out
}

// findProp returns the first property element named tag (prefix:local)
// in any propstat of resp.
func findProp(resp *etree.Element, tag string) *etree.Element {
	for _, ps := range resp.SelectElements("D:propstat") {
		if p := ps.SelectElement("D:prop"); p != nil {
			if e := p.SelectElement(tag); e != nil {
				return e
			}
		}
	}
	return nil
}

// setProp sets a property's text, adding it to the first prop when absent.
func setProp(resp *etree.Element, tag, val string) {
	if e := findProp(resp, tag); e != nil {
		e.SetText(val)
		return
	}
	if ps := resp.SelectElement("D:propstat"); ps != nil {
		if p := ps.SelectElement("D:prop"); p != nil {
			p.CreateElement(tag).SetText(val)
		}
	}
}

// swapLastSegmentCase flips the case of an href's last segment.
func swapLastSegmentCase(href string) string {
	trail := strings.HasSuffix(href, "/")
	h := strings.TrimSuffix(href, "/")
	i := strings.LastIndex(h, "/")
	seg := []rune(h[i+1:])
	for j, c := range seg {
		switch {
		case c >= 'a' && c <= 'z':
			seg[j] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z':
			seg[j] = c - 'A' + 'a'
		}
	}
	out := h[:i+1] + string(seg)
	if trail {
		out += "/"
	}
	return out
}

// shiftRange turns a 206 answer into one for the range one byte later
// than asked (the header and the body agree with each other, not with
// the request).
func (s *Server) shiftRange(rec *bufWriter, libPath string, body []byte) []byte {
	var a, b, total int64
	if _, err := fmt.Sscanf(rec.header.Get("Content-Range"), "bytes %d-%d/%d", &a, &b, &total); err != nil {
		return body
	}
	f, _, err := s.st.Open(libPath)
	if err != nil {
		return body
	}
	defer f.Close()
	if a+1 > b {
		return body
	}
	out := make([]byte, b-a+1)
	n, _ := f.ReadAt(out, a+1)
	out = out[:n]
	rec.header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a+1, a+int64(n), total))
	return out
}

// shortenRange turns a 206 answer into one for the first half of its range.
func shortenRange(rec *bufWriter, body []byte) []byte {
	var a, b, total int64
	if _, err := fmt.Sscanf(rec.header.Get("Content-Range"), "bytes %d-%d/%d", &a, &b, &total); err != nil || b <= a {
		return body
	}
	n := (b - a + 1) / 2
	rec.header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, a+n-1, total))
	return body[:n]
}

// bufWriter records an answer so that it can be altered before sending.
type bufWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func newBufWriter() *bufWriter { return &bufWriter{header: http.Header{}} }

func (b *bufWriter) Header() http.Header { return b.header }
func (b *bufWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

func (b *bufWriter) copyTo(w http.ResponseWriter) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	writeWith(w, b.header, b.status, b.buf.Bytes())
}

func copyHeader(w http.ResponseWriter, h http.Header) {
	for k, v := range h {
		w.Header()[k] = v
	}
}

func writeWith(w http.ResponseWriter, h http.Header, status int, body []byte) {
	copyHeader(w, h)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeTruncated announces body's length, sends half of it and closes
// the connection.
func writeTruncated(w http.ResponseWriter, h http.Header, status int, body []byte) {
	copyHeader(w, h)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body[:len(body)/2])
	http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// writeHuge streams body with whitespace before its closing tag until at
// least size bytes are sent.
func writeHuge(w http.ResponseWriter, h http.Header, body []byte, size int64) {
	copyHeader(w, h)
	w.Header().Del("Content-Length")
	w.WriteHeader(http.StatusMultiStatus)
	end := bytes.LastIndex(body, []byte("</"))
	if end < 0 {
		end = len(body)
	}
	w.Write(body[:end])
	pad := bytes.Repeat([]byte("          \n"), 6000)
	for n := int64(len(body)); n < size; n += int64(len(pad)) {
		if _, err := w.Write(pad); err != nil {
			return
		}
	}
	w.Write(body[end:])
}

// writeLong sends body and 64 bytes more than its Content-Length says,
// written straight to the connection, then closes it.
func writeLong(w http.ResponseWriter, h http.Header, status int, body []byte) {
	conn, bw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeWith(w, h, status, body)
		return
	}
	defer conn.Close()
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Write(bw)
	bw.WriteString("\r\n")
	bw.Write(body)
	bw.WriteString(strings.Repeat("HOSTILE!", 8))
	bw.Flush()
}
