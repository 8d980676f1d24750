package davclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/internal/version"
	"github.com/odfb/odfb/remote"
)

// scripted serves responses from a list of handlers, one per request,
// repeating the last one.
type scripted struct {
	mu     sync.Mutex
	steps  []http.HandlerFunc
	n      int
	times  []time.Time
	bodies [][]byte
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	i := min(s.n, len(s.steps)-1)
	s.n++
	s.times = append(s.times, time.Now())
	s.bodies = append(s.bodies, b)
	h := s.steps[i]
	s.mu.Unlock()
	h(w, r)
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func status(code int, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
	}
}

// hangUp closes the connection without an answer, after reading the request.
func hangUp(w http.ResponseWriter, r *http.Request) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, _ := hj.Hijack()
	conn.Close()
}

func scriptedClient(t *testing.T, s *scripted, mod func(*Options)) *Client {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	o := Options{URL: srv.URL + "/lib", BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, Logger: testLogger(t)}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := &scripted{steps: []http.HandlerFunc{status(429, "Retry-After", "1"), status(503, "Retry-After", "1"), status(201)}}
	c := scriptedClient(t, s, nil)
	mustOK(t, c.Mkdir(context.Background(), "/d"))
	if s.count() != 3 {
		t.Fatalf("%d requests, want 3", s.count())
	}
	for i := 1; i < 3; i++ {
		if gap := s.times[i].Sub(s.times[i-1]); gap < time.Second {
			t.Errorf("retry %d came %v after a Retry-After: 1", i, gap)
		}
	}
}

func TestThrottledAfterRetriesCarriesWait(t *testing.T) {
	s := &scripted{steps: []http.HandlerFunc{status(429, "Retry-After", "0.001")}}
	c := scriptedClient(t, s, func(o *Options) { o.MaxRetries = 2 })
	_, err := c.Stat(context.Background(), "/x")
	wantKind(t, err, remote.ErrThrottled)
	var re *remote.Error
	errors.As(err, &re)
	if re.RetryAfter != time.Millisecond || re.Status != 429 {
		t.Fatalf("RetryAfter %v status %d", re.RetryAfter, re.Status)
	}
	if s.count() != 3 {
		t.Fatalf("%d requests, want 1+2 retries", s.count())
	}
}

func TestRetryAfterCapped(t *testing.T) {
	s := &scripted{steps: []http.HandlerFunc{status(503, "Retry-After", "3600"), status(201)}}
	c := scriptedClient(t, s, func(o *Options) { o.MaxRetryWait = 10 * time.Millisecond })
	mustOK(t, c.Mkdir(context.Background(), "/d"))
	if s.count() != 2 {
		t.Fatalf("%d requests", s.count())
	}
}

func TestServerErrorsBackOffAndRewindBody(t *testing.T) {
	s := &scripted{steps: []http.HandlerFunc{status(500), status(502), hangUp, status(504), status(201, "ETag", `"v2"`)}}
	c := scriptedClient(t, s, nil)
	body := randBytes(7, 100_000)
	etag, err := c.Put(context.Background(), "/f", bytes.NewReader(body), int64(len(body)), remote.PutOptions{})
	mustOK(t, err)
	if etag != `"v2"` {
		t.Fatalf("etag %q", etag)
	}
	if s.count() != 5 {
		t.Fatalf("%d requests, want 5", s.count())
	}
	for i, b := range s.bodies {
		if i == 2 {
			continue // the hang-up read it, but we check the others
		}
		if !bytes.Equal(b, body) {
			t.Fatalf("attempt %d sent %d bytes, not the body", i, len(b))
		}
	}
}

func TestServerErrorFinal(t *testing.T) {
	s := &scripted{steps: []http.HandlerFunc{status(500)}}
	c := scriptedClient(t, s, func(o *Options) { o.MaxRetries = 3 })
	_, err := c.Stat(context.Background(), "/x")
	wantKind(t, err, remote.ErrServer)
	if s.count() != 4 {
		t.Fatalf("%d requests", s.count())
	}
}

func TestNetworkErrorBecomesUnavailable(t *testing.T) {
	c, err := New(Options{URL: "http://127.0.0.1:1/lib", MaxRetries: 2, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	mustOK(t, err)
	_, err = c.Stat(context.Background(), "/x")
	wantKind(t, err, remote.ErrUnavailable)
}

func TestCancelStopsWaiting(t *testing.T) {
	s := &scripted{steps: []http.HandlerFunc{status(429, "Retry-After", "60")}}
	c := scriptedClient(t, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for s.count() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	done := make(chan error)
	go func() { _, err := c.Stat(ctx, "/x"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled inside", err)
		}
		wantKind(t, err, remote.ErrUnavailable)
	case <-time.After(30 * time.Second):
		t.Fatal("a cancelled context did not stop the Retry-After wait")
	}
}

func TestLostResponsesAreResolved(t *testing.T) {
	ctx := context.Background()
	// DELETE: the first attempt worked but its answer was lost.
	s := &scripted{steps: []http.HandlerFunc{hangUp, status(404)}}
	c := scriptedClient(t, s, nil)
	mustOK(t, c.Delete(ctx, "/f"))
	// Without a lost attempt, 404 is an error.
	s2 := &scripted{steps: []http.HandlerFunc{status(404)}}
	wantKind(t, scriptedClient(t, s2, nil).Delete(ctx, "/f"), remote.ErrNotFound)
	// MKCOL: 405 after a lost attempt is our own folder when a folder is
	// there...
	s3 := &scripted{steps: []http.HandlerFunc{status(502), status(405), propfindAnswer("/lib/d", true)}}
	mustOK(t, scriptedClient(t, s3, nil).Mkdir(ctx, "/d"))
	// ...but not when the name is a file: Mkdir used to report success,
	// and the cache then showed a folder where the server has a file.
	s5 := &scripted{steps: []http.HandlerFunc{status(502), status(405), propfindAnswer("/lib/d", false)}}
	wantKind(t, scriptedClient(t, s5, nil).Mkdir(ctx, "/d"), remote.ErrExists)
	s4 := &scripted{steps: []http.HandlerFunc{status(405)}}
	wantKind(t, scriptedClient(t, s4, nil).Mkdir(ctx, "/d"), remote.ErrExists)
}

func TestMoveAfterLostResponseChecksState(t *testing.T) {
	ctx := context.Background()
	ms := func(href string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(207)
			io.WriteString(w, `<D:multistatus xmlns:D="DAV:"><D:response><D:href>`+href+`</D:href><D:propstat><D:prop><D:getcontentlength>1</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`)
		}
	}
	// MOVE lost, retry 404 (source gone), PROPFIND src 404, PROPFIND dst found.
	s := &scripted{steps: []http.HandlerFunc{hangUp, status(404), status(404), ms("/lib/b")}}
	c := scriptedClient(t, s, nil)
	mustOK(t, c.Move(ctx, "/a", "/b", false))
	// The same answers with the source still there: a real failure.
	s2 := &scripted{steps: []http.HandlerFunc{hangUp, status(412), ms("/lib/a"), ms("/lib/b")}}
	wantKind(t, scriptedClient(t, s2, nil).Move(ctx, "/a", "/b", false), remote.ErrPrecondition)
}

func TestStatusMapping(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		h    http.HandlerFunc
		kind error
	}{
		{status(400, "X-MSDAVEXT_Error", "589838; The+name+is+invalid."), remote.ErrInvalidName},
		{status(413), remote.ErrTooLarge},
		{status(423), remote.ErrLocked},
		{status(412), remote.ErrPrecondition},
		{status(409), remote.ErrConflict},
		{status(403), remote.ErrForbidden},
		{status(507), remote.ErrTooLarge},
		{status(302, "Location", "https://example/elsewhere"), remote.ErrServer},
		{func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"code":"-2147024809, Microsoft.SharePoint.Client.InvalidClientQueryException","message":{"lang":"en-US","value":"The request message is too big. The server does not allow messages larger than 262144000 bytes."}}}`)
		}, remote.ErrTooLarge},
	} {
		s := &scripted{steps: []http.HandlerFunc{tc.h}}
		_, err := scriptedClient(t, s, nil).Put(ctx, "/f", bytes.NewReader(nil), 0, remote.PutOptions{})
		wantKind(t, err, tc.kind)
		want := 1
		if tc.kind == remote.ErrConflict {
			want = 2 // and one PROPFIND: is a folder in the way? (putinway_test.go)
		}
		if s.count() != want {
			t.Fatalf("%v: %d requests, want %d (no retry)", tc.kind, s.count(), want)
		}
	}
	s := &scripted{steps: []http.HandlerFunc{status(400, "X-MSDAVEXT_Error", "589838; The+name+is+invalid.")}}
	_, err := scriptedClient(t, s, nil).Put(ctx, "/f", bytes.NewReader(nil), 0, remote.PutOptions{})
	if !strings.Contains(err.Error(), "The name is invalid.") {
		t.Fatalf("detail not decoded: %v", err)
	}
}

func TestGetWhenServerIgnoresRange(t *testing.T) {
	data := randBytes(3, 10_000)
	var sawRange atomic.Value
	s := &scripted{steps: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		sawRange.Store(r.Header.Get("Range"))
		w.Header().Set("ETag", `"e1"`)
		w.Write(data)
	}}}
	c := scriptedClient(t, s, nil)
	got, info := readAll(t, c, "/f", 1234, 100)
	if !bytes.Equal(got, data[1234:1334]) || info.ETag != `"e1"` {
		t.Fatalf("got %d bytes, info %+v", len(got), info)
	}
	if sawRange.Load() != "bytes=1234-1333" {
		t.Fatalf("Range header %q", sawRange.Load())
	}
	got, _ = readAll(t, c, "/f", 9_990, -1)
	if !bytes.Equal(got, data[9990:]) {
		t.Fatal("tail wrong")
	}
	got, _ = readAll(t, c, "/f", 20_000, 5)
	if len(got) != 0 {
		t.Fatal("read past EOF returned bytes")
	}
}

func TestUserAgentAndEncoding(t *testing.T) {
	var ua, uri string
	s := &scripted{steps: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		ua, uri = r.UserAgent(), r.RequestURI
		w.WriteHeader(201)
	}}}
	mustOK(t, scriptedClient(t, s, nil).Mkdir(context.Background(), "/a b/c#d%e?f&ü"))
	if got := escapePath("/x+y;z=1,(o'k)@$"); got != "/x%2By%3Bz%3D1%2C%28o%27k%29%40%24" {
		t.Errorf("escapePath = %q", got)
	}
	if ua != version.UserAgent() || !strings.HasPrefix(ua, "NONISV|odfb|odfb/") {
		t.Errorf("User-Agent %q", ua)
	}
	if uri != "/lib/a%20b/c%23d%25e%3Ff%26%C3%BC" {
		t.Errorf("request URI %q", uri)
	}
}

func TestLimiterBoundsConcurrency(t *testing.T) {
	var cur, peak atomic.Int32
	s := &scripted{steps: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		w.WriteHeader(201)
	}}}
	lim := NewLimiter(3)
	c1 := scriptedClient(t, s, func(o *Options) { o.Limiter = lim })
	c2 := scriptedClient(t, s, func(o *Options) { o.Limiter = lim })
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := c1
			if i%2 == 1 {
				c = c2
			}
			mustOKNoFatal(t, c.Mkdir(context.Background(), "/d"))
		}()
	}
	wg.Wait()
	if peak.Load() > 3 {
		t.Fatalf("%d requests in flight, limit 3", peak.Load())
	}
	if lim.InFlight() != 0 {
		t.Fatalf("%d slots leaked", lim.InFlight())
	}
}

func mustOKNoFatal(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}

// countingAuth accepts cookie "v=<gen>" and bumps gen on Refresh.
type countingAuth struct {
	mu        sync.Mutex
	gen       int
	refreshes int
	fail      bool
}

func (a *countingAuth) Authorize(_ context.Context, r *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r.Header.Set("Cookie", "v="+string(rune('0'+a.gen)))
	return nil
}

func (a *countingAuth) Refresh(context.Context) error {
	time.Sleep(20 * time.Millisecond) // let concurrent failures pile up
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refreshes++
	if a.fail {
		return errors.New("no new credentials")
	}
	a.gen++
	return nil
}

func (a *countingAuth) String() string { return "counting" }

var _ auth.Authenticator = (*countingAuth)(nil)

func TestAuthRefreshIsSharedAndReplayedOnce(t *testing.T) {
	var accept atomic.Value
	accept.Store("v=1")
	var served atomic.Int32
	h := func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Header.Get("Cookie") != accept.Load() {
			w.Header().Set("X-MSDAVEXT_Error", "917656; Access+denied.")
			w.Header().Set("X-Forms_Based_Auth_Required", "https://login/")
			w.WriteHeader(403)
			return
		}
		w.WriteHeader(201)
	}
	a := &countingAuth{}
	c := scriptedClient(t, &scripted{steps: []http.HandlerFunc{h}}, func(o *Options) { o.Auth = a })
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); mustOKNoFatal(t, c.Mkdir(context.Background(), "/d")) }()
	}
	wg.Wait()
	if a.refreshes != 1 {
		t.Fatalf("%d refreshes for 16 concurrent refusals, want 1", a.refreshes)
	}
	if n := served.Load(); n > 32 {
		t.Fatalf("%d requests: more than one replay each", n)
	}
	// Credentials refused again after renewal: one more refresh, then ErrAuth, no loop.
	accept.Store("never")
	served.Store(0)
	wantKind(t, c.Mkdir(context.Background(), "/d"), remote.ErrAuth)
	if a.refreshes != 2 || served.Load() != 2 {
		t.Fatalf("refreshes %d requests %d, want 2 and 2", a.refreshes, served.Load())
	}
	// A Refresh that fails is final at once.
	a.fail = true
	served.Store(0)
	err := c.Mkdir(context.Background(), "/d")
	wantKind(t, err, remote.ErrAuth)
	if !strings.Contains(err.Error(), "no new credentials") || served.Load() != 1 {
		t.Fatalf("err %v after %d requests", err, served.Load())
	}
}

func TestPlain403IsNotAuth(t *testing.T) {
	a := &countingAuth{}
	s := &scripted{steps: []http.HandlerFunc{status(403)}}
	wantKind(t, scriptedClient(t, s, func(o *Options) { o.Auth = a }).Mkdir(context.Background(), "/d"), remote.ErrForbidden)
	if a.refreshes != 0 {
		t.Fatal("a plain 403 triggered a refresh")
	}
	s401 := &scripted{steps: []http.HandlerFunc{status(401)}}
	wantKind(t, scriptedClient(t, s401, nil).Mkdir(context.Background(), "/d"), remote.ErrAuth)
}

// patternReader is a large ReaderAt that records the biggest single read.
type patternReader struct {
	size    int64
	maxRead atomic.Int64
}

func (p *patternReader) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.size {
		return 0, io.EOF
	}
	n := min(int64(len(b)), p.size-off)
	for i := int64(0); i < n; i++ {
		b[i] = byte(off + i)
	}
	for {
		m := p.maxRead.Load()
		if n <= m || p.maxRead.CompareAndSwap(m, n) {
			break
		}
	}
	if n < int64(len(b)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

func TestPutStreamsFromReaderAt(t *testing.T) {
	var got atomic.Int64
	s := &scripted{steps: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.ContentLength)
		w.WriteHeader(201)
	}}}
	c := scriptedClient(t, s, nil)
	src := &patternReader{size: 16 << 20}
	_, err := c.Put(context.Background(), "/big", src, src.size, remote.PutOptions{})
	mustOK(t, err)
	if got.Load() != src.size || int64(len(s.bodies[0])) != src.size {
		t.Fatalf("server got Content-Length %d and %d bytes", got.Load(), len(s.bodies[0]))
	}
	if m := src.maxRead.Load(); m > 1<<20 {
		t.Fatalf("a single read of %d bytes: the body is not streamed", m)
	}
}

func TestProcessLimiterPerServer(t *testing.T) {
	a, _ := New(Options{URL: "https://limiter-test.example/lib", MaxConcurrent: 3})
	b, _ := New(Options{URL: "https://LIMITER-TEST.example/other", MaxConcurrent: 50})
	o, _ := New(Options{URL: "https://limiter-other.example/lib", MaxConcurrent: 5})
	if a.lim != b.lim || cap(a.lim.ch) != 3 {
		t.Fatal("clients of one server do not share the process limiter")
	}
	if o.lim == a.lim || cap(o.lim.ch) != 5 {
		t.Fatal("another server shares the limiter")
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    map[string]string
		want time.Duration
	}{
		{map[string]string{"Retry-After": "120"}, 120 * time.Second},
		{map[string]string{"Retry-After": now.Add(30 * time.Second).Format(http.TimeFormat)}, 30 * time.Second},
		{map[string]string{"Retry-After": "5", "RateLimit-Reset": "9"}, 9 * time.Second},
		{map[string]string{"Retry-After": "garbage"}, 0},
		{map[string]string{}, 0},
	} {
		resp := &http.Response{Header: http.Header{}}
		for k, v := range tc.h {
			resp.Header.Set(k, v)
		}
		if got := retryAfter(resp, now); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.h, got, tc.want)
		}
	}
}

// A Retry-After too large for time.Duration used to overflow into a
// negative wait, so the client retried at once (after a short backoff)
// instead of waiting as long as it may; Inf and NaN did the same. Huge
// values now mean "the longest wait" and nonsense means "no header".
func TestRetryAfterHugeOrNonsense(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    map[string]string
		want time.Duration
	}{
		{map[string]string{"Retry-After": "99999999999"}, maxRetryAfter},
		{map[string]string{"Retry-After": "1e300"}, maxRetryAfter},
		{map[string]string{"RateLimit-Reset": "99999999999"}, maxRetryAfter},
		{map[string]string{"Retry-After": "Inf"}, 0},
		{map[string]string{"Retry-After": "NaN"}, 0},
		{map[string]string{"Retry-After": "-5"}, 0},
		{map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond},
		{map[string]string{"Retry-After": now.Add(400 * 24 * time.Hour).Format(http.TimeFormat)}, maxRetryAfter},
	} {
		resp := &http.Response{Header: http.Header{}}
		for k, v := range tc.h {
			resp.Header.Set(k, v)
		}
		if got := retryAfter(resp, now); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.h, got, tc.want)
		}
	}
	// End to end: a huge Retry-After is capped at MaxRetryWait, not
	// replaced by the short backoff (which the log would show as wait=~1ms).
	s := &scripted{steps: []http.HandlerFunc{status(429, "Retry-After", "99999999999"), status(201)}}
	var logs bytes.Buffer
	c := scriptedClient(t, s, func(o *Options) {
		o.MaxRetryWait = 30 * time.Millisecond
		o.BackoffBase = time.Microsecond
		o.BackoffMax = time.Microsecond
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	mustOK(t, c.Mkdir(context.Background(), "/d"))
	if !strings.Contains(logs.String(), "capping it") || !strings.Contains(logs.String(), "wait=30ms") {
		t.Fatalf("huge Retry-After was not honoured up to the cap; log:\n%s", logs.String())
	}
}

// propfindAnswer answers a Depth 0 PROPFIND for href: a folder or a file.
func propfindAnswer(href string, dir bool) http.HandlerFunc {
	rt := ""
	if dir {
		rt = "<D:collection/>"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "PROPFIND" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(207)
		io.WriteString(w, `<D:multistatus xmlns:D="DAV:"><D:response><D:href>`+href+`</D:href><D:propstat><D:prop><D:resourcetype>`+rt+`</D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`)
	}
}

// Delete of the library root is refused before anything is sent, like
// Move and Copy of it: on the wire it would ask the server to remove the
// whole library (spemu answers 403, so only the request count shows it).
// Paths a caller's bug can produce ("", ".", "/x/..") clean to "/" too.
func TestDeleteRootIsNeverSent(t *testing.T) {
	s := &scripted{steps: []http.HandlerFunc{status(204)}}
	c := scriptedClient(t, s, nil)
	for _, p := range []string{"/", "", ".", "/x/.."} {
		wantKind(t, c.Delete(context.Background(), p), remote.ErrForbidden)
	}
	if n := s.count(); n != 0 {
		t.Fatalf("%d DELETE requests sent for the library root", n)
	}
}
