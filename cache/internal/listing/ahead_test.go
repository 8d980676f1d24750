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

func aheadStore(t *testing.T, f remote.Remote, ahead, budget int) (*Store, context.CancelFunc, *sync.WaitGroup) {
	t.Helper()
	db, err := metadb.Open(filepath.Join(t.TempDir(), "meta.db"), "lib")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	s := New(Options{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Remote: f, Reach: &stubReach{},
		TTL: time.Hour, Ctx: ctx, WG: wg, Ahead: ahead, AheadBudget: budget,
		DropContent: func(string, remote.Entry) {}, DropContentTree: func(string) {}, ApplyMtimes: func([]remote.Entry) {},
		ForgetMtimes: func([]string) {}, NotDir: func(string) error { return errors.New("not a folder") }})
	t.Cleanup(func() { cancel(); wg.Wait(); s.Close() })
	return s, cancel, wg
}

// TestListAheadWalk: a walk finds its subfolders listed ahead, and every
// folder is still listed once.
func TestListAheadWalk(t *testing.T) {
	f := remotetest.New()
	for i := range 20 {
		for j := range 3 {
			f.AddFile(fmt.Sprintf("/d%02d/s%d/f.txt", i, j), []byte("x"), time.Unix(1710000000, 0))
		}
	}
	s, _, _ := aheadStore(t, slowList{f}, 4, 0)
	ctx := context.Background()
	var walk func(string)
	walk = func(dir string) {
		ds, err := s.Get(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ds.Kids() {
			if k.IsDir {
				walk(k.Path)
			}
		}
	}
	walk("/")
	folders := 1 + 20 + 60
	if n := f.Calls("List"); n != folders {
		t.Fatalf("%d Lists for %d folders, want one each", n, folders)
	}
	if n := s.AheadFetched(); n == 0 {
		t.Fatal("nothing was listed ahead")
	}
	t.Logf("%d of %d folders listed ahead", s.AheadFetched(), folders)
}

// TestListAheadBudget: without a walk, no more than the budget is
// listed ahead; each lookup of one of them makes room for one more.
func TestListAheadBudget(t *testing.T) {
	f := remotetest.New()
	for i := range 50 {
		f.AddDir(fmt.Sprintf("/d%02d", i))
	}
	s, cancel, wg := aheadStore(t, f, 2, 5)
	ctx := context.Background()
	if _, err := s.Get(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	settle := func() {
		for range 200 {
			s.ahead.mu.Lock()
			r := s.ahead.running
			s.ahead.mu.Unlock()
			if r == 0 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatal("workers do not stop")
	}
	settle()
	if n := f.Calls("List"); n != 1+5 {
		t.Fatalf("%d Lists after a lookup of the root, want 1 + the budget of 5", n)
	}
	if _, err := s.Get(ctx, "/d00"); err != nil { // listed ahead: no request, and room for one more
		t.Fatal(err)
	}
	settle()
	if n := f.Calls("List"); n != 1+6 {
		t.Fatalf("%d Lists after one use, want 7", n)
	}
	cancel()
	wg.Wait()
}

// slowList answers List after a round trip of 2 ms, so the walk has
// something to overlap.
type slowList struct{ *remotetest.Fake }

func (s slowList) List(ctx context.Context, dir string) (remote.Entry, []remote.Entry, error) {
	time.Sleep(2 * time.Millisecond)
	return s.Fake.List(ctx, dir)
}
