package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// freePort returns a loopback TCP port nothing listens on (now).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// scrapeMetrics fetches the endpoint and returns sample → value.
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			out[l[:i]] = v
		}
	}
	return out
}

// TestMetricsEndpoint mounts with --metrics-addr PORT (loopback), runs a
// workload — a listing, reads of a file, two throttled GETs, a sign-in
// the server expired and that is renewed from the cookie file, a write
// held by --write-back — and checks what the endpoint says against
// spemu's request log: the requests by verb and status exactly, the
// throttled answers and their wait, the bytes each way, a renewal, the
// upload queue before and after odfb sync, and reads hit and missed.
func TestMetricsEndpoint(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	root := t.TempDir()
	content := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16) // 300 KiB: two blocks
	os.WriteFile(filepath.Join(root, "data.bin"), content, 0o644)
	os.Mkdir(filepath.Join(root, "folder"), 0o755)
	os.WriteFile(filepath.Join(root, "folder", "x.txt"), []byte("x"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "cookie"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cleanupMount(t, mnt)
	cookie := cookieFileFor(t, srv)
	port := freePort(t)
	url := "http://127.0.0.1:" + port + "/metrics"
	lib := srv.LibraryURL()

	// A cookie command: it is run again only when the server refuses the
	// cookie (a cookie file is re-read as soon as it changes).
	cmd := exec.Command(bin, "mount", "--daemon", "--cookie-command", "sed 's/^Cookie: //' "+cookie, "--cache-dir", filepath.Join(dir, "cache"),
		"--write-back", "1h", "--metrics-addr", port, lib, mnt)
	cmd.Env = append(os.Environ(), "AUTH_COOKIES=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("odfb mount: %v %s", err, out)
	}
	pid := daemonPID(t, mnt)
	defer func() {
		runOdfb(t, bin, "unmount", mnt)
		waitGone(t, pid)
	}()

	// Throttled downloads: the first two GETs get 429 with Retry-After: 1.
	srv.ThrottleNext("GET", "", 2)
	if b, err := os.ReadFile(filepath.Join(mnt, "data.bin")); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("read data.bin: %d bytes, %v", len(b), err)
	}
	// The sign-in expires; the cookie command prints a new one.
	srv.ExpireSessions()
	fresh, err := srv.IssueSessionCookie()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cookie, []byte("Cookie: "+fresh+"\n"), 0o600)
	if ents, err := os.ReadDir(filepath.Join(mnt, "folder")); err != nil || len(ents) != 1 {
		t.Fatalf("ls folder: %v %v", ents, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "new.txt"), []byte("twelve bytes"), 0o644); err != nil {
		t.Fatal(err)
	}

	lab := `library="` + lib + `"`
	m := scrapeMetrics(t, url)
	if m[`odfb_upload_queue_files{`+lab+`}`] != 1 || m[`odfb_upload_queue_bytes{`+lab+`}`] != 12 {
		t.Errorf("queue before sync: %v files, %v bytes; want 1, 12", m[`odfb_upload_queue_files{`+lab+`}`], m[`odfb_upload_queue_bytes{`+lab+`}`])
	}
	if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
		t.Fatalf("odfb sync: exit %d %s", code, errs)
	}

	// The request counters against spemu's log, taken when no request
	// is in flight (the log is the same before and after the scrape).
	var recs []spemu.RequestRecord
	for try := 0; ; try++ {
		before := srv.Requests()
		m = scrapeMetrics(t, url)
		recs = srv.Requests()
		if len(before) == len(recs) {
			break
		}
		if try == 20 {
			t.Fatal("requests keep coming; cannot compare")
		}
		time.Sleep(200 * time.Millisecond)
	}
	want := map[string]float64{}
	var throttled, sent, received, refused float64
	for _, r := range recs {
		if r.Auth == "denied" {
			refused++
		}
		want[fmt.Sprintf(`odfb_requests_total{%s,status="%d",verb="%s"}`, lab, r.Status, r.Method)]++
		if r.Fault == "throttle" {
			throttled++
		}
		sent += float64(r.ReqBytes)
		received += float64(r.RespBytes)
	}
	for k, v := range m {
		if strings.HasPrefix(k, "odfb_requests_total{") {
			if _, ok := want[k]; !ok {
				t.Errorf("%s = %v, spemu saw none", k, v)
			}
		}
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, spemu's log has %v", k, m[k], v)
		}
	}
	check := func(name string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("throttled answers (spemu: throttle faults)", m[`odfb_throttled_total{`+lab+`}`], throttled)
	check("throttled answers", throttled, 2)
	if w := m[`odfb_throttle_wait_seconds_total{`+lab+`}`]; w < 2 || w > 5 {
		t.Errorf("throttle wait %vs, want 2 (two Retry-After: 1)", w)
	}
	// spemu refuses an expired cookie before reading the body odfb sent:
	// up to one PROPFIND body (under 1 KiB) more per refusal.
	if s := m[`odfb_sent_bytes_total{`+lab+`}`]; s < sent || s > sent+1024*refused || refused == 0 {
		t.Errorf("bytes sent %v; spemu read %v bytes of request bodies and refused %v requests", s, sent, refused)
	}
	check("bytes received (spemu: response bodies written)", m[`odfb_received_bytes_total{`+lab+`}`], received)
	check("renewals", m[`odfb_auth_renewals_total{`+lab+`,result="ok"}`], 1)
	check("queue after sync", m[`odfb_upload_queue_files{`+lab+`}`], 0)
	check("failing uploads", m[`odfb_uploads_failing{`+lab+`}`], 0)
	if miss, hitB, missB := m[`odfb_cache_reads_total{`+lab+`,result="miss"}`], m[`odfb_cache_read_bytes_total{`+lab+`,result="hit"}`],
		m[`odfb_cache_read_bytes_total{`+lab+`,result="miss"}`]; miss < 1 || hitB+missB < float64(len(content)) {
		t.Errorf("reads: %v misses, %v+%v bytes; want ≥1 miss and ≥%d bytes", miss, hitB, missB, len(content))
	}
	if c := m[`odfb_cache_content_bytes{`+lab+`}`]; c < float64(len(content)) {
		t.Errorf("cache content %v bytes, want ≥ %d", c, len(content))
	}
	if data, err := srv.ReadFile("/new.txt"); err != nil || string(data) != "twelve bytes" {
		t.Errorf("new.txt on the server: %q %v", data, err)
	}
}
