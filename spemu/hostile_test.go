package spemu_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/spemu"
)

// Each hostile switch changes the answers the way docs/spemu.md says;
// the client's tests (davclient, fusefs) rely on that.
func TestHostileMultistatus(t *testing.T) {
	s := start(t, nil)
	do(t, "PUT", s.LibraryURL()+"/a.txt", []byte("hello"))
	lib := s.LibraryURL()
	count := func() int {
		_, doc := propfind(t, lib+"/", "1", "")
		return len(doc.FindElements("/D:multistatus/D:response"))
	}
	base := count()
	if base != 2 {
		t.Fatalf("plain listing has %d responses, want 2", base)
	}

	s.SetHostile(spemu.Hostile{EscapingHrefs: true})
	_, doc := propfind(t, lib+"/", "1", "")
	var escaping int
	for href := range responses(doc) {
		if strings.Contains(href, "..") || strings.Contains(href, "evil.example") || strings.Contains(href, "%00") || strings.Contains(href, "mallory") {
			escaping++
		}
	}
	if escaping < 5 {
		t.Errorf("EscapingHrefs: %d escaping hrefs", escaping)
	}

	s.SetHostile(spemu.Hostile{DuplicateEntries: true})
	_, doc = propfind(t, lib+"/", "1", "")
	rs := doc.FindElements("/D:multistatus/D:response")
	if len(rs) != 4 || rs[3].FindElement("D:href").Text() != strings.Replace(rs[1].FindElement("D:href").Text(), "a.txt", "A.TXT", 1) {
		t.Errorf("DuplicateEntries: %d responses", len(rs))
	}

	for _, c := range []struct {
		h          spemu.Hostile
		prop, want string
	}{
		{spemu.Hostile{NegativeSizes: true}, "D:getcontentlength", "-4096"},
		{spemu.Hostile{WrongTypes: true}, "D:getcontentlength", "lots"},
		{spemu.Hostile{FarDates: true}, "D:getlastmodified", "Mon, 01 Jan 1601 00:00:00 GMT"},
	} {
		s.SetHostile(c.h)
		_, doc = propfind(t, lib+"/", "1", "")
		if got, _ := prop(doc.FindElements("/D:multistatus/D:response")[1], c.prop); got != c.want {
			t.Errorf("%+v: %s = %q, want %q", c.h, c.prop, got, c.want)
		}
	}

	s.SetHostile(spemu.Hostile{HugeMultistatus: 3 << 20})
	r := do(t, "PROPFIND", lib+"/", nil, "Depth", "1")
	if r.status != 207 || len(r.body) < 3<<20 || !bytes.HasSuffix(bytes.TrimSpace(r.body), []byte("multistatus>")) {
		t.Errorf("HugeMultistatus: status %d, %d bytes", r.status, len(r.body))
	}

	// PathContains narrows the switches.
	s.SetHostile(spemu.Hostile{NegativeSizes: true, PathContains: "/nowhere"})
	if n := count(); n != 2 {
		t.Errorf("PathContains ignored")
	}
}

func TestHostileGet(t *testing.T) {
	s := start(t, nil)
	data := []byte(strings.Repeat("0123456789", 100))
	do(t, "PUT", s.LibraryURL()+"/f.bin", data)
	u := s.LibraryURL() + "/f.bin"
	get := func(rng string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest("GET", u, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}

	s.SetHostile(spemu.Hostile{TruncatedBodies: true})
	if res, b, err := get(""); err == nil {
		t.Errorf("TruncatedBodies: read %d of %d bytes without error", len(b), res.ContentLength)
	}
	s.SetHostile(spemu.Hostile{WrongContentRange: true})
	res, b, err := get("bytes=100-199")
	if err != nil || res.StatusCode != 206 || res.Header.Get("Content-Range") != "bytes 101-200/1000" || !bytes.Equal(b, data[101:201]) {
		t.Errorf("WrongContentRange: %v %v %q %d bytes", err, res.StatusCode, res.Header.Get("Content-Range"), len(b))
	}
	s.SetHostile(spemu.Hostile{ShortContentRange: true})
	res, b, err = get("bytes=100-199")
	if err != nil || res.StatusCode != 206 || res.Header.Get("Content-Range") != "bytes 100-149/1000" || !bytes.Equal(b, data[100:150]) {
		t.Errorf("ShortContentRange: %v %v %q %d bytes", err, res.StatusCode, res.Header.Get("Content-Range"), len(b))
	}
	s.SetHostile(spemu.Hostile{LongBodies: true})
	if res, b, err = get(""); err != nil || res.ContentLength != 1000 || !bytes.Equal(b, data) {
		t.Errorf("LongBodies: %v, Content-Length %d, %d bytes", err, res.ContentLength, len(b))
	}
}

// RewriteExts rewrites any type; a JPEG gains exactly 12 bytes and keeps
// its start marker; RewriteDelay rewrites after the upload's answer.
func TestRewriteAnyExtensionAndDelayed(t *testing.T) {
	s := start(t, func(c *spemu.Config) { c.RewriteExts = []string{".jpg", "bin"} })
	jpg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{7}, 100)...)
	r := do(t, "PUT", s.LibraryURL()+"/p.JPG", jpg)
	got, _ := s.ReadFile("/p.JPG")
	if now, _ := s.ETag("/p.JPG"); now == r.header.Get("ETag") || len(got) != len(jpg)+12 || !bytes.Equal(got[:2], jpg[:2]) || !bytes.Equal(got[14:], jpg[2:]) {
		t.Errorf("jpg: %d → %d bytes, %x", len(jpg), len(got), got[:16])
	}
	do(t, "PUT", s.LibraryURL()+"/x.bin", []byte("abc"))
	if got, _ := s.ReadFile("/x.bin"); len(got) == 3 {
		t.Errorf(".bin (given without a dot) not rewritten")
	}
	do(t, "PUT", s.LibraryURL()+"/x.txt", []byte("abc"))
	if got, _ := s.ReadFile("/x.txt"); len(got) != 3 {
		t.Errorf(".txt rewritten")
	}

	d := start(t, func(c *spemu.Config) { c.RewriteExts = []string{"*"}; c.RewriteDelay = 300 * time.Millisecond })
	r = do(t, "PUT", d.LibraryURL()+"/late.txt", []byte("abc"))
	if now, _ := d.ETag("/late.txt"); now != r.header.Get("ETag") {
		t.Fatalf("rewritten before the delay")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if now, _ := d.ETag("/late.txt"); now != r.header.Get("ETag") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never rewritten")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, _ := d.ReadFile("/late.txt"); len(got) <= 3 {
		t.Errorf("late.txt %d bytes", len(got))
	}
}
