package listing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestListingsCommittedInBatches: a walk of 300 folders is not 300
// fsynced bbolt commits; the listings reach meta.db by Close.
func TestListingsCommittedInBatches(t *testing.T) {
	db, err := metadb.Open(filepath.Join(t.TempDir(), "meta.db"), "lib")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := remotetest.New()
	const n = 300
	for i := range n {
		f.AddFile(fmt.Sprintf("/d%03d/a.txt", i), []byte("x"), time.Unix(1710000000, 0))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	s := New(Options{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Remote: f, Reach: &stubReach{},
		TTL: time.Minute, Ctx: ctx, WG: &wg,
		DropContent: func(string, remote.Entry) {}, DropContentTree: func(string) {}, ApplyMtimes: func([]remote.Entry) {},
		ForgetMtimes: func([]string) {}, NotDir: func(string) error { return errors.New("not a folder") }})
	var walk sync.WaitGroup
	for i := range n {
		walk.Add(1)
		go func() {
			defer walk.Done()
			if _, err := s.Get(ctx, fmt.Sprintf("/d%03d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	walk.Wait()
	cancel()
	wg.Wait()
	s.Close()
	if c := s.Commits(); c > n/10 {
		t.Errorf("%d listings took %d commits, want batches (at most %d)", n, c, n/10)
	}
	t.Logf("%d listings, %d commits", n, s.Commits())
	for i := range n {
		var rec metadb.DirRecord
		if ok, err := metadb.GetJSON(db, metadb.BucketDirs, metadb.Key(fmt.Sprintf("/d%03d", i)), &rec); !ok || err != nil || len(rec.Kids) != 1 {
			t.Fatalf("listing %d not stored after Close: %v %v %+v", i, ok, err, rec)
		}
	}
}
