package writes

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestPendingMoves: the machine has exactly the transitions of the table
// in pending_state.go, and no other.
func TestPendingMoves(t *testing.T) {
	want := map[[2]pstate]bool{
		{stateLocal, stateQueued}: true, {stateLocal, stateRemoved}: true,
		{stateQueued, stateUploading}: true, {stateQueued, stateRemoved}: true,
		{stateUploading, stateQueued}: true, {stateUploading, stateLocal}: true,
		{stateUploading, stateUploaded}: true, {stateUploading, stateLost}: true,
	}
	all := []pstate{stateLocal, stateQueued, stateUploading, stateUploaded, stateRemoved, stateLost}
	for _, from := range all {
		for _, to := range all {
			if got := canMove(from, to); got != (want[[2]pstate{from, to}] || from == to) {
				t.Errorf("%v → %v: allowed %v", from, to, got)
			}
		}
	}
	w := &Writer{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p := &pending{state: stateUploaded}
	if w.moveLocked(p, stateQueued) || p.state != stateQueued {
		t.Errorf("an illegal move must be reported (and made): %v", p.state)
	}
}

// stateOf returns the state of the pending file held for p.
func stateOf(w *testWriter, pd *pending) pstate {
	w.mu.Lock()
	defer w.mu.Unlock()
	return pd.state
}

func pendingOf(t *testing.T, w *testWriter, p string) *pending {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	pd := w.byPath[fold(p)]
	if pd == nil {
		t.Fatalf("%s is not pending", p)
	}
	return pd
}

// TestPendingTransitions drives every transition through the cache's
// API and checks the state it leaves, and the server's side.
func TestPendingTransitions(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T, c *testWriter, p string, data string) *WriteHandle {
		t.Helper()
		h, err := c.OpenWrite(ctx, p, true, false, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.WriteAt(ctx, []byte(data), 0); err != nil {
			t.Fatal(err)
		}
		return h
	}
	t.Run("local→queued→uploading→uploaded", func(t *testing.T) {
		f := remotetest.New()
		c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Hour})
		h := open(t, c, "/a.txt", "a")
		pd := pendingOf(t, c, "/a.txt")
		if s := stateOf(c, pd); s != stateLocal {
			t.Fatalf("open, written, not flushed: %v", s)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		if s := stateOf(c, pd); s != stateQueued {
			t.Fatalf("closed: %v, want queued", s)
		}
		if err := c.Sync(syncCtx(t)); err != nil {
			t.Fatal(err)
		}
		if s := stateOf(c, pd); s != stateUploaded {
			t.Fatalf("synced: %v, want uploaded", s)
		}
		if f.Calls("Put") != 1 {
			t.Fatalf("%d PUTs", f.Calls("Put"))
		}
	})
	t.Run("uploading→local (still open)", func(t *testing.T) {
		f := remotetest.New()
		c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Hour})
		h := open(t, c, "/b.txt", "b")
		if err := h.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		pd := pendingOf(t, c, "/b.txt")
		if err := c.Sync(syncCtx(t)); err != nil {
			t.Fatal(err)
		}
		if s := stateOf(c, pd); s != stateLocal {
			t.Fatalf("uploaded while open: %v, want local", s)
		}
		h.Close()
	})
	t.Run("uploading→queued (failed)", func(t *testing.T) {
		f := remotetest.New()
		// DrainTimeout: the failure stays, and the cleanup's close must
		// not wait for it.
		c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Hour, RetryBase: time.Hour, DrainTimeout: 50 * time.Millisecond})
		h := open(t, c, "/c.txt", "c")
		h.Close()
		pd := pendingOf(t, c, "/c.txt")
		f.Fail("Put", remote.ErrServer)
		var se *SyncError
		if err := c.Sync(syncCtx(t)); !errors.As(err, &se) || len(se.Failed) != 1 {
			t.Fatalf("sync: %v, want the failure", err)
		}
		if s := stateOf(c, pd); s != stateQueued {
			t.Fatalf("failed: %v, want queued", s)
		}
	})
	t.Run("uploading→lost", func(t *testing.T) {
		f := remotetest.New()
		c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Hour})
		h := open(t, c, "/d.txt", "d")
		h.Close()
		pd := pendingOf(t, c, "/d.txt")
		f.Fail("Put", remote.ErrInvalidName)
		var se *SyncError
		if err := c.Sync(syncCtx(t)); !errors.As(err, &se) || len(se.Lost) != 1 {
			t.Fatalf("sync: %v, want lost+found", err)
		}
		if s := stateOf(c, pd); s != stateLost {
			t.Fatalf("refused: %v, want lost", s)
		}
	})
	t.Run("queued→removed and local→removed", func(t *testing.T) {
		f := remotetest.New()
		c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Hour})
		h := open(t, c, "/e.txt", "e")
		h.Close()
		queued := pendingOf(t, c, "/e.txt")
		h2 := open(t, c, "/f.txt", "f")
		local := pendingOf(t, c, "/f.txt")
		for _, p := range []string{"/e.txt", "/f.txt"} {
			if err := c.Remove(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if s := stateOf(c, queued); s != stateRemoved {
			t.Fatalf("queued, unlinked: %v", s)
		}
		if s := stateOf(c, local); s != stateRemoved {
			t.Fatalf("open, unlinked: %v", s)
		}
		h2.Close()
		if err := c.Sync(syncCtx(t)); err != nil || f.Calls("Put") != 0 {
			t.Fatalf("sync: %v, %d PUTs, want none", err, f.Calls("Put"))
		}
	})
}

// TestPendingCrashTransitions: the transitions a crash can interrupt,
// as the next start finds them. A "crash" is a cache closed while the
// server does not answer (the journal keeps the record; DrainTimeout
// ends the wait), then opened again on the same directory.
func TestPendingCrashTransitions(t *testing.T) {
	ctx := context.Background()
	crash := func(t *testing.T, dir string, f *remotetest.Fake, p string, data []byte) {
		t.Helper()
		c := writeCache(t, dir, f, WriteOptions{WriteBack: time.Hour, DrainTimeout: 50 * time.Millisecond, RetryBase: time.Hour})
		h, err := c.OpenWrite(ctx, p, true, false, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.WriteAt(ctx, data, 0); err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		f.Fail("Put", remote.ErrUnavailable)
		if left := c.CloseWrites(); left != 1 {
			t.Fatalf("%d uploads left at close, want 1", left)
		}
		c.Close()
		f.Fail("Put", nil)
	}
	t.Run("queued→uploading interrupted: starts queued and uploads", func(t *testing.T) {
		f := remotetest.New()
		dir := t.TempDir()
		data := []byte("journaled, never sent")
		crash(t, dir, f, "/q.txt", data)
		f.ResetCalls()
		c := writeCache(t, dir, f, WriteOptions{WriteBack: time.Hour})
		// Loaded from the journal as queued; the uploader may already
		// have started it.
		if s := stateOf(c, pendingOf(t, c, "/q.txt")); s != stateQueued && s != stateUploading {
			t.Fatalf("after restart: %v, want queued (or uploading)", s)
		}
		if err := c.Sync(syncCtx(t)); err != nil {
			t.Fatal(err)
		}
		if f.Calls("Put") != 1 {
			t.Fatalf("%d PUTs after restart, want 1", f.Calls("Put"))
		}
		rc, _, err := f.Get(ctx, "/q.txt", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var got bytes.Buffer
		got.ReadFrom(rc)
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("server holds %q", got.Bytes())
		}
	})
	t.Run("uploading→uploaded interrupted: the server has ours, no conflict copy", func(t *testing.T) {
		f := remotetest.New()
		dir := t.TempDir()
		data := []byte("sent, but the record survived")
		crash(t, dir, f, "/u.txt", data)
		// The PUT reached the server before the crash; the record did
		// not go.
		f.AddFile("/u.txt", data, time.Unix(1720000000, 0))
		// The server stays away until the pending file is in hand (the
		// uploader may start it at once).
		f.Fail("Put", remote.ErrUnavailable)
		c := writeCache(t, dir, f, WriteOptions{WriteBack: time.Hour, RetryBase: time.Hour})
		pd := pendingOf(t, c, "/u.txt")
		f.Fail("Put", nil)
		if err := c.Sync(syncCtx(t)); err != nil {
			t.Fatal(err)
		}
		if s := stateOf(c, pd); s != stateUploaded {
			t.Fatalf("after restart and sync: %v, want uploaded", s)
		}
		if st := c.Status(); len(st.Conflicts) != 0 {
			t.Fatalf("conflict copies: %+v", st.Conflicts)
		}
		if _, err := f.Stat(ctx, "/u.txt"); err != nil {
			t.Fatal(err)
		}
		if c.PendingUploads() != 0 {
			t.Fatalf("%d uploads left", c.PendingUploads())
		}
	})
}

// TestUploadedLocked: the one decision of "is this version on the
// server" that Sync and a --sync-upload flush share.
func TestUploadedLocked(t *testing.T) {
	for _, c := range []struct {
		name          string
		p             *pending
		gen           uint64
		content, done bool
	}{
		{"never uploaded", &pending{}, 1, false, false},
		{"this version up", &pending{uploadedGen: 1}, 1, true, true},
		{"a later version up", &pending{uploadedGen: 2}, 1, true, true},
		{"an older version up", &pending{uploadedGen: 1}, 2, false, false},
		{"uploading again", &pending{uploadedGen: 1, state: stateUploading}, 1, false, false},
		{"content up, mtime still to set", &pending{uploadedGen: 1, rec: JournalRecord{ContentDone: true, ModTimeSet: true}}, 1, true, false},
		{"content up, mtime set with it", &pending{uploadedGen: 1, rec: JournalRecord{ModTimeSet: true}}, 1, true, true},
	} {
		content, done := c.p.uploadedLocked(c.gen)
		if content != c.content || done != c.done {
			t.Errorf("%s: content %v done %v, want %v %v", c.name, content, done, c.content, c.done)
		}
	}
}
