package davclient

import (
	"net/url"
	"testing"
	"time"
)

const spSample = `<?xml version="1.0" encoding="utf-8" ?>
<D:multistatus xmlns:D="DAV:" xmlns:Office="urn:schemas-microsoft-com:office:office" xmlns:Repl="http://schemas.microsoft.com/repl/" xmlns:Z="urn:schemas-microsoft-com:">
<D:response><D:href>https://contoso-my.sharepoint.com/personal/alice/Documents</D:href>
 <D:propstat><D:prop><D:displayname>Documents</D:displayname><D:isFolder>t</D:isFolder><D:iscollection>1</D:iscollection><D:ishidden>0</D:ishidden>
 <D:getlastmodified>Wed, 30 Apr 2014 13:12:52 GMT</D:getlastmodified><D:creationdate>2014-04-30T13:12:52Z</D:creationdate>
 <D:getetag>&quot;{15B92016-CABA-4F16-B893-3833A61CE8F2},0&quot;</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>https://contoso-my.sharepoint.com/personal/alice/Documents/Style%20Library/a%23b%25c.xsl</D:href>
 <D:propstat><D:prop><D:displayname>a#b%c.xsl</D:displayname><D:isFolder>f</D:isFolder>
  <D:getlastmodified>Wed, 30 Apr 2014 13:12:52 GMT</D:getlastmodified><D:creationdate>2014-04-30T13:12:52Z</D:creationdate>
  <D:getcontentlength>19044</D:getcontentlength>
  <D:getetag>&quot;{15B92016-CABA-4F16-B893-3833A61CE8F3},1&quot;</D:getetag>
  <Z:Win32LastModifiedTime>Sat, 03 Feb 2001 04:05:06 GMT</Z:Win32LastModifiedTime>
  <Z:Win32FileAttributes>00000022</Z:Win32FileAttributes>
 </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
 <D:propstat><D:prop><D:quota-used-bytes/></D:prop><D:status>HTTP/1.1 404 NOT FOUND</D:status></D:propstat></D:response>
<D:response><D:href>/personal/alice/Documents/rel%C3%A4tive</D:href>
 <D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype><D:getlastmodified>2020-01-02T03:04:05Z</D:getlastmodified></D:prop></D:propstat></D:response>
<D:response><D:href>/personal/alice/Documents/räw ütf8.txt</D:href>
 <D:propstat><D:prop><D:resourcetype/><D:iscollection>true</D:iscollection><D:getlastmodified>Thu, 2 Jan 2020 03:04:05 GMT</D:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/personal/alice/Documents/../bob/secret.txt</D:href><D:propstat><D:prop/></D:propstat></D:response>
<D:response><D:href>https://evil.example/personal/alice/Documents/x</D:href><D:propstat><D:prop/></D:propstat></D:response>
<D:response><D:href>/personal/alice/DocumentsX/y</D:href><D:propstat><D:prop/></D:propstat></D:response>
<D:response><D:href>/personal/alice/Documents/gone</D:href><D:status>HTTP/1.1 404 NOT FOUND</D:status></D:response>
<D:response><D:href>/personal/alice/Documents/noflags</D:href><D:propstat><D:prop><D:getcontentlength>7</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
</D:multistatus>`

func TestParseMultistatusSharePoint(t *testing.T) {
	root, _ := url.Parse("https://contoso-my.sharepoint.com/personal/alice/Documents")
	ms, err := parseMultistatus([]byte(spSample), root, root)
	if err != nil {
		t.Fatal(err)
	}
	if ms.outside != 3 {
		t.Errorf("outside = %d, want 3 (.., other host, sibling prefix)", ms.outside)
	}
	byPath := map[string]davEntry{}
	for _, e := range ms.entries {
		byPath[e.Path] = e
	}
	want := []string{"/", "/Style Library/a#b%c.xsl", "/relätive", "/räw ütf8.txt", "/noflags"}
	if len(ms.entries) != len(want) {
		t.Fatalf("got %d entries %v, want %v", len(ms.entries), byPath, want)
	}
	for _, p := range want {
		if _, ok := byPath[p]; !ok {
			t.Fatalf("missing %q in %v", p, byPath)
		}
	}
	if r := byPath["/"]; !r.IsDir || r.ETag != `"{15B92016-CABA-4F16-B893-3833A61CE8F2},0"` {
		t.Errorf("root = %+v", r)
	}
	f := byPath["/Style Library/a#b%c.xsl"]
	if f.IsDir || f.Size != 19044 || !f.Hidden {
		t.Errorf("file = %+v", f)
	}
	if want := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC); !f.ModTime.Equal(want) {
		t.Errorf("ModTime %v, want Win32LastModifiedTime %v", f.ModTime, want)
	}
	if want := time.Date(2014, 4, 30, 13, 12, 52, 0, time.UTC); !f.ServerModTime.Equal(want) || !f.Created.Equal(want) {
		t.Errorf("ServerModTime %v Created %v", f.ServerModTime, f.Created)
	}
	if f.quotaUsed != -1 {
		t.Errorf("a 404 propstat was used: quotaUsed %d", f.quotaUsed)
	}
	if e := byPath["/relätive"]; !e.IsDir || !e.ModTime.Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("relative href, propstat without status: %+v", e)
	}
	if e := byPath["/räw ütf8.txt"]; !e.IsDir || e.ModTime.IsZero() {
		t.Errorf("iscollection=true with empty resourcetype, unpadded date: %+v", e)
	}
	if e := byPath["/noflags"]; e.IsDir || e.Size != 7 {
		t.Errorf("missing resourcetype means file: %+v", e)
	}
}

func TestParseMultistatusRejectsGarbage(t *testing.T) {
	root, _ := url.Parse("http://h/dav")
	for _, body := range []string{"", "<html><body>login</body></html>", "<multistatus/>", "<D:multistatus xmlns:D='other'/>", "\x00\x01"} {
		if _, err := parseMultistatus([]byte(body), root, root); err == nil {
			t.Errorf("%q: accepted", body)
		}
	}
}

func TestParseTimeFormats(t *testing.T) {
	want := time.Date(2014, 4, 30, 13, 12, 52, 0, time.UTC)
	for _, s := range []string{"Wed, 30 Apr 2014 13:12:52 GMT", "Wed, 30 Apr 2014 15:12:52 +0200", "2014-04-30T13:12:52Z",
		"2014-04-30T15:12:52+02:00", "Wednesday, 30-Apr-14 13:12:52 GMT", "Wed Apr 30 13:12:52 2014", "2014-04-30T13:12:52"} {
		got, ok := parseTime(s)
		if !ok || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v", s, got, ok)
		}
	}
	if _, ok := parseTime("yesterday"); ok {
		t.Error("accepted nonsense")
	}
}

func TestRelToRoot(t *testing.T) {
	for _, c := range []struct {
		root, p, want string
		ok            bool
	}{
		{"/lib", "/lib", "/", true},
		{"/lib", "/lib/", "/", true},
		{"/lib", "/LIB/a", "/a", true},
		{"/lib", "/lib/a/../b", "/b", true},
		{"/lib", "/lib/../x", "", false},
		{"/lib", "/libx", "", false},
		{"/lib", "lib/a", "", false},
		{"", "/a/b", "/a/b", true},
	} {
		got, ok := relToRoot(c.root, c.p)
		if got != c.want || ok != c.ok {
			t.Errorf("relToRoot(%q, %q) = %q, %v; want %q, %v", c.root, c.p, got, ok, c.want, c.ok)
		}
	}
}
