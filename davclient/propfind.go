package davclient

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/odfb/odfb/remote"
)

const (
	nsDAV = "DAV:"
	nsMS  = "urn:schemas-microsoft-com:"
)

// propfindBody asks for what Entry needs, by name: SharePoint answers
// allprop without the Win32 properties, and a named list lets Apache return
// the dead property set by PROPPATCH.
var propfindBody = func() []byte {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	pf := doc.CreateElement("D:propfind")
	pf.CreateAttr("xmlns:D", nsDAV)
	pf.CreateAttr("xmlns:Z", nsMS)
	prop := pf.CreateElement("D:prop")
	for _, n := range []string{"D:resourcetype", "D:getcontentlength", "D:getlastmodified", "D:creationdate",
		"D:getetag", "D:iscollection", "D:isFolder", "D:ishidden", "Z:Win32LastModifiedTime", "Z:Win32FileAttributes"} {
		prop.CreateElement(n)
	}
	b, _ := doc.WriteToBytes()
	return b
}()

var quotaBody = func() []byte {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	pf := doc.CreateElement("D:propfind")
	pf.CreateAttr("xmlns:D", nsDAV)
	prop := pf.CreateElement("D:prop")
	prop.CreateElement("D:quota-available-bytes")
	prop.CreateElement("D:quota-used-bytes")
	b, _ := doc.WriteToBytes()
	return b
}()

// davEntry is one parsed <response>.
type davEntry struct {
	remote.Entry
	quotaUsed, quotaAvail int64 // -1 when absent
	// invalid names a property whose value is not of its type
	// ("getcontentlength \"-1\""); checkEntries refuses such a listing.
	invalid string
}

// multistatus is the parse result.
type multistatus struct {
	entries []davEntry
	// outside counts hrefs that resolved outside the root and were dropped.
	outside int
}

// errNotMultistatus means the body was not a DAV multistatus document.
var errNotMultistatus = errors.New("response is not a DAV multistatus document")

// parseMultistatus parses a PROPFIND answer. reqURL is the URL the request
// went to (relative hrefs resolve against it); rootURL is the library URL:
// an href that resolves to another host or outside its path is dropped
// and counted, never returned. It never panics on any input.
//
// It reads the document as a token stream (multistatus.go) instead of
// building an etree tree: a 1,000-entry answer is about 0.7 MB, and the
// tree cost more than the rest of a cold listing. It accepts and refuses
// exactly what the tree parser did (the differential fuzz target
// FuzzParseMultistatusSame holds it to that): the same XML rules
// (encoding/xml, non-strict, end tags checked, 1,024 levels at most),
// the first href, status and prop of each element, text up to the first
// child element.
func parseMultistatus(body []byte, reqURL, rootURL *url.URL) (multistatus, error) {
	var ms multistatus
	rootPath := strings.TrimRight(rootURL.Path, "/")
	err := streamMultistatus(body, func(r *msResponse) {
		if !r.haveHref {
			return
		}
		// A response-level status other than 2xx (404 for a member that
		// vanished) means no properties.
		if r.haveStatus && !statusOK(r.status) {
			return
		}
		p, ok := resolveHref(strings.TrimSpace(r.href), reqURL, rootURL, rootPath)
		if !ok {
			ms.outside++
			return
		}
		ms.entries = append(ms.entries, r.entry(p))
	})
	if err != nil {
		return multistatus{}, err
	}
	return ms, nil
}

// entry turns the properties of r's propstats whose status is 2xx (a
// propstat without a status is taken as 200) into the entry at path p.
func (r *msResponse) entry(p string) davEntry {
	e := davEntry{quotaUsed: -1, quotaAvail: -1}
	e.Path = p
	var (
		isColl   bool
		collFlag = -1 // from iscollection/isFolder
		win32Mod time.Time
	)
	for _, ps := range r.propstats {
		if ps.haveStatus && !statusOK(ps.status) {
			continue
		}
		for _, pr := range ps.props {
			txt := strings.TrimSpace(pr.text)
			switch pr.tag {
			case "resourcetype":
				if pr.ns == nsDAV && pr.collection {
					isColl = true
				}
			case "iscollection", "isfolder":
				if b, ok := parseBool(txt); ok {
					if b {
						collFlag = 1
					} else if collFlag < 0 {
						collFlag = 0
					}
				}
			case "getcontentlength":
				if n, err := strconv.ParseInt(txt, 10, 64); err == nil && n >= 0 {
					e.Size = n
				} else if txt != "" {
					e.invalid = fmt.Sprintf("getcontentlength %q", txt)
				}
			case "getlastmodified":
				if t, ok := parseTime(txt); ok {
					e.ServerModTime = t
				} else if txt != "" {
					e.invalid = fmt.Sprintf("getlastmodified %q", txt)
				}
			case "creationdate":
				if t, ok := parseTime(txt); ok {
					e.Created = t
				}
			case "getetag":
				e.ETag = txt
			case "ishidden":
				if b, ok := parseBool(txt); ok && b {
					e.Hidden = true
				}
			case "win32lastmodifiedtime":
				if t, ok := parseTime(txt); ok {
					win32Mod = t
				}
			case "win32fileattributes":
				if n, err := strconv.ParseUint(txt, 16, 32); err == nil && n&0x2 != 0 {
					e.Hidden = true
				}
			case "quota-used-bytes":
				if n, err := strconv.ParseInt(txt, 10, 64); err == nil {
					e.quotaUsed = n
				}
			case "quota-available-bytes":
				if n, err := strconv.ParseInt(txt, 10, 64); err == nil {
					e.quotaAvail = n
				}
			}
		}
	}
	// rclone's rule: resourcetype/collection decides; without a
	// collection element, iscollection/isFolder 1/true/t still makes a
	// folder (SharePoint may send an empty resourcetype for folders in
	// some views); otherwise it is a file.
	e.IsDir = isColl || collFlag == 1
	if e.IsDir {
		e.Size = 0
	}
	e.ModTime = e.ServerModTime
	if !win32Mod.IsZero() {
		e.ModTime = win32Mod
	}
	return e
}

func children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if strings.EqualFold(c.Tag, tag) && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

func child(el *etree.Element, ns, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if strings.EqualFold(c.Tag, tag) && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// statusOK reads "HTTP/1.1 200 OK" (any reason phrase, any case).
func statusOK(s string) bool {
	f := strings.Fields(s)
	if len(f) < 2 {
		return false
	}
	n, err := strconv.Atoi(f[1])
	return err == nil && n >= 200 && n < 300
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "yes":
		return true, true
	case "0", "f", "false", "no":
		return false, true
	}
	return false, false
}

var timeLayouts = []string{
	time.RFC1123,
	time.RFC1123Z,
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04:05 -0700",
	time.RFC850,
	time.ANSIC,
	time.UnixDate,
	time.RFC3339Nano,
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00",
}

// parseTime accepts the date formats servers use for DAV properties.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// resolveHref turns an href (absolute URL or path, percent-encoded or
// raw UTF-8) into a library path. ok is false when it names another host
// or a path outside the root.
func resolveHref(href string, reqURL, rootURL *url.URL, rootPath string) (string, bool) {
	if href == "" {
		return "", false
	}
	u, err := url.Parse(href)
	if err != nil {
		// Raw characters url.Parse refuses (a lone "%"): take the text as
		// an undecoded path when it is one.
		if !strings.HasPrefix(href, "/") || strings.ContainsAny(href, "?#") {
			return "", false
		}
		u = &url.URL{Path: href}
	}
	if u.Opaque != "" || u.User != nil {
		return "", false
	}
	abs := reqURL.ResolveReference(u)
	if !strings.EqualFold(abs.Scheme, rootURL.Scheme) && u.IsAbs() {
		// http vs https of the same host: SharePoint behind a TLS proxy
		// may say http; accept only when the host matches.
		if !(strings.HasPrefix(strings.ToLower(abs.Scheme), "http")) {
			return "", false
		}
	}
	if !strings.EqualFold(abs.Host, rootURL.Host) && !sameHostDefaultPort(abs, rootURL) {
		return "", false
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	return relToRoot(rootPath, abs.Path)
}

// sameHostDefaultPort treats host and host:443 (or :80) as the same.
func sameHostDefaultPort(a, b *url.URL) bool {
	ha, pa := a.Hostname(), a.Port()
	hb, pb := b.Hostname(), b.Port()
	if !strings.EqualFold(ha, hb) {
		return false
	}
	def := func(scheme, p string) string {
		if p != "" {
			return p
		}
		if strings.EqualFold(scheme, "http") {
			return "80"
		}
		return "443"
	}
	return def(a.Scheme, pa) == def(b.Scheme, pb)
}
