package reach

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
)

// TestAwayProbeBack: away, requests are refused until the interval has
// passed; then exactly one caller probes; an answer brings the server
// back (OnBack runs), a cancelled request changes nothing.
func TestAwayProbeBack(t *testing.T) {
	now := time.Unix(1720000000, 0)
	backs := 0
	s := New(Options{Now: func() time.Time { return now }, Interval: 30 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnBack: func() { backs++ }})
	if ok, _ := s.MayAsk(); !ok || s.Offline() || s.Holding() {
		t.Fatal("a new State must take the server to be there")
	}
	s.NoteAnswer(&remote.Error{Kind: remote.ErrUnavailable})
	if !s.Offline() || !s.Holding() {
		t.Fatal("ErrUnavailable must make it away")
	}
	if ok, until := s.MayAsk(); ok || !until.Equal(now.Add(30*time.Second)) {
		t.Fatalf("away: MayAsk %v until %v", ok, until)
	}
	now = now.Add(31 * time.Second)
	if ok, _ := s.MayAsk(); !ok {
		t.Fatal("after the interval one probe may ask")
	}
	if ok, _ := s.MayAsk(); ok {
		t.Fatal("a second caller while the probe runs must be refused")
	}
	s.NoteAnswer(context.Canceled)
	if !s.Offline() || backs != 0 {
		t.Fatal("a cancelled request must change nothing")
	}
	s.NoteAnswer(&remote.Error{Kind: remote.ErrNotFound})
	if s.Offline() || s.Holding() || backs != 1 {
		t.Fatalf("any answer brings it back: offline %v, OnBack %d", s.Offline(), backs)
	}
}
