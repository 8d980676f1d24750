package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/davclient/auth"
)

// Value returns a sample's value from Prometheus text output, or -1.
func value(text, sample string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, sample+" ") {
			return strings.TrimPrefix(l, sample+" ")
		}
	}
	return "-1"
}

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	return rec.Body.String()
}

type refusing struct{ fail bool }

func (refusing) Authorize(context.Context, *http.Request) error { return nil }
func (r refusing) Refresh(context.Context) error {
	if r.fail {
		return errors.New("no")
	}
	return nil
}
func (refusing) String() string { return "test" }

var _ auth.Authenticator = refusing{}

// TestObservers: the transport counts each request by verb and status
// and the body bytes each way; throttling, reads, renewals and the
// snapshot show under the library's label, and two libraries stay apart.
func TestObservers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == "PUT" {
			w.WriteHeader(201)
			return
		}
		if r.URL.Path == "/gone" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "0123456789")
	}))
	defer srv.Close()
	r := New()
	a, b := r.Library("a"), r.Library("b")
	hc := &http.Client{Transport: a.Transport(http.DefaultTransport)}
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/x", ""}, {"GET", "/x", ""}, {"PUT", "/y", "hello world"}, {"GET", "/gone", ""},
	} {
		q, _ := http.NewRequest(req.method, srv.URL+req.path, strings.NewReader(req.body))
		if req.body == "" {
			q.Body = nil
		}
		resp, err := hc.Do(q)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	a.Throttled(429, 1500*time.Millisecond)
	a.Throttled(503, 0)
	a.Read(false, 100)
	a.Read(true, 50)
	a.Read(true, 50)
	a.Authenticator(refusing{}).Refresh(context.Background())
	b.Authenticator(refusing{fail: true}).Refresh(context.Background())
	b.SetSnapshot(func() Snapshot {
		return Snapshot{QueueFiles: 3, QueueBytes: 300, FailingUploads: 1, LostFound: 2, ConflictCopies: 4, ContentBytes: 5, StagingBytes: 6, AuthFailing: true}
	})
	text := scrape(t, r)
	want := map[string]string{
		`odfb_requests_total{library="a",status="200",verb="GET"}`: "2",
		`odfb_requests_total{library="a",status="201",verb="PUT"}`: "1",
		`odfb_requests_total{library="a",status="404",verb="GET"}`: "1",
		`odfb_sent_bytes_total{library="a"}`:                       "11",
		`odfb_received_bytes_total{library="a"}`:                   "39", // 2×10 + the 404's 19
		`odfb_throttled_total{library="a"}`:                        "2",
		`odfb_throttle_wait_seconds_total{library="a"}`:            "1.5",
		`odfb_cache_reads_total{library="a",result="hit"}`:         "2",
		`odfb_cache_reads_total{library="a",result="miss"}`:        "1",
		`odfb_cache_read_bytes_total{library="a",result="miss"}`:   "100",
		`odfb_auth_renewals_total{library="a",result="ok"}`:        "1",
		`odfb_auth_renewals_total{library="b",result="failed"}`:    "1",
		`odfb_upload_queue_files{library="b"}`:                     "3",
		`odfb_upload_queue_bytes{library="b"}`:                     "300",
		`odfb_uploads_failing{library="b"}`:                        "1",
		`odfb_lost_found_files{library="b"}`:                       "2",
		`odfb_conflict_copies{library="b"}`:                        "4",
		`odfb_cache_content_bytes{library="b"}`:                    "5",
		`odfb_cache_staging_bytes{library="b"}`:                    "6",
		`odfb_auth_failing{library="b"}`:                           "1",
		`odfb_offline{library="b"}`:                                "0",
		`odfb_requests_total{library="b",status="200",verb="GET"}`: "-1",
	}
	for s, v := range want {
		if got := value(text, s); got != v {
			t.Errorf("%s = %s, want %s", s, got, v)
		}
	}
	if !strings.Contains(text, "go_goroutines") || !strings.Contains(text, "process_resident_memory_bytes") {
		t.Error("no Go runtime or process metrics")
	}
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		"9150": "127.0.0.1:9150", ":9150": "127.0.0.1:9150", "0.0.0.0:9150": "0.0.0.0:9150",
		"[::1]:9150": "[::1]:9150", "localhost:1": "localhost:1",
	} {
		if got, err := ListenAddr(in); err != nil || got != want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "host", "http://x:1"} {
		if _, err := ListenAddr(bad); err == nil {
			t.Errorf("ListenAddr(%q) accepted", bad)
		}
	}
}

// TestServe serves on loopback and answers /metrics.
func TestServe(t *testing.T) {
	r := New()
	addr, stop, err := r.Serve(":0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("listening on %s, not loopback", addr)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "go_goroutines") {
		t.Errorf("/metrics: %d %.200s", resp.StatusCode, b)
	}
}
