package listing

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
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

type stubReach struct{ backs, aways int }

func (r *stubReach) Back()                   { r.backs++ }
func (r *stubReach) Away(error)              { r.aways++ }
func (r *stubReach) Holding() bool           { return false }
func (r *stubReach) Interval() time.Duration { return 30 * time.Second }

// TestListingFreshStaleHeld: one List serves until the TTL; after it (or
// Invalidate) the folder is listed again; a failed refresh serves the
// stored listing and is held for the interval (no List per lookup); a
// file whose version changed has its content dropped.
func TestListingFreshStaleHeld(t *testing.T) {
	dir := t.TempDir()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"), "lib")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := remotetest.New()
	f.AddDir("/d")
	f.AddFile("/d/a.txt", []byte("one"), time.Unix(1710000000, 0))
	now := time.Unix(1720000000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var dropped []string
	var wg sync.WaitGroup
	r := &stubReach{}
	s := New(Options{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock, Remote: f, Reach: r,
		TTL: time.Minute, Ctx: context.Background(), WG: &wg,
		DropContent:     func(p string, keep remote.Entry) { dropped = append(dropped, p) },
		DropContentTree: func(string) {}, ApplyMtimes: func([]remote.Entry) {}, ForgetMtimes: func([]string) {},
		NotDir: func(d string) error { return errors.New("not a folder") }})
	ctx := context.Background()
	get := func() *Dir {
		t.Helper()
		d, err := s.Get(ctx, "/d")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if _, ok := get().Find("A.TXT"); !ok {
		t.Fatal("a.txt not found case-insensitively")
	}
	get()
	if n := f.Calls("List"); n != 1 {
		t.Fatalf("%d Lists for two lookups within the TTL, want 1", n)
	}
	f.AddFile("/d/a.txt", []byte("two!"), time.Unix(1710000001, 0)) // a new version
	s.Invalidate("/d")
	if e, _ := get().Find("a.txt"); e.Size != 4 || f.Calls("List") != 2 {
		t.Fatalf("after Invalidate: size %d, %d Lists; want the new version, 2", e.Size, f.Calls("List"))
	}
	if len(dropped) != 1 || dropped[0] != "/d/a.txt" {
		t.Fatalf("content dropped for %v, want the changed file", dropped)
	}
	advance(2 * time.Minute)
	f.Fail("List", remote.ErrServer)
	for range 3 {
		if _, ok := get().Find("a.txt"); !ok {
			t.Fatal("a failed refresh must serve the stored listing")
		}
	}
	if n := f.Calls("List"); n != 3 {
		t.Fatalf("%d Lists, want 3: the failed refresh is held, not repeated per lookup", n)
	}
	wg.Wait()
}
