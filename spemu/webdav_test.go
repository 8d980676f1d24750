package spemu_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

func TestOptionsHeaders(t *testing.T) {
	s := start(t, nil)
	r := do(t, "OPTIONS", s.LibraryURL(), nil)
	wantStatus(t, r, 200, "OPTIONS")
	for h, want := range map[string]string{
		"DAV": "1,2", "MS-Author-Via": "DAV", "Public-Extension": "http://schemas.microsoft.com/repl-2",
		"DocumentManagementServer":        "Properties Schema;Source Control;Version History;",
		"MicrosoftSharePointTeamServices": "16.0.0.26001", "X-MS-InvokeApp": "1; RequireReadOnly",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(r.header.Get("Allow"), "PROPPATCH") || !strings.Contains(r.header.Get("Allow"), "LOCK") {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	if g := r.header.Get("SPRequestGuid"); g == "" || g != r.header.Get("request-id") {
		t.Errorf("SPRequestGuid %q request-id %q", g, r.header.Get("request-id"))
	}
	// The host root answers OPTIONS too (the Windows redirector walks the path).
	wantStatus(t, do(t, "OPTIONS", s.URL()+"/", nil), 200, "OPTIONS /")
}

func TestPropfindDepth(t *testing.T) {
	s := start(t, nil)
	lib := s.LibraryURL()
	if err := s.Mkdir("/d"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile("/d/f.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Depth 1 on a file: 404, Depth 0 works.
	if st, _ := propfind(t, lib+"/d/f.txt", "1", ""); st != 404 {
		t.Errorf("Depth 1 on a file: %d, want 404", st)
	}
	st, doc := propfind(t, lib+"/d/f.txt", "0", "")
	if st != 207 || len(responses(doc)) != 1 {
		t.Fatalf("Depth 0 on a file: %d", st)
	}
	// Depth 0 on a folder: the folder only.
	_, doc = propfind(t, lib+"/d", "0", "")
	if rs := responses(doc); len(rs) != 1 || rs[lib+"/d/"] == nil {
		t.Errorf("Depth 0 on a folder: %v", keys(rs))
	}
	// Depth infinity: 403 with propfind-finite-depth.
	r := do(t, "PROPFIND", lib, nil, "Depth", "infinity")
	wantStatus(t, r, 403, "Depth infinity")
	if !bytes.Contains(r.body, []byte("propfind-finite-depth")) {
		t.Errorf("Depth infinity body %q", r.body)
	}
	// Named properties: known ones 200, unknown ones in a 404 propstat.
	r = do(t, "PROPFIND", lib+"/d/f.txt", []byte(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:x="urn:x"><D:prop><D:getetag/><x:nope/></D:prop></D:propfind>`), "Depth", "0")
	wantStatus(t, r, 207, "PROPFIND named")
	if !bytes.Contains(r.body, []byte("HTTP/1.1 404 Not Found")) || !bytes.Contains(r.body, []byte(`<nope xmlns="urn:x"/>`)) {
		t.Errorf("named PROPFIND body: %s", r.body)
	}
	if !bytes.Contains(r.body, []byte(`xmlns:Z="urn:schemas-microsoft-com:"`)) || !bytes.Contains(r.body, []byte(`xmlns:Repl="http://schemas.microsoft.com/repl/"`)) {
		t.Errorf("namespaces missing: %s", r.body)
	}
	// Hidden: names starting with "_".
	if err := s.WriteFile("/_h.txt", []byte("h")); err != nil {
		t.Fatal(err)
	}
	// Asked for by name: an allprop entry of a file carries no ishidden.
	_, doc = propfind(t, lib+"/_h.txt", "0", `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:prop><D:ishidden/><Z:Win32FileAttributes/></D:prop></D:propfind>`)
	for _, rsp := range responses(doc) {
		if v, _ := prop(rsp, "D:ishidden"); v != "1" {
			t.Errorf("ishidden of _h.txt = %q", v)
		}
		if v, _ := prop(rsp, "Z:Win32FileAttributes"); v != "00000022" {
			t.Errorf("Win32FileAttributes of _h.txt = %q", v)
		}
	}
}

func TestPutConditions(t *testing.T) {
	s := start(t, nil)
	u := s.LibraryURL() + "/c.txt"
	wantStatus(t, do(t, "PUT", u, []byte("1"), "If-Match", `"{00000000-0000-0000-0000-000000000000},1"`), 412, "If-Match on a missing file")
	r := do(t, "PUT", u, []byte("1"), "If-None-Match", "*")
	wantStatus(t, r, 201, "If-None-Match * new")
	etag := r.header.Get("ETag")
	wantStatus(t, do(t, "PUT", u, []byte("2"), "If-None-Match", "*"), 412, "If-None-Match * existing")
	wantStatus(t, do(t, "PUT", u, []byte("2"), "If-Match", `"{00000000-0000-0000-0000-000000000000},1"`), 412, "If-Match stale")
	r = do(t, "PUT", u, []byte("22"), "If-Match", etag)
	wantStatus(t, r, 204, "If-Match current")
	if data, _ := s.ReadFile("/c.txt"); string(data) != "22" {
		t.Errorf("content %q", data)
	}
	// A server-side change (another user) bumps the version.
	before, _ := s.ETag("/c.txt")
	if err := s.WriteFile("/c.txt", []byte("other user")); err != nil {
		t.Fatal(err)
	}
	after, _ := s.ETag("/c.txt")
	if before[:39] != after[:39] || !strings.HasSuffix(after, ",3\"") {
		t.Errorf("ETag after WriteFile %s (before %s)", after, before)
	}
	wantStatus(t, do(t, "PUT", u, []byte("mine"), "If-Match", before), 412, "If-Match after another user's change")
}

func TestMoveCopy(t *testing.T) {
	s := start(t, nil)
	lib := s.LibraryURL()
	s.WriteFile("/a.txt", []byte("aaa"))
	s.WriteFile("/b.txt", []byte("bbb"))
	guid, _ := s.ETag("/a.txt")
	wantStatus(t, do(t, "COPY", lib+"/a.txt", nil, "Destination", lib+"/b.txt", "Overwrite", "F"), 412, "COPY Overwrite F onto existing")
	wantStatus(t, do(t, "COPY", lib+"/a.txt", nil, "Destination", lib+"/b.txt"), 204, "COPY replace")
	if d, _ := s.ReadFile("/b.txt"); string(d) != "aaa" {
		t.Errorf("copied content %q", d)
	}
	wantStatus(t, do(t, "MOVE", lib+"/a.txt", nil, "Destination", lib+"/c%20d.txt"), 201, "MOVE new")
	if e, err := s.ETag("/c d.txt"); err != nil || e[:39] != guid[:39] {
		t.Errorf("moved item ETag %q (%v), want the GUID of %q kept", e, err, guid)
	}
	wantStatus(t, do(t, "GET", lib+"/a.txt", nil), 404, "GET moved source")
	wantStatus(t, do(t, "MOVE", lib+"/b.txt", nil, "Destination", lib+"/c%20d.txt", "Overwrite", "F"), 412, "MOVE Overwrite F onto existing")
	wantStatus(t, do(t, "MOVE", lib+"/b.txt", nil, "Destination", lib+"/nodir/x.txt"), 409, "MOVE into a missing folder")
	wantStatus(t, do(t, "MOVE", lib+"/b.txt", nil, "Destination", "http://elsewhere.example/sites/x/b.txt"), 502, "MOVE to another site")
	// Folder copy is recursive; Depth 0 copies the folder only.
	s.Mkdir("/f")
	s.WriteFile("/f/x.txt", []byte("x"))
	wantStatus(t, do(t, "COPY", lib+"/f", nil, "Destination", lib+"/g"), 201, "COPY folder")
	if d, err := s.ReadFile("/g/x.txt"); err != nil || string(d) != "x" {
		t.Errorf("copied folder member: %q %v", d, err)
	}
	wantStatus(t, do(t, "COPY", lib+"/f", nil, "Destination", lib+"/h", "Depth", "0"), 201, "COPY folder depth 0")
	if _, err := s.ReadFile("/h/x.txt"); err == nil {
		t.Errorf("Depth 0 copy copied a member")
	}
	// Case-only rename.
	wantStatus(t, do(t, "MOVE", lib+"/g", nil, "Destination", lib+"/G"), 201, "case-only MOVE")
	if it, err := s.Stat("/g"); err != nil || it.Name != "G" {
		t.Errorf("after case-only MOVE: %+v %v", it, err)
	}
}

func TestProppatchWin32Times(t *testing.T) {
	s := start(t, nil)
	u := s.LibraryURL() + "/t.txt"
	wantStatus(t, do(t, "PUT", u, []byte("t")), 201, "PUT")
	_, doc := propfind(t, u, "0", "")
	var lm0 string
	for _, r := range responses(doc) {
		lm0, _ = prop(r, "D:getlastmodified")
	}
	etag0, _ := s.ETag("/t.txt")
	body := `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>
<Z:Win32CreationTime>Mon, 01 Jan 2001 10:00:00 GMT</Z:Win32CreationTime>
<Z:Win32LastAccessTime>Tue, 02 Jan 2001 10:00:00 GMT</Z:Win32LastAccessTime>
<Z:Win32LastModifiedTime>Wed, 03 Jan 2001 10:00:00 GMT</Z:Win32LastModifiedTime>
<Z:Win32FileAttributes>00000021</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>`
	r := do(t, "PROPPATCH", u, []byte(body), "Content-Type", "text/xml")
	wantStatus(t, r, 207, "PROPPATCH")
	if bytes.Contains(r.body, []byte("403")) || bytes.Count(r.body, []byte("HTTP/1.1 200 OK")) != 4 {
		t.Fatalf("PROPPATCH answer: %s", r.body)
	}
	_, doc = propfind(t, u, "0", "")
	for _, rsp := range responses(doc) {
		for name, want := range map[string]string{
			"Z:Win32CreationTime": "Mon, 01 Jan 2001 10:00:00 GMT", "Z:Win32LastAccessTime": "Tue, 02 Jan 2001 10:00:00 GMT",
			"Z:Win32LastModifiedTime": "Wed, 03 Jan 2001 10:00:00 GMT", "Z:Win32FileAttributes": "00000021", "D:getlastmodified": lm0,
		} {
			if got, _ := prop(rsp, name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
	}
	if e, _ := s.ETag("/t.txt"); e != etag0 {
		t.Errorf("PROPPATCH changed the ETag %s → %s", etag0, e)
	}
	// Live properties cannot be set; nothing is stored then (all or none).
	r = do(t, "PROPPATCH", u, []byte(`<D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop><D:getetag>x</D:getetag><x:a>1</x:a></D:prop></D:set></D:propertyupdate>`))
	wantStatus(t, r, 207, "PROPPATCH protected")
	if !bytes.Contains(r.body, []byte("403 Forbidden")) || !bytes.Contains(r.body, []byte("424 Failed Dependency")) {
		t.Errorf("protected PROPPATCH: %s", r.body)
	}
}

func TestLockUnlock(t *testing.T) {
	s := start(t, nil)
	u := s.LibraryURL() + "/l.txt"
	s.WriteFile("/l.txt", []byte("l"))
	lockBody := []byte(`<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>`)
	r := do(t, "LOCK", u, lockBody, "Timeout", "Second-600", "Depth", "0")
	wantStatus(t, r, 200, "LOCK")
	tok := r.header.Get("Lock-Token")
	if !strings.HasPrefix(tok, "<opaquelocktoken:") || !bytes.Contains(r.body, []byte("<D:exclusive/>")) {
		t.Fatalf("LOCK token %q body %s", tok, r.body)
	}
	wantStatus(t, do(t, "LOCK", u, lockBody), 423, "second LOCK")
	wantStatus(t, do(t, "PUT", u, []byte("x")), 423, "PUT without the token")
	wantStatus(t, do(t, "DELETE", u, nil), 423, "DELETE without the token")
	wantStatus(t, do(t, "PUT", u, []byte("x"), "If", "("+tok+")"), 204, "PUT with the token")
	shared := bytes.Replace(lockBody, []byte("exclusive"), []byte("shared"), 1)
	wantStatus(t, do(t, "LOCK", s.LibraryURL()+"/other.txt", shared), 412, "shared LOCK")
	wantStatus(t, do(t, "UNLOCK", u, nil, "Lock-Token", "<opaquelocktoken:nope>"), 409, "UNLOCK wrong token")
	wantStatus(t, do(t, "UNLOCK", u, nil, "Lock-Token", tok), 204, "UNLOCK")
	wantStatus(t, do(t, "PUT", u, []byte("y")), 204, "PUT after UNLOCK")
}

func TestCaseInsensitiveNames(t *testing.T) {
	s := start(t, nil)
	lib := s.LibraryURL()
	wantStatus(t, do(t, "PUT", lib+"/B.TXT", []byte("upper")), 201, "PUT B.TXT")
	wantStatus(t, do(t, "PUT", lib+"/b.txt", []byte("lower")), 204, "PUT b.txt replaces B.TXT")
	ents, _ := os.ReadDir(s.Root())
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "B.TXT,_vti_pvt" {
		t.Errorf("disk holds %v, want B.TXT and _vti_pvt", names)
	}
	if r := do(t, "GET", lib+"/b.Txt", nil); r.status != 200 || string(r.body) != "lower" {
		t.Errorf("GET b.Txt: %d %q", r.status, r.body)
	}
	wantStatus(t, do(t, "MKCOL", lib+"/Dir", nil), 201, "MKCOL Dir")
	wantStatus(t, do(t, "MKCOL", lib+"/DIR", nil), 405, "MKCOL DIR")
	wantStatus(t, do(t, "PUT", lib+"/dir/x.txt", []byte("x")), 201, "PUT into dir")
	if _, err := os.Stat(filepath.Join(s.Root(), "Dir", "x.txt")); err != nil {
		t.Errorf("file not in Dir: %v", err)
	}
	// spemu's own state is invisible and unreachable.
	_, doc := propfind(t, lib, "1", "")
	for h := range responses(doc) {
		if strings.Contains(strings.ToLower(h), "_vti_") {
			t.Errorf("listing shows %s", h)
		}
	}
	wantStatus(t, do(t, "GET", lib+"/_vti_pvt/meta.json", nil), 400, "GET _vti_pvt")
}

func TestNamesAndLimits(t *testing.T) {
	s := start(t, func(c *spemu.Config) { c.PutLimit = 1000 })
	lib := s.LibraryURL()
	for _, name := range []string{"a%3Ab.txt", "a%2Ab", "q%3F", "p%7Cipe", "%22q%22", "lt%3C", "CON", "lpt1", "desktop.ini", "~%24doc.docx", "x_vti_y", ".lock", "%20lead", "trail%20", "dot."} {
		r := do(t, "PUT", lib+"/"+name, []byte("x"))
		if r.status != 400 || !strings.HasPrefix(r.header.Get("X-MSDAVEXT_Error"), "131089; ") {
			t.Errorf("PUT %s: %d X-MSDAVEXT_Error %q, want 400 with the header", name, r.status, r.header.Get("X-MSDAVEXT_Error"))
		}
	}
	wantStatus(t, do(t, "MKCOL", lib+"/forms", nil), 400, "MKCOL forms at the library root")
	wantStatus(t, do(t, "MKCOL", lib+"/~tilde", nil), 400, "MKCOL ~folder")
	wantStatus(t, do(t, "PUT", lib+"/ok%23%25.txt", []byte("x")), 201, "# and % are allowed")
	// The decoded server-relative path may have 400 characters, not 401.
	dir := strings.Repeat("d", 200)
	wantStatus(t, do(t, "MKCOL", lib+"/"+dir, nil), 201, "MKCOL 200-character name")
	prefix := len("/personal/alice_contoso_com/Documents/" + dir + "/")
	long := dir + "/" + strings.Repeat("a", 400-prefix)
	wantStatus(t, do(t, "PUT", lib+"/"+long, []byte("x")), 201, "PUT at 400 characters")
	r := do(t, "PUT", lib+"/"+long+"b", []byte("x"))
	if r.status != 400 || !strings.HasPrefix(r.header.Get("X-MSDAVEXT_Error"), "131113; ") {
		t.Errorf("PUT at 401 characters: %d %q", r.status, r.header.Get("X-MSDAVEXT_Error"))
	}
	// PUT limit: by Content-Length, and for a chunked body past the limit.
	wantStatus(t, do(t, "PUT", lib+"/big", make([]byte, 1001)), 413, "PUT over the limit")
	wantStatus(t, do(t, "PUT", lib+"/fits", make([]byte, 1000)), 201, "PUT at the limit")
	pr, pw := io.Pipe()
	go func() {
		pw.Write(make([]byte, 3000))
		pw.Close()
	}()
	req, _ := http.NewRequest("PUT", lib+"/chunked", pr)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Errorf("chunked PUT over the limit: %d", res.StatusCode)
	}
	for _, p := range []string{"/big", "/chunked"} {
		if _, err := s.ReadFile(p); err == nil {
			t.Errorf("%s was stored", p)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "_vti_pvt", "tmp")); len(ents) != 0 {
		t.Errorf("upload temp files left: %d", len(ents))
	}
}

func TestCookieAuth(t *testing.T) {
	s := spemutest.Start(t, spemu.Config{Auth: "cookie"})
	lib := s.LibraryURL()
	r := do(t, "PROPFIND", lib, nil, "Depth", "0")
	wantStatus(t, r, 403, "PROPFIND without cookie")
	if !strings.HasPrefix(r.header.Get("X-MSDAVEXT_Error"), "917656; Access+denied.+Before+opening+files") {
		t.Errorf("X-MSDAVEXT_Error %q", r.header.Get("X-MSDAVEXT_Error"))
	}
	if !strings.Contains(r.header.Get("X-Forms_Based_Auth_Required"), "/_forms/default.aspx?ReturnUrl=") ||
		!strings.HasSuffix(r.header.Get("X-Forms_Based_Auth_Return_Url"), "/_layouts/15/error.aspx") ||
		!strings.HasPrefix(r.header.Get("X-IDCRL_AUTH_PARAMS_V1"), `IDCRL Type="BPOSIDCRL"`) {
		t.Errorf("forms-auth headers: %v", r.header)
	}
	// A browser is redirected to the login page.
	r = do(t, "GET", lib+"/x", nil, "User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
	if r.status != 302 || !strings.Contains(r.header.Get("Location"), "/_forms/default.aspx") {
		t.Errorf("browser: %d Location %q", r.status, r.header.Get("Location"))
	}
	cookie, err := s.IssueSessionCookie()
	if err != nil || !strings.HasPrefix(cookie, "FedAuth=77u/PD94bWwg") || !strings.Contains(cookie, "; rtFa=") {
		t.Fatalf("IssueSessionCookie %q %v", cookie, err)
	}
	wantStatus(t, do(t, "PROPFIND", lib, nil, "Depth", "0", "Cookie", cookie), 207, "PROPFIND with cookie")
	rtfa := cookie[strings.Index(cookie, "rtFa="):]
	wantStatus(t, do(t, "PROPFIND", lib, nil, "Depth", "0", "Cookie", rtfa), 403, "rtFa alone")
	s.ExpireSessions()
	wantStatus(t, do(t, "PROPFIND", lib, nil, "Depth", "0", "Cookie", cookie), 403, "after ExpireSessions")
	for _, rec := range s.Requests() {
		line, _ := json.Marshal(rec)
		if strings.Contains(string(line), cookie[8:40]) {
			t.Errorf("request log holds the cookie: %s", line)
		}
	}
	recs := s.Requests()
	if recs[0].Auth != "denied" || recs[2].Auth != "cookie" {
		t.Errorf("auth kinds %q %q", recs[0].Auth, recs[2].Auth)
	}

	// TTL: a cookie stops working once it is older than CookieTTL.
	s2 := spemutest.Start(t, spemu.Config{Auth: "cookie", CookieTTL: 50 * time.Millisecond})
	c2, _ := s2.IssueSessionCookie()
	time.Sleep(100 * time.Millisecond)
	wantStatus(t, do(t, "PROPFIND", s2.LibraryURL(), nil, "Depth", "0", "Cookie", c2), 403, "expired cookie")

	// No cookie to give in the other modes.
	s3 := start(t, nil)
	if _, err := s3.IssueSessionCookie(); err != spemu.ErrNoCookie {
		t.Errorf("IssueSessionCookie with auth none: %v", err)
	}
}

func TestBasicAuth(t *testing.T) {
	s := spemutest.Start(t, spemu.Config{Auth: "basic", Password: "s3cret"})
	u := s.LibraryURL()
	r := do(t, "PROPFIND", u, nil, "Depth", "0")
	wantStatus(t, r, 401, "no credentials")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("PROPFIND", u, nil)
	req.Header.Set("Depth", "0")
	req.SetBasicAuth("alice@contoso.com", "s3cret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 207 {
		t.Errorf("with credentials: %d", res.StatusCode)
	}
	req.SetBasicAuth("alice@contoso.com", "wrong")
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("wrong password: %d", res.StatusCode)
	}
}

func TestUpperCaseReasonPhrases(t *testing.T) {
	s := start(t, nil)
	s.WriteFile("/r.txt", []byte("r"))
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	host := strings.TrimPrefix(s.URL(), "http://")
	for _, c := range []struct{ req, want string }{
		{"PROPFIND /personal/alice_contoso_com/Documents HTTP/1.1\r\nHost: " + host + "\r\nDepth: 0\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 207 MULTI-STATUS"},
		{"PUT /personal/alice_contoso_com/Documents/n.txt HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 1\r\n\r\nx", "HTTP/1.1 201 CREATED"},
		{"GET /personal/alice_contoso_com/Documents/missing HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "HTTP/1.1 404 NOT FOUND"},
		{"GET /personal/alice_contoso_com/Documents/r.txt HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "HTTP/1.1 200 OK"},
	} {
		if _, err := io.WriteString(conn, c.req); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if got := res.Proto + " " + res.Status; got != c.want {
			t.Errorf("status line %q, want %q", got, c.want)
		}
	}
}

func TestRestartKeepsETagsAndSeesDiskChanges(t *testing.T) {
	root := t.TempDir()
	s1, err := spemu.New(spemu.Config{Auth: "none", Root: root})
	if err != nil {
		t.Fatal(err)
	}
	s1.WriteFile("/keep.txt", []byte("same"))
	s1.WriteFile("/change.txt", []byte("before"))
	s1.WriteFile("/change.txt", []byte("before2"))
	keep, _ := s1.ETag("/keep.txt")
	change, _ := s1.ETag("/change.txt")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	// Changed on disk while spemu was stopped (size and mtime differ).
	if err := os.WriteFile(filepath.Join(root, "change.txt"), []byte("changed on disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := spemutest.Start(t, spemu.Config{Auth: "none", Root: root})
	if e, _ := s2.ETag("/keep.txt"); e != keep {
		t.Errorf("keep.txt ETag %s after restart, want %s", e, keep)
	}
	e, _ := s2.ETag("/change.txt")
	if e[:39] != change[:39] || !strings.HasSuffix(e, ",3\"") || change == e {
		t.Errorf("change.txt ETag %s after a disk change, was %s: want the same GUID and version 3", e, change)
	}
}

func TestOfficeMutation(t *testing.T) {
	s := start(t, func(c *spemu.Config) { c.OfficeMutation = true })
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, _ := zw.Create("word/document.xml")
	f.Write([]byte("<w:document/>"))
	zw.Close()
	r := do(t, "PUT", s.LibraryURL()+"/doc.docx", buf.Bytes())
	wantStatus(t, r, 201, "PUT docx")
	put := r.header.Get("ETag")
	now, _ := s.ETag("/doc.docx")
	data, _ := s.ReadFile("/doc.docx")
	if now == put || len(data) <= buf.Len() {
		t.Errorf("docx not mutated: PUT ETag %s now %s, size %d → %d", put, now, buf.Len(), len(data))
	}
	if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
		t.Errorf("mutated docx is no longer a zip: %v", err)
	}
	r = do(t, "PUT", s.LibraryURL()+"/plain.txt", []byte("t"))
	if e, _ := s.ETag("/plain.txt"); e != r.header.Get("ETag") {
		t.Errorf("a .txt was mutated")
	}
}

func TestRequestLogJSON(t *testing.T) {
	var buf testenv.Buffer
	s := start(t, func(c *spemu.Config) { c.RequestLog = &buf })
	do(t, "PUT", s.LibraryURL()+"/q%20x.txt?foo=bar", []byte("abc"))
	do(t, "PROPFIND", s.LibraryURL(), nil, "Depth", "1")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines: %q", len(lines), buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "method", "path", "query", "status", "req_bytes", "resp_bytes", "dur_ms", "fault"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %s missing in %s", k, lines[0])
		}
	}
	if m["path"] != "/personal/alice_contoso_com/Documents/q x.txt" || m["query"] != "foo=bar" || m["req_bytes"] != float64(3) {
		t.Errorf("record %s", lines[0])
	}
	if _, err := time.Parse(time.RFC3339, m["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
	if !strings.Contains(lines[1], `"depth":"1"`) {
		t.Errorf("PROPFIND record %s", lines[1])
	}
	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d records after ResetRequests", n)
	}
}

func TestRequestLogRing(t *testing.T) {
	s := start(t, func(c *spemu.Config) { c.RequestLogLimit = 3 })
	for i := 0; i < 5; i++ {
		do(t, "GET", fmt.Sprintf("%s/n%d", s.LibraryURL(), i), nil)
	}
	recs := s.Requests()
	if len(recs) != 3 || !strings.HasSuffix(recs[0].Path, "/n2") || !strings.HasSuffix(recs[2].Path, "/n4") {
		t.Errorf("ring holds %+v", recs)
	}
}

// The [unc] "a property change is a new version" reading, behind its
// switch: a PROPPATCH of a file moves its ETag on, so an If-Match with the
// ETag the PUT answered fails; folders keep theirs. Default: unchanged
// (TestProppatchWin32Times).
func TestProppatchBumpsETagSwitch(t *testing.T) {
	s := start(t, func(c *spemu.Config) { c.ProppatchBumpsETag = true })
	u := s.LibraryURL() + "/t.txt"
	r := do(t, "PUT", u, []byte("t"))
	wantStatus(t, r, 201, "PUT")
	put := r.header.Get("ETag")
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Wed, 03 Jan 2001 10:00:00 GMT</Z:Win32LastModifiedTime></D:prop></D:set></D:propertyupdate>`)
	wantStatus(t, do(t, "PROPPATCH", u, body), 207, "PROPPATCH")
	if now, _ := s.ETag("/t.txt"); now == put {
		t.Fatalf("ETag %s unchanged by PROPPATCH with ProppatchBumpsETag", now)
	}
	wantStatus(t, do(t, "PUT", u, []byte("u"), "If-Match", put), 412, "PUT with the pre-PROPPATCH ETag")
	wantStatus(t, do(t, "MKCOL", s.LibraryURL()+"/d", nil), 201, "MKCOL")
	before, _ := s.ETag("/d")
	wantStatus(t, do(t, "PROPPATCH", s.LibraryURL()+"/d", body), 207, "PROPPATCH of a folder")
	if after, _ := s.ETag("/d"); after != before {
		t.Errorf("folder ETag moved %s -> %s", before, after)
	}
}
