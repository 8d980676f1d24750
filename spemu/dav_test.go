package spemu_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/spemu"
)

var etagRE = regexp.MustCompile(`^"\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\},(\d+)"$`)

func TestPutGetPropfindDelete(t *testing.T) {
	s := start(t, nil)
	lib := s.LibraryURL()
	if want := s.URL() + "/personal/alice_contoso_com/Documents"; lib != want {
		t.Fatalf("LibraryURL %q, want %q", lib, want)
	}

	r := do(t, "PUT", lib+"/a%20b.txt", []byte("hello"))
	wantStatus(t, r, 201, "PUT new")
	e1 := r.header.Get("ETag")
	if m := etagRE.FindStringSubmatch(e1); m == nil || m[1] != "1" {
		t.Fatalf("PUT ETag %q, want \"{GUID},1\"", e1)
	}
	r = do(t, "PUT", lib+"/a%20b.txt", []byte("hello, world"))
	wantStatus(t, r, 204, "PUT replace")
	e2 := r.header.Get("ETag")
	if m := etagRE.FindStringSubmatch(e2); m == nil || m[1] != "2" || e2[:40] != e1[:40] {
		t.Fatalf("replace ETag %q after %q: want same GUID, version 2", e2, e1)
	}

	r = do(t, "GET", lib+"/a%20b.txt", nil)
	wantStatus(t, r, 200, "GET")
	if string(r.body) != "hello, world" || r.header.Get("ETag") != e2 || r.header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("GET: body %q ETag %q Accept-Ranges %q", r.body, r.header.Get("ETag"), r.header.Get("Accept-Ranges"))
	}
	r = do(t, "GET", lib+"/a%20b.txt", nil, "Range", "bytes=7-")
	wantStatus(t, r, 206, "GET range")
	if string(r.body) != "world" {
		t.Fatalf("range body %q", r.body)
	}
	r = do(t, "GET", lib+"/a%20b.txt", nil, "If-None-Match", e2)
	wantStatus(t, r, 304, "GET If-None-Match")
	r = do(t, "HEAD", lib+"/a%20b.txt", nil)
	wantStatus(t, r, 200, "HEAD")
	if r.header.Get("Content-Length") != "12" || len(r.body) != 0 {
		t.Fatalf("HEAD: Content-Length %q body %d bytes", r.header.Get("Content-Length"), len(r.body))
	}

	wantStatus(t, do(t, "MKCOL", lib+"/dir", nil), 201, "MKCOL")
	wantStatus(t, do(t, "MKCOL", lib+"/dir", nil), 405, "MKCOL existing")
	wantStatus(t, do(t, "MKCOL", lib+"/no/such", nil), 409, "MKCOL without parent")
	wantStatus(t, do(t, "PUT", lib+"/no/such.txt", []byte("x")), 409, "PUT without parent")

	st, doc := propfind(t, lib, "1", "")
	if st != 207 {
		t.Fatalf("PROPFIND depth 1: %d", st)
	}
	rs := responses(doc)
	fileHref := lib + "/a%20b.txt"
	dirHref := lib + "/dir/" // folders end with "/", as on SharePoint Online
	if len(rs) != 3 || rs[lib+"/"] == nil || rs[fileHref] == nil || rs[dirHref] == nil {
		t.Fatalf("PROPFIND hrefs %v, want %s/, %s, %s", keys(rs), lib, fileHref, dirHref)
	}
	if got, _ := prop(rs[lib+"/"], "D:displayname"); got != "Documents" {
		t.Errorf("library root displayname %q", got)
	}
	f := rs[fileHref]
	for name, want := range map[string]string{
		"D:getcontentlength": "12", "D:iscollection": "0",
		"D:getetag": e2, "D:displayname": "a b.txt", "Z:Win32FileAttributes": "00000020",
	} {
		if got, ok := prop(f, name); !ok || got != want {
			t.Errorf("file %s = %q (present %v), want %q", name, got, ok, want)
		}
	}
	// SharePoint Online's allprop file entry is bare: no resourcetype,
	// isFolder, ishidden or getcontenttype.
	for _, name := range []string{"D:resourcetype", "D:isFolder", "D:ishidden", "D:getcontenttype"} {
		if got, ok := prop(f, name); ok {
			t.Errorf("file entry carries %s = %q; SharePoint Online leaves it out", name, got)
		}
	}
	lm, _ := prop(f, "D:getlastmodified")
	if _, err := time.Parse(http.TimeFormat, lm); err != nil {
		t.Errorf("getlastmodified %q not RFC 1123: %v", lm, err)
	}
	cd, _ := prop(f, "D:creationdate")
	if _, err := time.Parse("2006-01-02T15:04:05Z", cd); err != nil {
		t.Errorf("creationdate %q not ISO 8601 Z: %v", cd, err)
	}
	guid := e2[2:38]
	if got, _ := prop(f, "Repl:repl-uid"); got != "rid:{"+guid+"}" {
		t.Errorf("repl-uid %q", got)
	}
	if got, _ := prop(f, "Repl:resourcetag"); got != "rt:"+guid+"@00000000002" {
		t.Errorf("resourcetag %q", got)
	}
	d := rs[dirHref]
	if d.FindElement(".//D:resourcetype/D:collection") == nil {
		t.Errorf("folder without resourcetype/collection")
	}
	for name, want := range map[string]string{"D:isFolder": "t", "D:iscollection": "1", "Repl:authoritative-directory": "t"} {
		if got, _ := prop(d, name); got != want {
			t.Errorf("folder %s = %q, want %q", name, got, want)
		}
	}
	if got, _ := prop(d, "D:getetag"); !strings.HasSuffix(got, `},0"`) {
		t.Errorf("folder etag %q, want version 0", got)
	}

	wantStatus(t, do(t, "DELETE", lib+"/a%20b.txt", nil), 204, "DELETE")
	wantStatus(t, do(t, "GET", lib+"/a%20b.txt", nil), 404, "GET deleted")
	wantStatus(t, do(t, "DELETE", lib+"/a%20b.txt", nil), 404, "DELETE missing")

	// Request log: one record per request, decoded path, no query.
	recs := s.Requests()
	if len(recs) != 14 {
		for _, r := range recs {
			t.Logf("%+v", r)
		}
		t.Fatalf("%d request records, want 14", len(recs))
	}
	if recs[0].Method != "PUT" || recs[0].Path != "/personal/alice_contoso_com/Documents/a b.txt" || recs[0].Status != 201 || recs[0].ReqBytes != 5 {
		t.Errorf("first record %+v", recs[0])
	}
	if recs[2].Method != "GET" || recs[2].RespBytes != 12 || recs[2].Status != 200 {
		t.Errorf("GET record %+v", recs[2])
	}
	if recs[3].Range != "bytes=7-" || recs[3].RespBytes != 5 {
		t.Errorf("range record %+v", recs[3])
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

var _ = fmt.Sprint
var _ spemu.Config
