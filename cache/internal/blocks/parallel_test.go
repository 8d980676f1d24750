package blocks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// slowGets answers every Get after a pause and records the ranges asked
// and the most GETs in flight at once.
type slowGets struct {
	*remotetest.Fake
	pause time.Duration

	mu       sync.Mutex
	inflight int
	most     int
	ranges   [][2]int64
}

func (g *slowGets) Get(ctx context.Context, p string, off, n int64) (io.ReadCloser, remote.ObjectInfo, error) {
	g.mu.Lock()
	g.inflight++
	g.most = max(g.most, g.inflight)
	g.ranges = append(g.ranges, [2]int64{off, n})
	g.mu.Unlock()
	time.Sleep(g.pause)
	defer func() {
		g.mu.Lock()
		g.inflight--
		g.mu.Unlock()
	}()
	return g.Fake.Get(ctx, p, off, n)
}

func testStore(t *testing.T, r remote.Remote, fetches int) (*Store, context.Context) {
	t.Helper()
	dir := t.TempDir()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"), "lib")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	s, err := New(Options{Dir: filepath.Join(dir, "content"), CacheDir: dir, Limit: 1 << 30, DB: db,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, MaxFetches: fetches,
		Remote: r, Reach: alwaysThere{}, Ctx: ctx, WG: &wg, Invalidate: func(string) {},
		NotCached: func(string, time.Time) error { return errors.New("not cached") },
		Changed:   func(string) error { return errors.New("changed") }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); wg.Wait(); s.Close(); db.Close() })
	return s, ctx
}

// TestSequentialWindowFetchedInParallel: a sequential reader's
// read-ahead windows go out as several ranged GETs at once — more in
// flight than the current window and the next one would be, never more
// than MaxFetches, none longer than a window's share — and every byte
// comes over the wire exactly once, into the right place.
func TestSequentialWindowFetchedInParallel(t *testing.T) {
	const size = 24 << 20
	const fetches = 4
	data := make([]byte, size)
	rand.New(rand.NewSource(7)).Read(data)
	f := remotetest.New()
	f.AddFile("/seq.bin", data, time.Unix(1710000000, 0))
	g := &slowGets{Fake: f, pause: 30 * time.Millisecond}
	s, ctx := testStore(t, g, fetches)
	e, err := f.Stat(ctx, "/seq.bin")
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.OpenEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		n, err := h.ReadAt(ctx, buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
			t.Fatalf("wrong bytes at %d", off)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.most < 3 {
		t.Errorf("at most %d GETs in flight: the windows were not split", g.most)
	}
	if g.most > fetches {
		t.Errorf("%d GETs in flight, MaxFetches is %d", g.most, fetches)
	}
	sort.Slice(g.ranges, func(i, j int) bool { return g.ranges[i][0] < g.ranges[j][0] })
	var next int64
	for _, r := range g.ranges {
		if r[0] != next {
			t.Fatalf("GET at %d, want %d (a byte fetched twice or never): %v", r[0], next, g.ranges)
		}
		if r[1] > MaxReadAhead/fetches {
			t.Errorf("GET of %d bytes: more than a window's share (%d)", r[1], MaxReadAhead/fetches)
		}
		next += r[1]
	}
	if next != size {
		t.Errorf("GETs covered %d bytes, want %d", next, size)
	}
	t.Logf("%d GETs, at most %d in flight", len(g.ranges), g.most)
}

// TestParallelWindowSharedWithRandomReader: a block a random reader is
// waiting for while a sequential window is in flight is not asked for
// again (concurrent readers share one GET per block).
func TestParallelWindowSharedWithRandomReader(t *testing.T) {
	const size = 8 << 20
	data := make([]byte, size)
	rand.New(rand.NewSource(8)).Read(data)
	f := remotetest.New()
	f.AddFile("/shared.bin", data, time.Unix(1710000000, 0))
	g := &slowGets{Fake: f, pause: 50 * time.Millisecond}
	s, ctx := testStore(t, g, 8)
	e, _ := f.Stat(ctx, "/shared.bin")
	seq, err := s.OpenEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	rnd, err := s.OpenEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	defer rnd.Close()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += 1 << 20 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func(off int64) {
			defer wg.Done()
			b := make([]byte, 4096)
			at := min(off+(1<<20)+12345, size-4096)
			if _, err := rnd.ReadAt(ctx, b, at); err != nil || !bytes.Equal(b, data[at:at+4096]) {
				t.Errorf("random read at %d: %v", at, err)
			}
		}(off)
		if _, err := seq.ReadAt(ctx, buf, off); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		wg.Wait()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var total int64
	for _, r := range g.ranges {
		total += r[1]
	}
	if total != size {
		t.Errorf("%d bytes fetched for a %d byte file: a block was asked for twice or never (%v)", total, size, g.ranges)
	}
}

// TestReadSplicedPointsAtCachedBytes: ReadSpliced hands back the cached
// file holding exactly the bytes asked for (fusefs splices from it),
// with a short count and io.EOF at the end of the file, and p untouched.
func TestReadSplicedPointsAtCachedBytes(t *testing.T) {
	const size = 3*BlockSize + 1000
	data := make([]byte, size)
	rand.New(rand.NewSource(9)).Read(data)
	f := remotetest.New()
	f.AddFile("/s.bin", data, time.Unix(1710000000, 0))
	s, ctx := testStore(t, f, 0)
	e, _ := f.Stat(ctx, "/s.bin")
	h, err := s.OpenEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, c := range []struct {
		off, n, want int64
		eof          bool
	}{{0, 4096, 4096, false}, {BlockSize - 10, 20000, 20000, false}, {size - 500, 4096, 500, true}} {
		p := make([]byte, c.n)
		file, n, err := h.ReadSpliced(ctx, p, c.off)
		if file == nil || int64(n) != c.want || errors.Is(err, io.EOF) != c.eof || (err != nil && !errors.Is(err, io.EOF)) {
			t.Fatalf("ReadSpliced(%d, %d): file %v, n %d, err %v", c.off, c.n, file != nil, n, err)
		}
		got := make([]byte, n)
		if _, err := file.ReadAt(got, c.off); err != nil || !bytes.Equal(got, data[c.off:c.off+int64(n)]) {
			t.Fatalf("cached file at %d: %v, equal %v", c.off, err, bytes.Equal(got, data[c.off:c.off+int64(n)]))
		}
		if !bytes.Equal(p, make([]byte, c.n)) {
			t.Fatal("ReadSpliced wrote into p")
		}
	}
}
