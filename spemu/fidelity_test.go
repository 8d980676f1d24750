package spemu_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/odfb/odfb/spemu"
)

// Defaults where SharePoint Online's behaviour is known (issue 12).

func TestHrefsLikeSharePointOnline(t *testing.T) {
	s := start(t, nil)
	lib := s.LibraryURL()
	if err := s.Mkdir("/Q1 [draft] (old)"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile("/Q1 [draft] (old)/a (1).txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, doc := propfind(t, lib, "1", "")
	rs := responses(doc)
	if rs[lib+"/"] == nil || rs[lib+"/Q1%20[draft]%20(old)/"] == nil {
		t.Errorf("hrefs %v: want the folders with a trailing / and [ ] ( ) raw", keys(rs))
	}
	_, doc = propfind(t, lib+"/Q1%20%5Bdraft%5D%20%28old%29", "1", "")
	rs = responses(doc)
	if rs[lib+"/Q1%20[draft]%20(old)/a%20(1).txt"] == nil {
		t.Errorf("hrefs %v: want the file without a trailing / and ( ) raw", keys(rs))
	}
}

func TestFileEntriesBareOrFull(t *testing.T) {
	for _, full := range []bool{false, true} {
		s := start(t, func(c *spemu.Config) { c.FullFileEntries = full })
		if err := s.WriteFile("/f.txt", []byte("x")); err != nil {
			t.Fatal(err)
		}
		_, doc := propfind(t, s.LibraryURL()+"/f.txt", "0", "")
		for _, rsp := range responses(doc) {
			for _, name := range []string{"D:resourcetype", "D:isFolder", "D:ishidden", "D:getcontenttype"} {
				if _, ok := prop(rsp, name); ok != full {
					t.Errorf("FullFileEntries=%v: %s present = %v", full, name, ok)
				}
			}
			if v, _ := prop(rsp, "D:getcontentlength"); v != "1" {
				t.Errorf("getcontentlength %q", v)
			}
		}
	}
}

// TestFolderETagFollowsContent: a folder's ETag version moves when a
// child is added, replaced, renamed or removed, and only then.
func TestFolderETagFollowsContent(t *testing.T) {
	s := start(t, nil)
	lib := s.LibraryURL()
	wantStatus(t, do(t, "MKCOL", lib+"/d", nil), 201, "MKCOL")
	etag := func() string {
		t.Helper()
		_, doc := propfind(t, lib+"/d", "0", "")
		v, _ := prop(responses(doc)[lib+"/d/"], "D:getetag")
		return v
	}
	last := etag()
	step := func(what string, changes bool) {
		t.Helper()
		now := etag()
		if (now != last) != changes {
			t.Errorf("%s: folder ETag %s -> %s, want changed=%v", what, last, now, changes)
		}
		last = now
	}
	wantStatus(t, do(t, "PUT", lib+"/d/a.txt", []byte("1")), 201, "PUT")
	step("new file", true)
	step("nothing", false)
	wantStatus(t, do(t, "PUT", lib+"/d/a.txt", []byte("22")), 204, "PUT")
	step("file replaced", true)
	wantStatus(t, do(t, "MOVE", lib+"/d/a.txt", nil, "Destination", lib+"/d/b.txt"), 201, "MOVE")
	step("rename", true)
	wantStatus(t, do(t, "DELETE", lib+"/d/b.txt", nil), 204, "DELETE")
	step("delete", true)
	wantStatus(t, do(t, "MKCOL", lib+"/d/sub", nil), 201, "MKCOL")
	step("subfolder", true)
	if !strings.HasSuffix(last, `,5"`) {
		t.Errorf("folder ETag %s after five changes, want version 5", last)
	}
}

// TestRESTMinimalMetadata: Accept: application/json gets OData minimal
// metadata (SharePoint Online's default), nometadata gets none.
func TestRESTMinimalMetadata(t *testing.T) {
	s := start(t, nil)
	api := s.URL() + s.Config().Site + "/_api/contextinfo"
	for _, c := range []struct {
		accept, ct string
		meta       bool
	}{
		{"application/json", "odata=minimalmetadata", true},
		{"application/json;odata=minimalmetadata", "odata=minimalmetadata", true},
		{"application/json;odata=nometadata", "odata=nometadata", false},
	} {
		r := do(t, "POST", api, []byte{}, "Accept", c.accept)
		wantStatus(t, r, 200, "contextinfo "+c.accept)
		if !strings.Contains(r.header.Get("Content-Type"), c.ct) {
			t.Errorf("Accept %s: Content-Type %q, want %s", c.accept, r.header.Get("Content-Type"), c.ct)
		}
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["odata.metadata"]; ok != c.meta {
			t.Errorf("Accept %s: odata.metadata present = %v, want %v", c.accept, ok, c.meta)
		}
	}
}
