package davclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

func init() {
	captureTargets["spemu"] = func(t *testing.T) (target, bool) {
		srv, tg := startSpemu(t, spemu.Config{})
		_ = srv
		return tg, true
	}
}

// startSpemu starts an in-process spemu with cookie auth and returns it
// with a suite target that uses a fresh session cookie.
func startSpemu(t *testing.T, cfg spemu.Config) (*spemu.Server, target) {
	t.Helper()
	if cfg.Auth == "" {
		cfg.Auth = "cookie"
	}
	srv, libURL := startSpemuServer(t, cfg)
	tg := target{name: "spemu", url: libURL, rest: true, srv: srv,
		read: func(p string) ([]byte, error) { return srv.ReadFile(p) }}
	if cfg.Auth == "cookie" {
		ck, err := srv.IssueSessionCookie()
		mustOK(t, err)
		tg.auth, err = auth.StaticCookies(ck)
		mustOK(t, err)
	}
	return srv, tg
}

// startSpemuServer runs spemu on a loopback port (with SharePoint's
// upper-case reason phrases) and returns the library URL.
func startSpemuServer(t *testing.T, cfg spemu.Config) (*spemu.Server, string) {
	t.Helper()
	srv := spemutest.Start(t, cfg)
	return srv, srv.LibraryURL()
}

func TestVerbsSpemu(t *testing.T) {
	_, tg := startSpemu(t, spemu.Config{})
	runVerbSuite(t, tg)
}

// countRequests counts spemu's records matching method and a path suffix.
func countRequests(srv *spemu.Server, method, pathSuffix string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && strings.HasSuffix(strings.ToLower(r.Path), strings.ToLower(pathSuffix)) {
			n++
		}
	}
	return n
}

func countREST(srv *spemu.Server, op string) int {
	n := 0
	for _, r := range srv.Requests() {
		if strings.Contains(r.Path, "/_api/") && strings.Contains(r.Path, "/"+op+"(") {
			n++
		}
	}
	return n
}

// upload sends data in chunks of size n through the ChunkedUploader.
func upload(t *testing.T, c *Client, p, id string, data []byte, n int) string {
	t.Helper()
	ctx := context.Background()
	first := min(n, len(data))
	off, err := c.StartUpload(ctx, p, id, bytes.NewReader(data[:first]), int64(first))
	mustOK(t, err)
	for int(off)+n < len(data) {
		off, err = c.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:int(off)+n]), int64(n))
		mustOK(t, err)
	}
	etag, err := c.FinishUpload(ctx, p, id, off, bytes.NewReader(data[off:]), int64(len(data))-off)
	mustOK(t, err)
	return etag
}

// runChunkedSuite checks the REST upload against spemu.
func runChunkedSuite(t *testing.T, c *Client, tg target, dir string) {
	srv := tg.srv
	ctx := context.Background()
	data := randBytes(11, 1_000_000)
	ids := []string{"7c9e6679-7425-40de-944b-e07fc1f90ae7", "16fd2706-8baf-433b-82eb-8c7fada847da", "886313e1-3b8a-5372-9b90-0c9aee199e5d", "a8098c1a-f86e-11da-bd1a-00112444be1e"}

	t.Run("NewFile", func(t *testing.T) {
		p := dir + "/new #%' file.bin"
		etag := upload(t, c, p, ids[0], data, 300_000)
		got, err := srv.ReadFile(p)
		mustOK(t, err)
		if !bytes.Equal(got, data) {
			t.Fatalf("server holds %d bytes, not the upload", len(got))
		}
		want, _ := srv.ETag(p)
		if etag == "" || etag != want {
			t.Fatalf("FinishUpload ETag %q, server %q", etag, want)
		}
		if countREST(srv, "AddUsingPath") == 0 {
			t.Fatal("the new file was not created with AddUsingPath")
		}
	})
	t.Run("ExistingFileUnchangedUntilFinish", func(t *testing.T) {
		p := dir + "/existing.bin"
		orig := []byte("original content")
		mustOK(t, srv.WriteFile(p, orig))
		adds := countREST(srv, "AddUsingPath")
		off, err := c.StartUpload(ctx, p, ids[1], bytes.NewReader(data[:400_000]), 400_000)
		mustOK(t, err)
		if countREST(srv, "AddUsingPath") != adds {
			t.Fatal("AddUsingPath was called on an existing file (it would truncate it)")
		}
		got, _ := srv.ReadFile(p)
		if !bytes.Equal(got, orig) {
			t.Fatal("the file changed before FinishUpload")
		}
		// The session expires (30-minute rule): the caller is told plainly.
		srv.ExpireUploadSessions()
		_, err = c.ContinueUpload(ctx, p, ids[1], off, bytes.NewReader(data[off:off+100]), 100)
		wantKind(t, err, remote.ErrUploadGone)
		got, _ = srv.ReadFile(p)
		if !bytes.Equal(got, orig) {
			t.Fatal("an expired session changed the file")
		}
		// Starting over with a new id works.
		upload(t, c, p, ids[2], data, 400_000)
		got, _ = srv.ReadFile(p)
		if !bytes.Equal(got, data) {
			t.Fatal("restart did not store the data")
		}
	})
	t.Run("ResumeFromSavedIDAndOffset", func(t *testing.T) {
		p := dir + "/resume.bin"
		off, err := c.StartUpload(ctx, p, ids[3], bytes.NewReader(data[:250_000]), 250_000)
		mustOK(t, err)
		off, err = c.ContinueUpload(ctx, p, ids[3], off, bytes.NewReader(data[off:500_000]), 250_000)
		mustOK(t, err)
		// A new process: a new client with only the id and the confirmed offset.
		c2 := newTestClient(t, tg)
		_, err = c2.ContinueUpload(ctx, p, ids[3], 300_000, bytes.NewReader(data[300_000:400_000]), 100_000)
		wantKind(t, err, remote.ErrUploadGone) // a wrong offset is refused, not applied
		srv.ExpireUploadSessions()
		_, err = c2.FinishUpload(ctx, p, ids[3], off, bytes.NewReader(data[off:]), int64(len(data))-off)
		wantKind(t, err, remote.ErrUploadGone)
		_, err = c2.UploadOffset(ctx, p, ids[3])
		wantKind(t, err, remote.ErrUploadGone)
		// Resume a live session from the saved id and offset.
		off, err = c.StartUpload(ctx, p, ids[3], bytes.NewReader(data[:250_000]), 250_000)
		mustOK(t, err)
		c3 := newTestClient(t, tg)
		if got, err := c3.UploadOffset(ctx, p, ids[3]); err != nil || got != off {
			t.Fatalf("UploadOffset = %d, %v; want %d", got, err, off)
		}
		// A saved offset one chunk behind the server's (the process died
		// before saving it): resending that chunk is accepted.
		next, err := c3.ContinueUpload(ctx, p, ids[3], off, bytes.NewReader(data[off:400_000]), 400_000-off)
		mustOK(t, err)
		if again, err := c3.ContinueUpload(ctx, p, ids[3], off, bytes.NewReader(data[off:400_000]), 400_000-off); err != nil || again != next {
			t.Fatalf("resending the last chunk: %d, %v", again, err)
		}
		off = next
		off, err = c3.ContinueUpload(ctx, p, ids[3], off, bytes.NewReader(data[off:700_000]), 700_000-off)
		mustOK(t, err)
		_, err = c3.FinishUpload(ctx, p, ids[3], off, bytes.NewReader(data[off:]), int64(len(data))-off)
		mustOK(t, err)
		got, _ := srv.ReadFile(p)
		if !bytes.Equal(got, data) {
			t.Fatal("resumed upload stored wrong bytes")
		}
	})
	t.Run("CancelAndDigest", func(t *testing.T) {
		p := dir + "/cancel.bin"
		id := "e7a1c9f2-1111-4222-8333-944455556666"
		infos := countRequests(srv, "POST", "/_api/contextinfo")
		_, err := c.StartUpload(ctx, p, id, bytes.NewReader(data[:10]), 10)
		mustOK(t, err)
		mustOK(t, c.CancelUpload(ctx, p, id))
		mustOK(t, c.CancelUpload(ctx, p, id)) // unknown session: not an error
		if srv.UploadSessions() != 0 {
			t.Fatal("session left after cancel")
		}
		if n := countRequests(srv, "POST", "/_api/contextinfo"); n != infos {
			t.Fatalf("%d contextinfo requests, was %d: the digest is not cached", n, infos)
		}
		// A digest the server no longer accepts is fetched again, once.
		srv.ExpireFormDigests()
		_, err = c.StartUpload(ctx, p, id, bytes.NewReader(data[:10]), 10)
		mustOK(t, err)
		mustOK(t, c.CancelUpload(ctx, p, id))
		if n := countRequests(srv, "POST", "/_api/contextinfo"); n != infos+1 {
			t.Fatalf("%d contextinfo requests after the digest expired, want %d", n, infos+1)
		}
		_, err = c.StartUpload(ctx, "/no such folder/x.bin", id, bytes.NewReader(data[:10]), 10)
		wantKind(t, err, remote.ErrConflict)
		var tooBig bigReader
		_, err = c.StartUpload(ctx, p, id, tooBig, MaxRESTRequest+1)
		wantKind(t, err, remote.ErrTooLarge)
	})
}

// bigReader is a ReaderAt that must never be read.
type bigReader struct{}

func (bigReader) ReadAt([]byte, int64) (int, error) { panic("a refused chunk was read") }

func TestSpemuRESTCapIsTooLarge(t *testing.T) {
	// The server's cap, not only the client's check: send 262,144,001
	// bytes through a client whose own check is bypassed.
	srv, tg := startSpemu(t, spemu.Config{})
	c := newTestClient(t, tg)
	mustOK(t, srv.WriteFile("/f.bin", nil))
	_, _, err := c.restPost(context.Background(), "StartUpload", "/f.bin",
		c.fileAPI("/f.bin")+"/StartUpload(uploadId=guid'7c9e6679-7425-40de-944b-e07fc1f90ae7')", zeroReader{}, MaxRESTRequest+1)
	wantKind(t, err, remote.ErrTooLarge)
	if !strings.Contains(err.Error(), "request message is too big") {
		t.Fatalf("error lacks SharePoint's text: %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}

// --- auth strategies with a cookie that expires mid-run ---

func TestAuthStaticCookiesExpireMidRun(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{})
	c := newTestClient(t, tg)
	ctx := context.Background()
	mustOK(t, c.Mkdir(ctx, "/a"))
	srv.ExpireSessions()
	srv.ResetRequests()
	err := c.Mkdir(ctx, "/b")
	wantKind(t, err, remote.ErrAuth)
	if !strings.Contains(err.Error(), "AUTH_COOKIES") {
		t.Fatalf("error does not tell what to do: %v", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests after expiry; static cookies cannot renew, so 1", n)
	}
}

func TestAuthCookieFileExpiresMidRun(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{})
	dir := t.TempDir()
	p := filepath.Join(dir, "cookies")
	ck, _ := srv.IssueSessionCookie()
	// Room for a longer cookie later (see below).
	mustOK(t, os.WriteFile(p, []byte("Cookie: "+ck+"\n#"+strings.Repeat("x", 200)+"\n"), 0o600))
	a, err := auth.CookieFile(p)
	mustOK(t, err)
	tg.auth = a
	c := newTestClient(t, tg)
	ctx := context.Background()
	mustOK(t, c.Mkdir(ctx, "/a"))
	fi, _ := os.Stat(p)
	srv.ExpireSessions()
	// Someone writes fresh cookies with the same size and mtime, so only the
	// re-read on refusal can find them.
	ck2, _ := srv.IssueSessionCookie()
	// Same size (a comment line pads the shorter), same mtime.
	content := "Cookie: " + ck2 + "\n#"
	if pad := int(fi.Size()) - len(content) - 1; pad >= 0 {
		content += strings.Repeat("x", pad) + "\n"
	} else {
		t.Fatalf("fresh cookie is %d bytes longer than the first one", -pad)
	}
	mustOK(t, os.WriteFile(p, []byte(content), 0o600))
	mustOK(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); mustOKNoFatal(t, c.Mkdir(ctx, fmt.Sprintf("/b%d", i))) }()
	}
	wg.Wait()
	if c.Refreshes() != 1 {
		t.Fatalf("%d refreshes for 8 concurrent refusals", c.Refreshes())
	}
	// Expired again and nobody updates the file: a clear auth error.
	srv.ExpireSessions()
	err = c.Mkdir(ctx, "/c")
	wantKind(t, err, remote.ErrAuth)
	if !strings.Contains(err.Error(), "not changed") {
		t.Fatalf("error does not say the file is stale: %v", err)
	}
}

func TestAuthCookieCommandExpiresMidRun(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{})
	dir := t.TempDir()
	cur := filepath.Join(dir, "current")
	runs := filepath.Join(dir, "runs")
	ck, _ := srv.IssueSessionCookie()
	mustOK(t, os.WriteFile(cur, []byte(ck), 0o600))
	a, err := auth.CookieCommand("echo x >> " + runs + "; cat " + cur)
	mustOK(t, err)
	tg.auth = a
	c := newTestClient(t, tg)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		mustOK(t, c.Mkdir(ctx, fmt.Sprintf("/a%d", i)))
	}
	srv.ExpireSessions()
	ck2, _ := srv.IssueSessionCookie()
	mustOK(t, os.WriteFile(cur, []byte(ck2), 0o600))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); mustOKNoFatal(t, c.Mkdir(ctx, fmt.Sprintf("/b%d", i))) }()
	}
	wg.Wait()
	b, _ := os.ReadFile(runs)
	if n := strings.Count(string(b), "x"); n != 2 {
		t.Fatalf("the command ran %d times, want 2 (first use, one refresh)", n)
	}
	// The command keeps printing a dead cookie: ErrAuth after one more run.
	srv.ExpireSessions()
	wantKind(t, c.Mkdir(ctx, "/c"), remote.ErrAuth)
	b, _ = os.ReadFile(runs)
	if n := strings.Count(string(b), "x"); n != 3 {
		t.Fatalf("the command ran %d times, want 3", n)
	}
}

func TestAuthBasicAgainstSpemu(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{Auth: "basic", User: "bob", Password: "pw1"})
	tg.auth = auth.Basic("bob", "pw1")
	c := newTestClient(t, tg)
	mustOK(t, c.Mkdir(context.Background(), "/a"))
	tg.auth = auth.Basic("bob", "wrong")
	srv.ResetRequests()
	wantKind(t, newTestClient(t, tg).Mkdir(context.Background(), "/b"), remote.ErrAuth)
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests with a wrong password; must not retry", n)
	}
}

// --- faults ---

// TestFaultsAreInvisible runs 200 operations against spemu answering 20%
// of requests with 429 (Retry-After: 1) and 5% with a 5xx, and carrying
// out 3% without sending the answer (none of these operations may tell a
// lost success from a failure by itself): none may fail,
// and the request log must show every retry after a throttle waited at
// least the Retry-After.
func TestFaultsAreInvisible(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{Seed: 42})
	c := newTestClient(t, tg)
	ctx := context.Background()
	srv.SetFaults(spemu.Faults{ThrottleRate: 0.20, ThrottleStatus: 429, RetryAfter: 1, FailRate: 0.05, LostRate: 0.03})
	const workers, perWorker = 10, 20 // 200 operations
	var ops atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := fmt.Sprintf("/w%d", w)
			do := func(err error) {
				ops.Add(1)
				if err != nil {
					t.Errorf("worker %d op %d: %v", w, ops.Load(), err)
				}
			}
			do(c.Mkdir(ctx, dir))
			for i := 0; i < perWorker-1; i++ {
				p := fmt.Sprintf("%s/f%d #%%.txt", dir, i/6)
				data := randBytes(uint64(w*100+i), 5000+i)
				switch i % 6 {
				case 0:
					_, err := c.Put(ctx, p, bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
					do(err)
				case 1:
					_, err := c.Stat(ctx, p)
					do(err)
				case 2:
					rc, _, err := c.Get(ctx, p, 10, 100)
					if err == nil {
						b, rerr := io.ReadAll(rc)
						rc.Close()
						if rerr != nil || len(b) != 100 {
							err = fmt.Errorf("read %d bytes: %v", len(b), rerr)
						}
					}
					do(err)
				case 3:
					do(c.SetModTime(ctx, p, time.Unix(1e9, 0)))
				case 4:
					_, _, err := c.List(ctx, dir)
					do(err)
				case 5:
					do(c.Move(ctx, p, p+".moved", false))
				}
			}
		}()
	}
	wg.Wait()
	if ops.Load() != workers*perWorker {
		t.Fatalf("%d operations ran, want %d", ops.Load(), workers*perWorker)
	}
	recs := srv.Requests()
	throttled, failed, checked, lost := 0, 0, 0, 0
	for i, r := range recs {
		switch r.Fault {
		case "fail":
			failed++
		case "lost":
			lost++
		case "throttle":
			throttled++
			for _, next := range recs[i+1:] {
				if next.Method == r.Method && next.Path == r.Path && next.Query == r.Query {
					if gap := next.Time.Sub(r.Time); gap < time.Second {
						t.Errorf("%s %s retried %v after a 429 with Retry-After: 1", r.Method, r.Path, gap)
					}
					checked++
					break
				}
			}
		}
	}
	t.Logf("%d requests for %d operations: %d throttled (%d retries checked), %d failed with 5xx, %d carried out with the answer lost", len(recs), ops.Load(), throttled, checked, failed, lost)
	if throttled < 20 || failed < 3 || checked != throttled || lost == 0 {
		t.Fatalf("faults were not exercised: %d throttled, %d checked, %d failed, %d lost", throttled, checked, failed, lost)
	}
}

var _ = errors.Is
var _ http.Handler
