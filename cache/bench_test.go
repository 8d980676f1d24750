package cache_test

// Benchmarks of the cache's listing path through its public API: storing
// a fresh 1,000-entry listing (what a cold `ls` costs above the
// network), serving it again, and the per-name lookups and attribute
// reads that follow a readdir. The remote is a fixed in-memory listing,
// so only the cache's own work is measured. Run with
//
//	go test -run '^$' -bench . -benchmem ./cache/

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

const (
	benchDir     = "/bench"
	benchEntries = 1000
)

// listRemote answers List of benchDir from a prebuilt slice (a copy per
// call, as a real client returns fresh entries) and counts the calls;
// everything else goes to an empty fake.
type listRemote struct {
	*remotetest.Fake
	self  remote.Entry
	kids  []remote.Entry
	lists int
}

func (r *listRemote) List(ctx context.Context, dir string) (remote.Entry, []remote.Entry, error) {
	if remote.Clean(dir) != benchDir {
		return r.Fake.List(ctx, dir)
	}
	r.lists++
	return r.self, append([]remote.Entry(nil), r.kids...), nil
}

func newListRemote(n int) *listRemote {
	mod := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	r := &listRemote{Fake: remotetest.New(),
		self: remote.Entry{Path: benchDir, IsDir: true, ModTime: mod, ServerModTime: mod, ETag: `"{00000000-0000-0000-0000-000000000000},1"`}}
	r.Fake.AddDir(benchDir)
	for i := range n {
		r.kids = append(r.kids, remote.Entry{
			Path: fmt.Sprintf("%s/file-%04d.txt", benchDir, i), Size: int64(100 + i),
			ModTime: mod, ServerModTime: mod, Created: mod,
			ETag: fmt.Sprintf(`"{%08X-1234-5678-9ABC-DEF012345678},1"`, i),
		})
	}
	return r
}

func openBenchCache(b *testing.B, r remote.Remote) *cache.Cache {
	b.Helper()
	c, err := cache.Open(cache.Options{Dir: b.TempDir(), Library: "https://example/lib", Remote: r,
		DirCacheTime: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func readBenchDir(b *testing.B, c *cache.Cache) {
	kids, err := c.ReadDir(context.Background(), benchDir)
	if err != nil {
		b.Fatal(err)
	}
	if len(kids) != benchEntries {
		b.Fatalf("ReadDir: %d entries, want %d", len(kids), benchEntries)
	}
}

// BenchmarkListingFetch1000 is a listing the cache must fetch: one
// remote List of 1,000 entries, indexed and stored in meta.db (a bbolt
// commit) before ReadDir returns. lists/op must stay 1.
func BenchmarkListingFetch1000(b *testing.B) {
	r := newListRemote(benchEntries)
	c := openBenchCache(b, r)
	readBenchDir(b, c)
	r.lists = 0
	b.ReportAllocs()
	iters := 0
	for b.Loop() {
		c.Invalidate(benchDir)
		readBenchDir(b, c)
		iters++
	}
	b.ReportMetric(float64(r.lists)/float64(iters), "lists/op")
}

// BenchmarkReadDirCached1000 is ReadDir of a fresh cached listing (a
// warm `ls`): no request, lists/op must stay 0.
func BenchmarkReadDirCached1000(b *testing.B) {
	r := newListRemote(benchEntries)
	c := openBenchCache(b, r)
	readBenchDir(b, c)
	r.lists = 0
	b.ReportAllocs()
	iters := 0
	for b.Loop() {
		readBenchDir(b, c)
		iters++
	}
	b.ReportMetric(float64(r.lists)/float64(iters), "lists/op")
}

// BenchmarkLookup1000 looks up every name of a cached 1,000-entry
// listing (the LOOKUP/GETATTR storm after a readdir), one op = 1,000
// lookups, in another case than the server's to exercise case folding
// where it applies. Lookup takes the listing path; Cached is the
// non-blocking variant used for attributes.
func BenchmarkLookup1000(b *testing.B) {
	r := newListRemote(benchEntries)
	names := make([]string, benchEntries)
	upper := make([]string, benchEntries)
	for i, k := range r.kids {
		names[i] = k.Name()
		upper[i] = fmt.Sprintf("FILE-%04d.TXT", i)
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		fn   func(c *cache.Cache, i int) bool
	}{
		{"Lookup", func(c *cache.Cache, i int) bool { _, err := c.Lookup(ctx, benchDir, names[i]); return err == nil }},
		{"LookupFolded", func(c *cache.Cache, i int) bool { _, err := c.Lookup(ctx, benchDir, upper[i]); return err == nil }},
		{"Cached", func(c *cache.Cache, i int) bool { _, ok := c.Cached(benchDir + "/" + names[i]); return ok }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := openBenchCache(b, r)
			readBenchDir(b, c)
			r.lists = 0
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				for i := range benchEntries {
					if !bc.fn(c, i) {
						b.Fatalf("%s of %s failed", bc.name, names[i])
					}
				}
				iters++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*benchEntries), "ns/name")
			b.ReportMetric(float64(r.lists)/float64(iters), "lists/op")
		})
	}
}

// BenchmarkCachedOpenReadClose is one open/read/close of a file whose
// content is already cached (what `cat small-file` costs above the
// kernel once it was read before): Open (a cached listing), one 4 KiB
// ReadAt served from the content cache, Close. gets/op must stay 0.
func BenchmarkCachedOpenReadClose(b *testing.B) {
	r := remotetest.New()
	r.AddDir(benchDir)
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(i)
	}
	p := benchDir + "/cached.bin"
	r.AddFile(p, data, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	c := openBenchCache(b, r)
	ctx := context.Background()
	buf := make([]byte, 4<<10)
	readOnce := func() {
		h, err := c.Open(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := h.ReadAt(ctx, buf, 0); err != nil || n != len(buf) {
			b.Fatalf("ReadAt: %d, %v", n, err)
		}
		h.Close()
	}
	readOnce() // fetch it once
	r.ResetCalls()
	b.ReportAllocs()
	iters := 0
	for b.Loop() {
		readOnce()
		iters++
	}
	b.ReportMetric(float64(r.Calls("Get"))/float64(iters), "gets/op")
}
