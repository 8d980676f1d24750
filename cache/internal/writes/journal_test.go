package writes

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestLookupDuringJournalCommit: the journal's commit (a bbolt commit
// with fsync, slow on a busy disk) never runs with Writer.mu held, which
// every lookup, stat and readdir of the mount takes. An upload ends and
// its record's removal is held in the commit; meanwhile the pending
// files are read (as lookups do) and another file is written and
// closed. Before journal.go, the removal was committed under Writer.mu.
func TestLookupDuringJournalCommit(t *testing.T) {
	f := remotetest.New()
	c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Hour})
	ctx := context.Background()
	write := func(p, data string) {
		t.Helper()
		h, err := c.OpenWrite(ctx, p, true, false, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.WriteAt(ctx, []byte(data), 0); err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("/a.txt", "uploaded while the journal is held")

	held, release := make(chan struct{}), make(chan struct{})
	armed := true
	applyJournal = func(db *bolt.DB, ops []metadb.JournalOp) error {
		if armed {
			armed = false // applyMu serialises commits: no race on armed
			close(held)
			<-release
		}
		return metadb.ApplyJournal(db, ops)
	}
	t.Cleanup(func() { applyJournal = metadb.ApplyJournal })

	synced := make(chan error, 1)
	go func() { synced <- c.Sync(syncCtx(t)) }()
	select {
	case <-held:
	case err := <-synced:
		t.Fatalf("sync ended before the journal commit was held: %v", err)
	}
	answered := make(chan error, 1)
	go func() {
		if _, ok := c.PendingEntry("/a.txt"); ok {
			// Uploaded: no longer pending (it is in the recent set).
			answered <- errors.New("/a.txt still pending after its upload")
			return
		}
		if _, ok := c.RecentEntry("/a.txt"); !ok {
			answered <- errors.New("/a.txt not among the recent uploads")
			return
		}
		if _, err := c.h.Stat(ctx, "/a.txt"); err != nil {
			answered <- err
			return
		}
		answered <- nil
	}()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second): // a deadlock detector, not a timing
		close(release)
		t.Fatal("lookups waited for the journal commit: it runs under Writer.mu")
	}
	close(release)
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	c.jrn.flush()
	if recs, err := metadb.LoadJournal(c.db); err != nil || len(recs) != 0 {
		t.Fatalf("journal after the upload: %+v, %v", recs, err)
	}
	if _, err := f.Stat(ctx, "/a.txt"); err != nil {
		t.Fatal(err)
	}
}
