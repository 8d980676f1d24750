package spemu_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

// start runs spemu without auth (the auth tests set their own mode).
func start(t *testing.T, mod func(*spemu.Config)) *spemu.Server {
	t.Helper()
	cfg := spemu.Config{Auth: "none", Seed: 1}
	if mod != nil {
		mod(&cfg)
	}
	return spemutest.Start(t, cfg)
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; body may be nil. hdr alternates names and values.
func do(t *testing.T, method, url string, body []byte, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "NONISV|odfb|spemu-test")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func wantStatus(t *testing.T, r resp, want int, what string) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d; body %q", what, r.status, want, r.body)
	}
}

// propfind returns the parsed multistatus.
func propfind(t *testing.T, url, depth string, body string) (int, *etree.Document) {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	r := do(t, "PROPFIND", url, b, "Depth", depth, "Content-Type", "text/xml")
	if r.status != http.StatusMultiStatus {
		return r.status, nil
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(r.body); err != nil {
		t.Fatalf("PROPFIND %s: bad XML: %v\n%s", url, err, r.body)
	}
	return r.status, doc
}

// responses maps href → the D:response element.
func responses(doc *etree.Document) map[string]*etree.Element {
	out := map[string]*etree.Element{}
	for _, r := range doc.FindElements("/D:multistatus/D:response") {
		out[r.FindElement("D:href").Text()] = r
	}
	return out
}

// prop returns the text of the prop (prefix:local) in a 200 propstat.
func prop(r *etree.Element, name string) (string, bool) {
	for _, ps := range r.SelectElements("D:propstat") {
		if !strings.Contains(ps.FindElement("D:status").Text(), " 200 ") {
			continue
		}
		if e := ps.FindElement("D:prop/" + name); e != nil {
			return e.Text(), true
		}
	}
	return "", false
}
