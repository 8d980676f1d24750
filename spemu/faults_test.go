package spemu_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odfb/odfb/spemu"
)

func lastRecord(t *testing.T, s *spemu.Server) spemu.RequestRecord {
	t.Helper()
	recs := s.Requests()
	if len(recs) == 0 {
		t.Fatal("no request records")
	}
	return recs[len(recs)-1]
}

func TestThrottleAndFail(t *testing.T) {
	s := start(t, nil)
	u := s.LibraryURL()
	s.SetFaults(spemu.Faults{ThrottleRate: 1, RetryAfter: 7})
	r := do(t, "PROPFIND", u, nil, "Depth", "0")
	wantStatus(t, r, 429, "throttled")
	if string(r.body) != "429 TOO MANY REQUESTS" || r.header.Get("Retry-After") != "7" || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("429: body %q Retry-After %q Content-Type %q", r.body, r.header.Get("Retry-After"), r.header.Get("Content-Type"))
	}
	if rec := lastRecord(t, s); rec.Fault != "throttle" || rec.Status != 429 {
		t.Errorf("record %+v", rec)
	}
	s.SetFaults(spemu.Faults{ThrottleRate: 1, ThrottleStatus: 503})
	r = do(t, "GET", u+"/x", nil)
	if r.status != 503 || string(r.body) != "Server Too Busy" || r.header.Get("Retry-After") != "1" {
		t.Errorf("503: %d %q Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	s.SetFaults(spemu.Faults{FailRate: 1})
	seen := map[int]bool{}
	for i := 0; i < 30; i++ {
		r = do(t, "PROPFIND", u, nil, "Depth", "0")
		if r.status != 500 && r.status != 502 && r.status != 503 {
			t.Fatalf("injected failure status %d", r.status)
		}
		if r.header.Get("Retry-After") != "" {
			t.Errorf("failure with Retry-After")
		}
		seen[r.status] = true
	}
	if len(seen) != 3 {
		t.Errorf("failure statuses %v, want 500, 502 and 503", seen)
	}
	if rec := lastRecord(t, s); rec.Fault != "fail" {
		t.Errorf("record %+v", rec)
	}
	s.SetFaults(spemu.Faults{})
	wantStatus(t, do(t, "PROPFIND", u, nil, "Depth", "0"), 207, "after faults were switched off")
	if rec := lastRecord(t, s); rec.Fault != "" {
		t.Errorf("record %+v", rec)
	}
}

func TestDrop(t *testing.T) {
	s := start(t, nil)
	data := bytes.Repeat([]byte("0123456789"), 10000)
	s.WriteFile("/big.bin", data)
	s.SetFaults(spemu.Faults{DropRate: 1})
	res, err := http.Get(s.LibraryURL() + "/big.bin")
	if err == nil {
		got, rerr := io.ReadAll(res.Body)
		res.Body.Close()
		if rerr == nil {
			t.Fatalf("dropped GET read %d bytes without an error", len(got))
		}
		if len(got) == 0 || len(got) >= len(data) {
			t.Errorf("dropped GET delivered %d of %d bytes, want part of it", len(got), len(data))
		}
	}
	if rec := lastRecord(t, s); rec.Fault != "drop" || rec.Method != "GET" {
		t.Errorf("record %+v", rec)
	}
	// An upload is cut before anything is stored.
	req, _ := http.NewRequest("PUT", s.LibraryURL()+"/up.txt", bytes.NewReader([]byte("payload")))
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Errorf("dropped PUT answered %d", res.StatusCode)
	}
	if _, err := s.ReadFile("/up.txt"); err == nil {
		t.Errorf("dropped PUT stored the file")
	}
	// A bodiless request is cut before any answer (the operation ran).
	req, _ = http.NewRequest("MKCOL", s.LibraryURL()+"/d", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Errorf("dropped MKCOL answered %d", res.StatusCode)
	}
	if rec := lastRecord(t, s); rec.Status != 0 && rec.Fault != "drop" {
		t.Errorf("record %+v", rec)
	}
}

// TestFaultsRepeatable: the same seed and request sequence give the same
// faults; another seed gives others.
func TestFaultsRepeatable(t *testing.T) {
	run := func(seed int64) []int {
		s := start(t, func(c *spemu.Config) {
			c.Seed = seed
			c.Faults = spemu.Faults{ThrottleRate: 0.3, FailRate: 0.2, FailStatus: 500}
		})
		var out []int
		for i := 0; i < 40; i++ {
			out = append(out, do(t, "PROPFIND", s.LibraryURL(), nil, "Depth", "0").status)
		}
		return out
	}
	a, b, c := run(42), run(42), run(43)
	if !equalInts(a, b) {
		t.Errorf("seed 42 twice: %v vs %v", a, b)
	}
	if equalInts(a, c) {
		t.Errorf("seeds 42 and 43 gave the same faults %v", a)
	}
	counts := map[int]int{}
	for _, st := range a {
		counts[st]++
	}
	if counts[429] == 0 || counts[500] == 0 || counts[207] == 0 {
		t.Errorf("status mix %v, want some 429, 500 and 207", counts)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLatencyAndBandwidth(t *testing.T) {
	s := start(t, func(c *spemu.Config) { c.Faults.Latency = 30 * time.Millisecond })
	do(t, "PROPFIND", s.LibraryURL(), nil, "Depth", "0")
	if rec := lastRecord(t, s); rec.Fault != "latency" || rec.DurMS < 30 {
		t.Errorf("latency record %+v", rec)
	}
	s.WriteFile("/bw.bin", make([]byte, 64<<10))
	s.SetFaults(spemu.Faults{Bandwidth: 256 << 10})
	r := do(t, "GET", s.LibraryURL()+"/bw.bin", nil)
	wantStatus(t, r, 200, "GET under a bandwidth cap")
	if len(r.body) != 64<<10 {
		t.Fatalf("got %d bytes", len(r.body))
	}
	// 64 KiB at 256 KiB/s takes at least ~250 ms (a lower bound only).
	var rec spemu.RequestRecord
	for _, x := range s.Requests() {
		if x.Method == "GET" {
			rec = x
		}
	}
	if rec.Fault != "bandwidth" || rec.DurMS < 150 {
		t.Errorf("bandwidth record %+v", rec)
	}
}

// A lost answer is the fault the other switches could not produce: the
// server carries the request out in full (the upload is stored) and the
// client hears nothing. "drop" cuts uploads before anything is stored and
// "fail" answers before the handler runs, so until LostRate/LoseAnswers a
// client that mishandled "my PUT/MOVE/chunk may have succeeded" passed
// every test against spemu.
func TestLostAnswer(t *testing.T) {
	s := start(t, nil)
	s.LoseAnswers("PUT", "/up.txt", 1)
	req, _ := http.NewRequest("PUT", s.LibraryURL()+"/up.txt", bytes.NewReader([]byte("payload")))
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("a lost PUT answered %d", res.StatusCode)
	}
	if got, err := s.ReadFile("/up.txt"); err != nil || string(got) != "payload" {
		t.Fatalf("the PUT whose answer was lost was not stored: %q, %v", got, err)
	}
	if rec := lastRecord(t, s); rec.Fault != "lost" || rec.Status != 201 || rec.Method != "PUT" {
		t.Errorf("record %+v, want fault lost with the status the server decided (201)", rec)
	}
	// Only the order's requests are lost; the next one is answered.
	wantStatus(t, do(t, "PUT", s.LibraryURL()+"/up.txt", []byte("again")), 204, "PUT after the lost one")
	// A lost answer with a body sends none of it. (A fresh connection:
	// on a reused one Go's transport would replay the GET by itself.)
	s.LoseAnswers("", "", 1)
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if res, err := fresh.Get(s.LibraryURL() + "/up.txt"); err == nil {
		res.Body.Close()
		t.Fatalf("a lost GET answered %d", res.StatusCode)
	}
	// The random form, through Faults.
	s.SetFaults(spemu.Faults{LostRate: 1})
	req, _ = http.NewRequest("MKCOL", s.LibraryURL()+"/d", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("a lost MKCOL answered %d", res.StatusCode)
	}
	s.SetFaults(spemu.Faults{})
	wantStatus(t, do(t, "MKCOL", s.LibraryURL()+"/d", nil), 405, "MKCOL of the folder the lost MKCOL made")
}

// TestDown: while Down, no request is carried out (unlike a dropped
// request without a body, which is done before its answer is cut), every
// connection is cut, and the log says "down"; switched off, the server
// answers again.
func TestDown(t *testing.T) {
	s := start(t, nil)
	s.SetFaults(spemu.Faults{Down: true})
	req, _ := http.NewRequest("MKCOL", s.LibraryURL()+"/made-while-down", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("MKCOL while down answered %d", res.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "made-while-down")); !os.IsNotExist(err) {
		t.Errorf("the MKCOL was carried out while down: %v", err)
	}
	if rec := lastRecord(t, s); rec.Fault != "down" {
		t.Errorf("record %+v", rec)
	}
	s.SetFaults(spemu.Faults{})
	wantStatus(t, do(t, "MKCOL", s.LibraryURL()+"/made-after", nil), 201, "after the outage")
}
