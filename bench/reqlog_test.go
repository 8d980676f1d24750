package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func logLine(method string, status int, req, resp int64) string {
	return fmt.Sprintf(`{"time":"2026-11-22T08:00:00Z","method":%q,"path":"/personal/a/Documents/x","query":"","status":%d,"req_bytes":%d,"resp_bytes":%d,"dur_ms":20.5,"fault":"","depth":"1","range":"","auth":"cookie"}`+"\n",
		method, status, req, resp)
}

func TestParseLogCountsCompleteLines(t *testing.T) {
	data := logLine("PROPFIND", 207, 120, 5000) +
		"\n" + // blank lines are skipped
		logLine("GET", 206, 0, 4096) +
		logLine("get", 200, 0, 100) + // method case is folded
		"not json\n" +
		`{"status":200}` + "\n" + // no method: malformed
		logLine("PUT", 413, 262144001, 0) +
		`{"method":"GET","status":200,"resp_bytes":7` // being written
	tl, rest := ParseLog([]byte(data))
	if tl.Requests != 4 {
		t.Errorf("Requests = %d, want 4", tl.Requests)
	}
	if got := tl.Count("GET"); got != 2 {
		t.Errorf("GET = %d, want 2", got)
	}
	if got := tl.Count("propfind"); got != 1 {
		t.Errorf("PROPFIND = %d, want 1", got)
	}
	if tl.Malformed != 2 {
		t.Errorf("Malformed = %d, want 2", tl.Malformed)
	}
	if tl.Errors != 1 || tl.ByStatus[413] != 1 || tl.ByStatus[206] != 1 {
		t.Errorf("Errors = %d, ByStatus = %v; want one 413 and one 206", tl.Errors, tl.ByStatus)
	}
	if tl.ReqBytes != 120+262144001 || tl.RespBytes != 5000+4096+100 {
		t.Errorf("bytes up %d down %d", tl.ReqBytes, tl.RespBytes)
	}
	if want := len(`{"method":"GET","status":200,"resp_bytes":7`); rest != want {
		t.Errorf("rest = %d, want %d", rest, want)
	}
	if got, want := tl.String(), "GET 2, PROPFIND 1, PUT 1 (413×1)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestTallyStringOrder(t *testing.T) {
	var tl Tally
	if tl.String() != "0" {
		t.Errorf("empty tally = %q, want 0", tl.String())
	}
	for _, m := range []string{"PUT", "MKCOL", "PUT", "HEAD", "PUT", "MKCOL"} {
		tl.Add(Request{Method: m, Status: 201})
	}
	if got, want := tl.String(), "PUT 3, MKCOL 2, HEAD 1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	tl.Add(Request{Method: "PROPFIND", Status: 404})
	tl.Add(Request{Method: "MKCOL", Status: 405})
	tl.Add(Request{Method: "PROPFIND", Status: 404})
	if got, want := tl.String(), "MKCOL 3, PUT 3, PROPFIND 2, HEAD 1 (404×2, 405×1)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestLogTailMarksPhases(t *testing.T) {
	p := filepath.Join(t.TempDir(), "requests.jsonl")
	lt := LogTail{Path: p}
	m0, err := lt.Mark()
	if err != nil || m0 != 0 {
		t.Fatalf("Mark of a missing log = %d, %v; want 0, nil", m0, err)
	}
	appendLog := func(s string) {
		t.Helper()
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	appendLog(logLine("OPTIONS", 200, 0, 0) + logLine("PROPFIND", 207, 0, 900))
	m1, _ := lt.Mark()
	appendLog(logLine("GET", 200, 0, 1<<20))
	m2, _ := lt.Mark()
	appendLog(logLine("PUT", 201, 4096, 0) + logLine("PUT", 201, 4096, 0))

	all, err := lt.Since(m0)
	if err != nil || all.Requests != 5 {
		t.Errorf("Since(start) = %d requests, %v; want 5", all.Requests, err)
	}
	ph1, _ := lt.Since(m1)
	if ph1.Requests != 3 || ph1.Count("GET") != 1 || ph1.Count("OPTIONS") != 0 {
		t.Errorf("phase 1 = %s, want GET 1, PUT 2", ph1)
	}
	ph2, _ := lt.Since(m2)
	if ph2.String() != "PUT 2" || ph2.ReqBytes != 8192 {
		t.Errorf("phase 2 = %s up %d, want PUT 2 up 8192", ph2, ph2.ReqBytes)
	}
	if _, err := (LogTail{Path: filepath.Join(t.TempDir(), "nope")}).Since(0); err == nil {
		t.Error("Since on a missing log: want an error")
	}
}

// BenchmarkParseLog measures tallying a large request log (the big-file
// workloads log thousands of ranged GETs).
func BenchmarkParseLog(b *testing.B) {
	var sb strings.Builder
	for i := range 10000 {
		sb.WriteString(logLine([]string{"GET", "PROPFIND", "PUT"}[i%3], 200, 4096, 65536))
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if tl, _ := ParseLog(data); tl.Requests != 10000 {
			b.Fatal(tl.Requests)
		}
	}
}
