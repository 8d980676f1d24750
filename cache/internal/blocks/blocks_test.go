package blocks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote/remotetest"
)

type alwaysThere struct{}

func (alwaysThere) MayAsk() (bool, time.Time) { return true, time.Time{} }
func (alwaysThere) NoteAnswer(error)          {}
func (alwaysThere) Offline() bool             { return false }

// TestLastCloseCommitsNothing: the last close of a cached file writes
// nothing to meta.db (the last-use time waits for flushTouches, outside
// the store's lock); Close writes it, and a record removed meanwhile
// is not brought back.
func TestLastCloseCommitsNothing(t *testing.T) {
	dir := t.TempDir()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"), "lib")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := remotetest.New()
	f.AddFile("/a", make([]byte, 1000), time.Unix(1710000000, 0))
	f.AddFile("/b", make([]byte, 1000), time.Unix(1710000000, 0))
	now := time.Unix(1720000000, 0)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	s, err := New(Options{Dir: filepath.Join(dir, "content"), CacheDir: dir, Limit: 1 << 20, DB: db,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now },
		Remote: f, Reach: alwaysThere{}, Ctx: ctx, WG: &wg, Invalidate: func(string) {},
		NotCached: func(string, time.Time) error { return errors.New("not cached") },
		Changed:   func(string) error { return errors.New("changed") }})
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) {
		t.Helper()
		e, err := f.Stat(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.OpenEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.ReadAt(ctx, make([]byte, 100), 0); err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	read("/a")
	read("/b")
	wg.Wait() // fetches stored their bitmaps
	commits := func() int64 { st := db.Stats(); return st.TxStats.GetWrite() }
	writes := commits()
	now = now.Add(time.Hour)
	read("/a")
	read("/b")
	if got := commits() - writes; got != 0 {
		t.Fatalf("cached open/read/close wrote meta.db %d times, want 0", got)
	}
	s.Drop("/b", "") // removed before the flush
	cancel()
	wg.Wait()
	s.Close()
	var rec metadb.ContentRecord
	if found, err := metadb.GetJSON(db, metadb.BucketContent, metadb.Key("/a"), &rec); err != nil || !found || !rec.LastUsed.Equal(now) {
		t.Fatalf("record of /a after Close: found %v, last used %v, %v; want %v", found, rec.LastUsed, err, now)
	}
	if found, _ := metadb.GetJSON(db, metadb.BucketContent, metadb.Key("/b"), &rec); found {
		t.Fatal("the flush brought back the record of a dropped file")
	}
}
