package spemutest

import (
	"encoding/json"
	"testing"

	"github.com/odfb/odfb/spemu"
)

// tailRecords is how many request records a failing test logs.
const tailRecords = 50

// Start starts spemu with cfg on 127.0.0.1:0 (or on cfg.Listen when set,
// e.g. to restart on the same address), with a t.TempDir root unless
// cfg.Root is set, registers Close with t.Cleanup and fails the test when
// it cannot start. When the test fails, the last ~50 request records are
// logged.
func Start(t testing.TB, cfg spemu.Config) *spemu.Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	s, err := spemu.New(cfg)
	if err != nil {
		t.Fatalf("spemu: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("spemu: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			recs := s.Requests()
			if len(recs) > tailRecords {
				recs = recs[len(recs)-tailRecords:]
			}
			t.Logf("spemu: last %d requests:", len(recs))
			for _, r := range recs {
				line, _ := json.Marshal(r)
				t.Logf("  %s", line)
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("spemu close: %v", err)
		}
	})
	return s
}
