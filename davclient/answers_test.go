package davclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
)

// These tests hold the client to what SharePoint's answers mean, not
// what their status codes suggest (issue 12).

func spemuClient(t *testing.T, tg target, mod func(*Options)) *Client {
	t.Helper()
	o := Options{URL: tg.url, Auth: tg.auth, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		MaxRetryWait: 5 * time.Millisecond, Limiter: NewLimiter(4), Logger: testLogger(t)}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	mustOK(t, err)
	return c
}

// TestThrottlingIsWaitedOut runs spemu's throttling in each shape it
// can take: 429 with and without Retry-After, with the JSON body, and
// the 401 "429 TOO MANY REQUESTS" SharePoint Online has sent. Each is
// waited out and replayed; none renews the credentials.
func TestThrottlingIsWaitedOut(t *testing.T) {
	for _, c := range []struct {
		name string
		f    spemu.Faults
	}{
		{"429 with Retry-After", spemu.Faults{}},
		{"429 without Retry-After", spemu.Faults{NoRetryAfter: true}},
		{"429 JSON without Retry-After", spemu.Faults{ThrottleJSON: true, NoRetryAfter: true}},
		{"401 with Retry-After", spemu.Faults{ThrottleAs401: true}},
		{"401 without Retry-After", spemu.Faults{ThrottleAs401: true, NoRetryAfter: true}},
		{"401 JSON without Retry-After", spemu.Faults{ThrottleAs401: true, ThrottleJSON: true, NoRetryAfter: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, tg := startSpemu(t, spemu.Config{Faults: c.f})
			cl := spemuClient(t, tg, nil)
			srv.ThrottleNext("PROPFIND", "", 2)
			if _, err := cl.Stat(context.Background(), "/"); err != nil {
				t.Fatalf("stat through throttling: %v", err)
			}
			if n := countRequests(srv, "PROPFIND", ""); n != 3 {
				t.Errorf("PROPFIND requests = %d, want 3 (two throttled, one served)", n)
			}
			if n := cl.Refreshes(); n != 0 {
				t.Errorf("credentials renewed %d times for throttling, want 0", n)
			}
		})
	}
}

// TestThrottled401ExhaustedIsThrottled: when the retries run out on a
// 401 throttle, the caller gets ErrThrottled (and uploads wait), not
// ErrAuth (which tells the user to sign in again).
func TestThrottled401ExhaustedIsThrottled(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{Faults: spemu.Faults{ThrottleAs401: true, RetryAfter: 7}})
	cl := spemuClient(t, tg, func(o *Options) { o.MaxRetries = 2 })
	srv.ThrottleNext("PROPFIND", "", 10)
	_, err := cl.Stat(context.Background(), "/")
	if !errors.Is(err, remote.ErrThrottled) || errors.Is(err, remote.ErrAuth) {
		t.Fatalf("error %v: want ErrThrottled, not ErrAuth", err)
	}
	var re *remote.Error
	if errors.As(err, &re) && re.RetryAfter != 7*time.Second {
		t.Errorf("RetryAfter = %v, want 7s from the 401's Retry-After", re.RetryAfter)
	}
	if n := countRequests(srv, "PROPFIND", ""); n != 3 {
		t.Errorf("PROPFIND requests = %d, want 3", n)
	}
}

// bogusBearer sends a bearer token spemu does not know; its Refresh
// either fails or hands out another unknown token.
type bogusBearer struct {
	refreshErr error
	refreshes  atomic.Int32
}

func (b *bogusBearer) Authorize(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", fmt.Sprintf("Bearer eyJ0eXAiOiJKV1QifQ.bogus%d.x", b.refreshes.Load()))
	return nil
}
func (b *bogusBearer) Refresh(context.Context) error { b.refreshes.Add(1); return b.refreshErr }
func (b *bogusBearer) String() string                { return "bogus bearer" }

// TestRefusalReasonIsCarried: SharePoint explains a refused token in
// x-ms-diagnostics and the body's error_description. Both reach the
// error (so odfb status shows them) and the log, whether the renewal
// fails or the renewed credential is refused too.
func TestRefusalReasonIsCarried(t *testing.T) {
	for _, c := range []struct {
		name       string
		refreshErr error
	}{
		{"renewal fails", errors.New("no new token")},
		{"renewed credential refused", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, tg := startSpemu(t, spemu.Config{})
			srv.SetLogin(spemu.LoginConfig{BearerOnDAV: true})
			tg.auth = &bogusBearer{refreshErr: c.refreshErr}
			var logs testenv.Buffer
			cl := spemuClient(t, tg, func(o *Options) { o.Logger = newBufLogger(&logs) })
			_, err := cl.Stat(context.Background(), "/")
			if !errors.Is(err, remote.ErrAuth) {
				t.Fatalf("error %v, want ErrAuth", err)
			}
			for _, want := range []string{"3000003: Invalid audience Uri or expired token. (invalid_client)", "error_description: Invalid issuer or signature."} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
			}
			if strings.Contains(err.Error()+logs.String(), ".bogus0.") || strings.Contains(err.Error()+logs.String(), ".bogus1.") {
				t.Error("the token reached the error or the log")
			}
		})
	}
}

// TestStartUploadNotSupported: a SharePoint without the chunked upload
// API (SharePoint 2013) answers "Cannot find resource for the request
// StartUpload". That is ErrNotSupported (the cache sends the file to
// lost+found with the reason), not ErrNotFound (retried for ever); the
// empty file made for the session is removed, and later uploads are
// refused without a request.
func TestStartUploadNotSupported(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{NoChunkedUpload: true})
	cl := spemuClient(t, tg, nil)
	ctx := context.Background()
	const id = "0b7c6c3e-1d2f-4a5b-8c9d-0e1f2a3b4c5d"
	chunk := bytes.Repeat([]byte("x"), 1000)
	_, err := cl.StartUpload(ctx, "/big.bin", id, bytes.NewReader(chunk), int64(len(chunk)))
	if !errors.Is(err, remote.ErrNotSupported) || errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("error %v: want ErrNotSupported", err)
	}
	if !strings.Contains(err.Error(), "Cannot find resource for the request StartUpload") {
		t.Errorf("error %q does not carry the server's reason", err)
	}
	if _, err := srv.ReadFile("/big.bin"); err == nil {
		t.Error("the empty file made for the session was left on the server")
	}
	before := len(srv.Requests())
	_, err = cl.StartUpload(ctx, "/big2.bin", id, bytes.NewReader(chunk), int64(len(chunk)))
	if !errors.Is(err, remote.ErrNotSupported) {
		t.Fatalf("second upload: %v", err)
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("second upload sent %d requests, want 0", n)
	}
}

// TestListViewThresholdIsPermanent: SPQueryThrottledException comes as
// a 500, but retrying cannot change it: one request, a permanent error
// with the server's words.
func TestListViewThresholdIsPermanent(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("SPRequestGuid", "00000000-0000-0000-0000-000000000001")
		w.Header().Set("Content-Type", "application/json;odata=nometadata;charset=utf-8")
		if strings.HasSuffix(r.URL.Path, "/_api/contextinfo") {
			fmt.Fprint(w, `{"FormDigestTimeoutSeconds":1800,"FormDigestValue":"0xABC,03 Dec 2026 10:00:00 -0000"}`)
			return
		}
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"odata.error":{"code":"-2147024860, Microsoft.SharePoint.SPQueryThrottledException","message":{"lang":"en-US","value":"The attempted operation is prohibited because it exceeds the list view threshold enforced by the administrator."}}}`)
	}))
	t.Cleanup(srv.Close)
	cl, err := New(Options{URL: srv.URL + "/sites/x/Shared%20Documents", BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond, Logger: testLogger(t)})
	mustOK(t, err)
	_, err = cl.UploadOffset(context.Background(), "/a.bin", "0b7c6c3e-1d2f-4a5b-8c9d-0e1f2a3b4c5d")
	if !errors.Is(err, remote.ErrForbidden) {
		t.Fatalf("error %v: want the permanent ErrForbidden", err)
	}
	if !strings.Contains(err.Error(), "list view threshold") {
		t.Errorf("error %q lacks the server's reason", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("requests = %d, want 1 (no retries)", n)
	}
}

func newBufLogger(b *testenv.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestListingBareAndFullEntries lists through spemu with SharePoint
// Online's bare file entries (the default) and with the full ones: files
// stay files, folders folders, and names with [ ] ( ) come back decoded
// whether the hrefs leave them raw or not, folder hrefs ending in "/".
func TestListingBareAndFullEntries(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			srv, tg := startSpemu(t, spemu.Config{FullFileEntries: full})
			mustOK(t, srv.Mkdir("/Q1 [draft] (old)"))
			mustOK(t, srv.WriteFile("/Q1 [draft] (old)/a (1).txt", []byte("abc")))
			cl := spemuClient(t, tg, nil)
			ctx := context.Background()
			root, kids, err := cl.List(ctx, "/")
			mustOK(t, err)
			if !root.IsDir || len(kids) != 1 || kids[0].Name() != "Q1 [draft] (old)" || !kids[0].IsDir {
				t.Fatalf("root %+v, children %+v", root, kids)
			}
			dir, kids, err := cl.List(ctx, "/Q1 [draft] (old)")
			mustOK(t, err)
			if !dir.IsDir || dir.Path != "/Q1 [draft] (old)" || len(kids) != 1 {
				t.Fatalf("folder %+v, children %+v", dir, kids)
			}
			if k := kids[0]; k.IsDir || k.Name() != "a (1).txt" || k.Size != 3 || k.Path != "/Q1 [draft] (old)/a (1).txt" {
				t.Errorf("file entry %+v", k)
			}
		})
	}
}
