package spemu_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/spemu"
)

// restHarness drives spemu's REST endpoints with raw HTTP.
type restHarness struct {
	t      *testing.T
	srv    *spemu.Server
	base   string // http://host
	site   string // /personal/alice_contoso_com
	lib    string // site + /Documents
	cookie string
}

func startREST(t *testing.T) *restHarness {
	t.Helper()
	srv, err := spemu.New(spemu.Config{Root: t.TempDir(), Auth: "cookie"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	ck, err := srv.IssueSessionCookie()
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Config()
	return &restHarness{t: t, srv: srv, base: hs.URL, site: c.Site, lib: c.Site + "/" + c.Library, cookie: ck}
}

type restResp struct {
	status int
	hdr    http.Header
	body   []byte
	json   map[string]any
}

// post sends POST <site>/_api/<fn> (fn unencoded; it is percent-encoded
// here like a client does) with accept and digest.
func (h *restHarness) post(fn, accept, digest string, body io.Reader, n int64) restResp {
	h.t.Helper()
	u := h.base + h.site + "/_api/" + encodeREST(fn)
	req, _ := http.NewRequest(http.MethodPost, u, body)
	if body == nil {
		req.Body = http.NoBody
	}
	req.ContentLength = n
	req.Header.Set("Cookie", h.cookie)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if digest != "" {
		req.Header.Set("X-RequestDigest", digest)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("POST %s: %v", fn, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := restResp{status: resp.StatusCode, hdr: resp.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r
}

func encodeREST(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/'(),=:", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

const verboseJSON = "application/json;odata=verbose"
const nometaJSON = "application/json;odata=nometadata"

var digestRE = regexp.MustCompile(`^0x[0-9A-F]{128},\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d -0000$`)

func (h *restHarness) digest() string {
	h.t.Helper()
	r := h.post("contextinfo", verboseJSON, "", nil, 0)
	if r.status != 200 {
		h.t.Fatalf("contextinfo: %d %s", r.status, r.body)
	}
	info := r.json["d"].(map[string]any)["GetContextWebInformation"].(map[string]any)
	return info["FormDigestValue"].(string)
}

func errCode(r restResp) (key, code, msg string) {
	for _, k := range []string{"error", "odata.error"} {
		if e, ok := r.json[k].(map[string]any); ok {
			m, _ := e["message"].(map[string]any)
			v, _ := m["value"].(string)
			c, _ := e["code"].(string)
			return k, c, v
		}
	}
	return "", "", ""
}

func TestRESTContextInfoShapes(t *testing.T) {
	h := startREST(t)
	r := h.post("contextinfo", verboseJSON, "", nil, 0)
	info, _ := r.json["d"].(map[string]any)["GetContextWebInformation"].(map[string]any)
	if r.status != 200 || info == nil || !digestRE.MatchString(info["FormDigestValue"].(string)) || info["FormDigestTimeoutSeconds"].(float64) != 1800 {
		t.Fatalf("verbose contextinfo: %d %s", r.status, r.body)
	}
	if !strings.HasPrefix(r.hdr.Get("Content-Type"), "application/json;odata=verbose") {
		t.Errorf("Content-Type %q", r.hdr.Get("Content-Type"))
	}
	r = h.post("contextinfo", nometaJSON, "", nil, 0)
	if r.status != 200 || !digestRE.MatchString(r.json["FormDigestValue"].(string)) || r.json["d"] != nil {
		t.Fatalf("nometadata contextinfo: %d %s", r.status, r.body)
	}
	h.srv.SetFormDigestTimeout(90 * time.Second)
	r = h.post("contextinfo", nometaJSON, "", nil, 0)
	if r.json["FormDigestTimeoutSeconds"].(float64) != 90 {
		t.Fatalf("timeout not applied: %s", r.body)
	}
	// Without a cookie: SharePoint's 403 with the forms-auth headers.
	resp, err := http.Post(h.base+h.site+"/_api/contextinfo", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("X-MSDAVEXT_Error"), "917656") {
		t.Fatalf("unauthenticated contextinfo: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestRESTDigestEnforced(t *testing.T) {
	h := startREST(t)
	fn := "web/GetFolderByServerRelativePath(decodedurl=" + lit(h.lib) + ")/Files/AddUsingPath(decodedurl='a.txt',overwrite=false)"
	for _, tc := range []struct{ accept, key string }{{verboseJSON, "error"}, {nometaJSON, "odata.error"}} {
		r := h.post(fn, tc.accept, "", nil, 0)
		key, code, msg := errCode(r)
		if r.status != 403 || key != tc.key || !strings.HasPrefix(code, "-2130575251") || !strings.Contains(msg, "security validation") {
			t.Fatalf("no digest (%s): %d %s", tc.accept, r.status, r.body)
		}
	}
	d := h.digest()
	if r := h.post(fn, verboseJSON, "0xBAD,01 Jan 2026 00:00:00 -0000", nil, 0); r.status != 403 {
		t.Fatalf("unknown digest: %d", r.status)
	}
	if r := h.post(fn, verboseJSON, d, nil, 0); r.status != 200 {
		t.Fatalf("with digest: %d %s", r.status, r.body)
	}
	h.srv.ExpireFormDigests()
	if r := h.post(fn, verboseJSON, d, nil, 0); r.status != 403 {
		t.Fatalf("expired digest accepted: %d", r.status)
	}
}

func TestRESTAddFile(t *testing.T) {
	h := startREST(t)
	d := h.digest()
	name := "O'Brien #1 100%.txt"
	add := func(overwrite bool, body string) restResp {
		fn := fmt.Sprintf("web/GetFolderByServerRelativePath(decodedurl=%s)/Files/AddUsingPath(decodedurl=%s,overwrite=%v)", lit(h.lib), lit(name), overwrite)
		return h.post(fn, verboseJSON, d, strings.NewReader(body), int64(len(body)))
	}
	r := add(false, "")
	f, _ := r.json["d"].(map[string]any)
	if r.status != 200 || f["Name"] != name || f["Length"] != "0" || f["ServerRelativeUrl"] != h.lib+"/"+name {
		t.Fatalf("AddUsingPath: %d %s", r.status, r.body)
	}
	etag, _ := h.srv.ETag("/" + name)
	if f["ETag"] != etag {
		t.Fatalf("SP.File ETag %v, server %s", f["ETag"], etag)
	}
	r = add(false, "x")
	if _, code, _ := errCode(r); r.status != 400 || !strings.HasPrefix(code, "-2130575257") {
		t.Fatalf("overwrite=false on an existing file: %d %s", r.status, r.body)
	}
	if r = add(true, "new content"); r.status != 200 {
		t.Fatalf("overwrite=true: %d %s", r.status, r.body)
	}
	if b, _ := h.srv.ReadFile("/" + name); string(b) != "new content" {
		t.Fatalf("content %q", b)
	}
	// Legacy Files/add: the url is taken as already percent-encoded.
	fn := "web/GetFolderByServerRelativeUrl(" + lit(h.lib) + ")/Files/add(url='a%20b.txt',overwrite=true)"
	if r = h.post(fn, nometaJSON, d, strings.NewReader("ab"), 2); r.status != 200 || r.json["Name"] != "a b.txt" {
		t.Fatalf("Files/add: %d %s", r.status, r.body)
	}
	fn = "web/GetFolderByServerRelativePath(decodedurl=" + lit(h.lib+"/missing") + ")/Files/AddUsingPath(decodedurl='x',overwrite=true)"
	if r = h.post(fn, verboseJSON, d, nil, 0); r.status != 404 {
		t.Fatalf("missing folder: %d", r.status)
	}
	fn = "web/GetFolderByServerRelativePath(decodedurl='/elsewhere')/Files/AddUsingPath(decodedurl='x',overwrite=true)"
	if r = h.post(fn, verboseJSON, d, nil, 0); r.status != 400 {
		t.Fatalf("folder outside the library: %d", r.status)
	}
}

func TestRESTChunkedUpload(t *testing.T) {
	h := startREST(t)
	d := h.digest()
	const id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	p := "/dir #%/big 'x'.bin"
	if err := h.srv.Mkdir("/dir #%"); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.WriteFile(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	file := "web/GetFileByServerRelativePath(decodedurl=" + lit(h.lib+p) + ")"
	call := func(op, args, accept string, body []byte) restResp {
		return h.post(file+"/"+op+"(uploadId=guid'"+id+"'"+args+")", accept, d, bytes.NewReader(body), int64(len(body)))
	}
	r := call("StartUpload", "", verboseJSON, []byte("01234"))
	if r.status != 200 || r.json["d"].(map[string]any)["StartUpload"] != "5" {
		t.Fatalf("StartUpload: %d %s", r.status, r.body)
	}
	r = call("ContinueUpload", ",fileOffset=5", nometaJSON, []byte("56789"))
	if r.status != 200 || r.json["value"] != "10" {
		t.Fatalf("ContinueUpload: %d %s", r.status, r.body)
	}
	r = call("ContinueUpload", ",fileOffset=7", verboseJSON, []byte("xx"))
	if _, code, msg := errCode(r); r.status != 400 || !strings.Contains(code, "ArgumentException") || !strings.Contains(msg, "10") {
		t.Fatalf("wrong offset: %d %s", r.status, r.body)
	}
	if b, _ := h.srv.ReadFile(p); string(b) != "old" {
		t.Fatalf("content changed before FinishUpload: %q", b)
	}
	r = call("GetUploadStatus", "", nometaJSON, nil)
	if r.status != 200 || r.json["ExpectedContentRange"] != "10-" {
		t.Fatalf("GetUploadStatus: %d %s", r.status, r.body)
	}
	// The legacy Url API addresses the same file (no % or # in this name).
	r = call("FinishUpload", ",fileOffset=10", verboseJSON, []byte("abc"))
	f, _ := r.json["d"].(map[string]any)
	etag, _ := h.srv.ETag(p)
	if r.status != 200 || f["Length"] != "13" || f["ETag"] != etag {
		t.Fatalf("FinishUpload: %d %s (server etag %s)", r.status, r.body, etag)
	}
	if b, _ := h.srv.ReadFile(p); string(b) != "0123456789abc" {
		t.Fatalf("content %q", b)
	}
	if r = call("ContinueUpload", ",fileOffset=13", verboseJSON, []byte("z")); r.status != 404 {
		t.Fatalf("finished session still accepts chunks: %d", r.status)
	}
	if h.srv.UploadSessions() != 0 {
		t.Fatal("session left after finish")
	}
	// Expiry and cancel.
	if r = call("StartUpload", "", verboseJSON, []byte("a")); r.status != 200 {
		t.Fatal(r.status)
	}
	h.srv.ExpireUploadSessions()
	if r = call("ContinueUpload", ",fileOffset=1", verboseJSON, []byte("b")); r.status != 404 {
		t.Fatalf("expired session: %d", r.status)
	}
	h.srv.SetUploadSessionTimeout(time.Millisecond)
	call("StartUpload", "", verboseJSON, []byte("a"))
	time.Sleep(5 * time.Millisecond)
	if r = call("ContinueUpload", ",fileOffset=1", verboseJSON, []byte("b")); r.status != 404 {
		t.Fatalf("timed-out session: %d", r.status)
	}
	h.srv.SetUploadSessionTimeout(time.Hour)
	call("StartUpload", "", verboseJSON, []byte("a"))
	if r = call("CancelUpload", "", verboseJSON, nil); r.status != 200 {
		t.Fatalf("CancelUpload: %d", r.status)
	}
	if r = call("CancelUpload", "", verboseJSON, nil); r.status != 404 {
		t.Fatalf("second CancelUpload: %d", r.status)
	}
	if b, _ := h.srv.ReadFile(p); string(b) != "0123456789abc" {
		t.Fatalf("cancelled sessions changed the file: %q", b)
	}
	// StartUpload on a missing file.
	miss := "web/GetFileByServerRelativeUrl(" + lit(h.lib+"/nope.bin") + ")/StartUpload(uploadId=guid'" + id + "')"
	if r = h.post(miss, verboseJSON, d, strings.NewReader("a"), 1); r.status != 404 {
		t.Fatalf("StartUpload on a missing file: %d", r.status)
	}
}

func TestRESTSequentialAndCap(t *testing.T) {
	h := startREST(t)
	d := h.digest()
	const id = "16fd2706-8baf-433b-82eb-8c7fada847da"
	if err := h.srv.WriteFile("/f.bin", nil); err != nil {
		t.Fatal(err)
	}
	file := "web/GetFileByServerRelativePath(decodedurl=" + lit(h.lib+"/f.bin") + ")"
	if r := h.post(file+"/StartUpload(uploadId=guid'"+id+"')", verboseJSON, d, strings.NewReader("abc"), 3); r.status != 200 {
		t.Fatal(r.status)
	}
	// A chunk that is still arriving holds the session.
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var first restResp
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = h.post(file+"/ContinueUpload(uploadId=guid'"+id+"',fileOffset=3)", verboseJSON, d, pr, 6)
	}()
	pw.Write([]byte("def"))
	busy := false
	for i := 0; i < 500 && !busy; i++ {
		// A wrong offset never changes the session: 400 while it is idle,
		// 409 once the first chunk holds it.
		r := h.post(file+"/ContinueUpload(uploadId=guid'"+id+"',fileOffset=99)", verboseJSON, d, strings.NewReader("z"), 1)
		switch r.status {
		case 409:
			busy = true
		case 400:
			time.Sleep(2 * time.Millisecond)
		default:
			t.Fatalf("concurrent chunk: %d %s", r.status, r.body)
		}
	}
	pw.Write([]byte("ghi"))
	pw.Close()
	wg.Wait()
	if !busy {
		t.Fatal("a second chunk was never refused while the first was in flight")
	}
	if first.status != 200 || first.json["d"].(map[string]any)["ContinueUpload"] != "9" {
		t.Fatalf("first chunk: %d %s", first.status, first.body)
	}
	// The per-request cap, announced by Content-Length.
	r := h.post(file+"/ContinueUpload(uploadId=guid'"+id+"',fileOffset=9)", verboseJSON, d, io.LimitReader(zeros{}, spemu.MaxRESTRequest+1), spemu.MaxRESTRequest+1)
	if _, code, msg := errCode(r); r.status != 400 || !strings.Contains(code, "InvalidClientQueryException") || !strings.Contains(msg, "The request message is too big") {
		t.Fatalf("over the cap: %d %s", r.status, r.body)
	}
	r = h.post(file+"/GetUploadStatus(uploadId=guid'"+id+"')", verboseJSON, d, nil, 0)
	if st := r.json["d"].(map[string]any)["GetUploadStatus"].(map[string]any); st["ExpectedContentRange"] != "9-" {
		t.Fatalf("status after a refused chunk: %s", r.body)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

var _ = url.PathEscape

// While a chunked upload session is open SharePoint locks the file
// (sharepoint-protocol.md §4: "the upload holds a lock"): WebDAV writes to
// it get 423 until the session ends. spemu let them through, so a client
// that renamed, deleted or overwrote a file in the middle of its own
// chunked upload passed every test and would fail only on SharePoint.
func TestRESTUploadSessionLocksTheFile(t *testing.T) {
	h := startREST(t)
	d := h.digest()
	const id = "16fd2706-8baf-433b-82eb-8c7fada847da"
	if err := h.srv.Mkdir("/dir"); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.WriteFile("/dir/f.bin", []byte("old")); err != nil {
		t.Fatal(err)
	}
	file := "web/GetFileByServerRelativePath(decodedurl=" + lit(h.lib+"/dir/f.bin") + ")"
	call := func(op, args string, body []byte) restResp {
		return h.post(file+"/"+op+"(uploadId=guid'"+id+"'"+args+")", nometaJSON, d, bytes.NewReader(body), int64(len(body)))
	}
	dav := func(method, p string, body []byte, hdr ...string) int {
		t.Helper()
		req, _ := http.NewRequest(method, h.base+h.lib+p, bytes.NewReader(body))
		req.Header.Set("Cookie", h.cookie)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if r := call("StartUpload", "", []byte("new")); r.status != 200 {
		t.Fatalf("StartUpload: %d %s", r.status, r.body)
	}
	if err := h.srv.WriteFile("/other.bin", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what, method, path string
		hdr                []string
	}{
		{"PUT over it", "PUT", "/dir/f.bin", nil},
		{"DELETE it", "DELETE", "/dir/f.bin", nil},
		{"DELETE its folder", "DELETE", "/dir", nil},
		{"MOVE it", "MOVE", "/dir/f.bin", []string{"Destination", h.base + h.lib + "/g.bin"}},
		{"MOVE onto it", "MOVE", "/other.bin", []string{"Destination", h.base + h.lib + "/dir/f.bin", "Overwrite", "T"}},
	} {
		if st := dav(tc.method, tc.path, []byte("x"), tc.hdr...); st != http.StatusLocked {
			t.Errorf("%s during an upload session: %d, want 423", tc.what, st)
		}
	}
	if b, _ := h.srv.ReadFile("/dir/f.bin"); string(b) != "old" {
		t.Fatalf("the file changed during the session: %q", b)
	}
	// Reads are not locked.
	if st := dav("GET", "/dir/f.bin", nil); st != 200 {
		t.Errorf("GET during an upload session: %d", st)
	}
	// Nor can a second session start on the file.
	other := h.post(file+"/StartUpload(uploadId=guid'a8098c1a-f86e-11da-bd1a-00112444be1e')", nometaJSON, d, bytes.NewReader([]byte("zz")), 2)
	if _, code, _ := errCode(other); other.status != http.StatusLocked || !strings.Contains(code, "SPFileLockException") {
		t.Errorf("StartUpload with another id during a session: %d %s, want 423 SPFileLockException", other.status, other.body)
	}
	if r := call("FinishUpload", ",fileOffset=3", nil); r.status != 200 {
		t.Fatalf("FinishUpload: %d %s", r.status, r.body)
	}
	if st := dav("PUT", "/dir/f.bin", []byte("after")); st != 204 {
		t.Errorf("PUT after FinishUpload: %d, want 204", st)
	}
	// CancelUpload ends the lock as well.
	if r := call("StartUpload", "", []byte("abc")); r.status != 200 {
		t.Fatalf("StartUpload: %d %s", r.status, r.body)
	}
	if r := call("CancelUpload", "", nil); r.status != 200 {
		t.Fatalf("CancelUpload: %d %s", r.status, r.body)
	}
	if st := dav("DELETE", "/dir/f.bin", nil); st != 204 {
		t.Errorf("DELETE after CancelUpload: %d, want 204", st)
	}
}
