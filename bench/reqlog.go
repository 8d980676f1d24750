package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Request is one line of spemu's request log (--request-log): one JSON
// object per request, written when the request has been answered. Fields
// the harness does not use are ignored, so the log may grow new ones.
type Request struct {
	Method    string  `json:"method"`
	Path      string  `json:"path"`
	Status    int     `json:"status"`
	ReqBytes  int64   `json:"req_bytes"`
	RespBytes int64   `json:"resp_bytes"`
	DurMS     float64 `json:"dur_ms"`
	Depth     string  `json:"depth"`
	Range     string  `json:"range"`
	Fault     string  `json:"fault"`
}

// Tally sums the requests of one measured phase.
type Tally struct {
	Requests  int            // all requests
	ByMethod  map[string]int // requests per HTTP method
	ByStatus  map[int]int    // requests per status code
	Errors    int            // answered with status >= 400
	ReqBytes  int64          // request bodies (uploads)
	RespBytes int64          // response bodies (downloads, listings)
	Malformed int            // log lines that were not a JSON object
}

// Add counts one request.
func (t *Tally) Add(r Request) {
	if t.ByMethod == nil {
		t.ByMethod = map[string]int{}
	}
	if t.ByStatus == nil {
		t.ByStatus = map[int]int{}
	}
	t.Requests++
	t.ByMethod[strings.ToUpper(r.Method)]++
	t.ByStatus[r.Status]++
	if r.Status >= 400 {
		t.Errors++
	}
	t.ReqBytes += r.ReqBytes
	t.RespBytes += r.RespBytes
}

// Count returns the number of requests with method m.
func (t Tally) Count(m string) int { return t.ByMethod[strings.ToUpper(m)] }

// String lists the methods by count, most frequent first, ties by name:
// "GET 12, PROPFIND 2". It returns "0" for an empty tally and appends the
// number of error answers, if any.
func (t Tally) String() string {
	if t.Requests == 0 {
		return "0"
	}
	methods := make([]string, 0, len(t.ByMethod))
	for m := range t.ByMethod {
		methods = append(methods, m)
	}
	sort.Slice(methods, func(i, j int) bool {
		ci, cj := t.ByMethod[methods[i]], t.ByMethod[methods[j]]
		if ci != cj {
			return ci > cj
		}
		return methods[i] < methods[j]
	})
	parts := make([]string, len(methods))
	for i, m := range methods {
		parts[i] = fmt.Sprintf("%s %d", m, t.ByMethod[m])
	}
	s := strings.Join(parts, ", ")
	if t.Errors > 0 {
		s += " (" + t.errorStatuses() + ")"
	}
	return s
}

// errorStatuses lists the answers >= 400 by status: "404×21, 405×20".
// Not every one is a failure: a PROPFIND of a file about to be created
// is a 404 by design.
func (t Tally) errorStatuses() string {
	var codes []int
	for c := range t.ByStatus {
		if c >= 400 {
			codes = append(codes, c)
		}
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%d×%d", c, t.ByStatus[c])
	}
	return strings.Join(parts, ", ")
}

// ParseLog tallies every complete line of a request log. A final line
// without its newline is still being written and is left out; its length
// is returned as rest so a caller tailing the file can read it next time.
// Blank lines are skipped, lines that are not JSON are counted as
// Malformed rather than failing the whole phase.
func ParseLog(data []byte) (t Tally, rest int) {
	t.ByMethod, t.ByStatus = map[string]int{}, map[int]int{}
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return t, len(data)
		}
		line := bytes.TrimSpace(data[:nl])
		data = data[nl+1:]
		if len(line) == 0 {
			continue
		}
		var r Request
		if err := json.Unmarshal(line, &r); err != nil || r.Method == "" {
			t.Malformed++
			continue
		}
		t.Add(r)
	}
	return t, 0
}

// LogTail reads a request log that another process appends to. Mark
// remembers where a phase starts; Since tallies what was logged after it.
// This replaces "reset the log between workloads": the file keeps the
// whole run for later reading.
type LogTail struct {
	Path string
}

// Mark returns the current end of the log (0 if it does not exist yet).
func (l LogTail) Mark() (int64, error) {
	fi, err := os.Stat(l.Path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Since tallies the complete lines written after mark.
func (l LogTail) Since(mark int64) (Tally, error) {
	f, err := os.Open(l.Path)
	if err != nil {
		return Tally{}, fmt.Errorf("request log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		return Tally{}, fmt.Errorf("request log %s: %w", l.Path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return Tally{}, fmt.Errorf("request log %s: %w", l.Path, err)
	}
	t, _ := ParseLog(data)
	return t, nil
}
