package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func quietLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func openCache(t *testing.T, dir string, r remote.Remote, clk *clock, size int64) *Cache {
	t.Helper()
	c, err := Open(Options{Dir: dir, Library: "https://example/lib", Remote: r, DirCacheTime: time.Minute,
		CacheSize: size, Now: clk.now, Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seeded returns n bytes of seeded pseudo-random data: one random block,
// repeated with a different rotation per block so that no two blocks are
// equal (cheap enough for hundreds of MiB under -race).
func seeded(n int, seed int64) []byte {
	base := make([]byte, BlockSize)
	rand.New(rand.NewSource(seed)).Read(base)
	b := make([]byte, n)
	for off, k := 0, 0; off < n; off, k = off+BlockSize, k+1 {
		r := (k * 4099) % BlockSize
		m := copy(b[off:], base[r:])
		copy(b[off+m:min(off+BlockSize, n)], base[:r])
	}
	return b
}

func TestListingServesLookups(t *testing.T) {
	f := remotetest.New()
	mt := time.Unix(1710000000, 0)
	for i := 0; i < 100; i++ {
		f.AddFile(fmt.Sprintf("/dir/file%03d.txt", i), []byte("x"), mt)
	}
	f.AddFile("/dir/Mixed Case.TXT", []byte("hello"), mt)
	clk := &clock{t: time.Unix(1720000000, 0)}
	c := openCache(t, t.TempDir(), f, clk, 0)
	defer c.Close()
	ctx := context.Background()

	kids, err := c.ReadDir(ctx, "/dir")
	if err != nil || len(kids) != 101 {
		t.Fatalf("ReadDir: %d entries, %v", len(kids), err)
	}
	for i := 1; i < len(kids); i++ {
		if kids[i-1].Name() >= kids[i].Name() {
			t.Fatalf("not sorted: %q before %q", kids[i-1].Name(), kids[i].Name())
		}
	}
	for _, k := range kids {
		if _, err := c.Stat(ctx, k.Path); err != nil {
			t.Fatalf("Stat %s: %v", k.Path, err)
		}
	}
	e, err := c.Lookup(ctx, "/DIR", "mixed case.txt")
	if err != nil || e.Path != "/dir/Mixed Case.TXT" || e.Size != 5 {
		t.Fatalf("case-insensitive lookup: %+v %v", e, err)
	}
	if _, err := c.Lookup(ctx, "/dir", "nope"); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("missing name: %v", err)
	}
	if n := f.Calls("List"); n != 1 {
		t.Fatalf("List calls = %d, want 1 (one listing serves all lookups)", n)
	}
	if n := f.TotalCalls(); n != 1 {
		t.Fatalf("total calls = %d, want 1", n)
	}
	// After dir-cache-time, one more listing.
	clk.add(61 * time.Second)
	if _, err := c.Lookup(ctx, "/dir", "file000.txt"); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("List"); n != 2 {
		t.Fatalf("List calls after expiry = %d, want 2", n)
	}
}

func TestNegativeFolder(t *testing.T) {
	f := remotetest.New()
	clk := &clock{t: time.Unix(1720000000, 0)}
	c := openCache(t, t.TempDir(), f, clk, 0)
	defer c.Close()
	for i := 0; i < 3; i++ {
		if _, err := c.ReadDir(context.Background(), "/missing"); !errors.Is(err, remote.ErrNotFound) {
			t.Fatalf("ReadDir missing: %v", err)
		}
	}
	if n := f.Calls("List"); n != 1 {
		t.Fatalf("List calls = %d, want 1 (negative entry cached)", n)
	}
}

func TestRestartServesStoredTreeAndRevalidates(t *testing.T) {
	f := remotetest.New()
	data := seeded(3*BlockSize+123, 1)
	f.AddFile("/a/b.bin", data, time.Unix(1710000000, 0))
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1720000000, 0)}
	c := openCache(t, dir, f, clk, 0)
	ctx := context.Background()
	h, err := c.Open(ctx, "/a/b.bin")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if n, err := h.ReadAt(ctx, got, 0); n != len(data) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt: %d %v", n, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	h.Close()
	c.Close()

	// Server away: the stored tree and content are served.
	f.Fail("*", remote.ErrUnavailable)
	f.ResetCalls()
	c = openCache(t, dir, f, clk, 0)
	e, err := c.Stat(ctx, "/a/b.bin")
	if err != nil || e.Size != int64(len(data)) {
		t.Fatalf("offline Stat: %+v %v", e, err)
	}
	h, err = c.Open(ctx, "/a/b.bin")
	if err != nil {
		t.Fatal(err)
	}
	got = make([]byte, len(data))
	if n, err := h.ReadAt(ctx, got, 0); n != len(data) || (err != nil && err != io.EOF) {
		t.Fatalf("offline ReadAt: %d %v", n, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("offline content differs")
	}
	h.Close()
	if n := f.Calls("Get"); n != 0 {
		t.Fatalf("offline Get calls = %d", n)
	}
	// Still offline after expiry: stale served.
	clk.add(2 * time.Hour)
	if _, err := c.ReadDir(ctx, "/a"); err != nil {
		t.Fatalf("stale ReadDir offline: %v", err)
	}
	c.Close()

	// Server back with a changed file: first answer is stored, background
	// revalidation brings the new version.
	f.Fail("*", nil)
	newData := seeded(1000, 2)
	f.AddFile("/a/b.bin", newData, time.Unix(1730000000, 0))
	c = openCache(t, dir, f, clk, 0)
	defer c.Close()
	if _, err := c.Stat(ctx, "/a/b.bin"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, _ := c.Stat(ctx, "/a/b.bin")
		if e.Size == 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background revalidation never showed the new size")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h, err = c.Open(ctx, "/a/b.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	got = make([]byte, 2000)
	n, _ := h.ReadAt(ctx, got, 0)
	if !bytes.Equal(got[:n], newData) {
		t.Fatal("new content not served after ETag change")
	}
	if c.ContentUsed() != 1000 {
		t.Fatalf("content used = %d, want 1000 (old version dropped)", c.ContentUsed())
	}
}

func TestSequentialReadAhead(t *testing.T) {
	f := remotetest.New()
	size := 64 << 20
	data := seeded(size, 3)
	f.AddFile("/big", data, time.Unix(1710000000, 0))
	clk := &clock{t: time.Unix(1720000000, 0)}
	c := openCache(t, t.TempDir(), f, clk, 0)
	defer c.Close()
	ctx := context.Background()
	h, err := c.Open(ctx, "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	hash := sha256.New()
	buf := make([]byte, 128<<10)
	for off := int64(0); off < int64(size); off += int64(len(buf)) {
		n, err := h.ReadAt(ctx, buf, off)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		hash.Write(buf[:n])
	}
	if want := sha256.Sum256(data); !bytes.Equal(hash.Sum(nil), want[:]) {
		t.Fatal("content hash differs")
	}
	// Windows 1,2,4,8,16,32 MiB = 63 MiB in 6 GETs, then the last MiB: 7
	// (whatever the block size: the windows are counted in bytes).
	gets := f.Gets()
	var sent int64
	for _, g := range gets {
		sent += g.Sent
	}
	if len(gets) > 7 || sent != int64(size) {
		t.Fatalf("%d GETs moving %d bytes; want <= 7 moving exactly %d: %+v", len(gets), sent, size, gets)
	}
}

func TestRandomReadFetchesOneBlock(t *testing.T) {
	f := remotetest.New()
	size := 48 * BlockSize
	data := seeded(size, 4)
	f.AddFile("/big", data, time.Unix(1710000000, 0))
	c := openCache(t, t.TempDir(), f, &clock{t: time.Unix(1720000000, 0)}, 0)
	defer c.Close()
	ctx := context.Background()
	h, _ := c.Open(ctx, "/big")
	defer h.Close()
	buf := make([]byte, 4096)
	off := int64(40*BlockSize + 77)
	if _, err := h.ReadAt(ctx, buf, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, data[off:off+4096]) {
		t.Fatal("content differs")
	}
	gets := f.Gets()
	if len(gets) != 1 || gets[0].Offset != 40*BlockSize || gets[0].Sent != BlockSize {
		t.Fatalf("random 4 KiB read: %+v; want one GET of the block at %d, %d bytes", gets, 40*BlockSize, BlockSize)
	}
	if BlockSize != 256<<10 {
		t.Errorf("BlockSize %d: a random 4 KiB read is meant to move 256 KiB", BlockSize)
	}
	// A read across a block boundary, far from the last: the two blocks
	// it touches, one GET each.
	f.ResetCalls()
	off = 20*BlockSize - 100
	if _, err := h.ReadAt(ctx, buf, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, data[off:off+4096]) {
		t.Fatal("content differs")
	}
	var sent int64
	for _, g := range f.Gets() {
		sent += g.Sent
	}
	if sent != 2*BlockSize {
		t.Fatalf("4 KiB read across a block boundary: %+v; want the 2 blocks, %d bytes", f.Gets(), 2*BlockSize)
	}
}

func TestConcurrentReadersShareGet(t *testing.T) {
	f := remotetest.New()
	data := seeded(4*BlockSize, 5)
	f.AddFile("/f", data, time.Unix(1710000000, 0))
	c := openCache(t, t.TempDir(), f, &clock{t: time.Unix(1720000000, 0)}, 0)
	defer c.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := c.Open(ctx, "/f")
			if err != nil {
				t.Error(err)
				return
			}
			defer h.Close()
			buf := make([]byte, 1000)
			if _, err := h.ReadAt(ctx, buf, 2*BlockSize+10); err != nil {
				t.Error(err)
			}
			if !bytes.Equal(buf, data[2*BlockSize+10:2*BlockSize+1010]) {
				t.Error("content differs")
			}
		}()
	}
	wg.Wait()
	if n := f.Calls("Get"); n != 1 {
		t.Fatalf("Get calls = %d, want 1 shared", n)
	}
}

func TestEvictionSparesOpenFiles(t *testing.T) {
	f := remotetest.New()
	for i := 0; i < 5; i++ {
		f.AddFile(fmt.Sprintf("/f%d", i), seeded(2*BlockSize, int64(i)), time.Unix(1710000000, 0))
	}
	clk := &clock{t: time.Unix(1720000000, 0)}
	dir := t.TempDir()
	c := openCache(t, dir, f, clk, 5*BlockSize)
	defer c.Close()
	ctx := context.Background()
	held, _ := c.Open(ctx, "/f0")
	buf := make([]byte, 2*BlockSize)
	held.ReadAt(ctx, buf, 0)
	for i := 1; i < 5; i++ {
		clk.add(time.Second)
		h, _ := c.Open(ctx, fmt.Sprintf("/f%d", i))
		if _, err := h.ReadAt(ctx, buf, 0); err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	c.wg.Wait() // fetches finish (and evict) after the reader has its bytes
	if u := c.ContentUsed(); u > 5*BlockSize {
		t.Fatalf("content used %d over limit", u)
	}
	// f0 is open: its data must still be there without a new GET.
	f.ResetCalls()
	if _, err := held.ReadAt(ctx, buf, 0); err != nil {
		t.Fatal(err)
	}
	if f.Calls("Get") != 0 {
		t.Fatal("open file was evicted")
	}
	held.Close()
	ents, _ := os.ReadDir(filepath.Join(dir, "content"))
	if len(ents) > 3 {
		t.Fatalf("%d content files left, want <= 3", len(ents))
	}
}

func TestPermissionsAndSchema(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	os.MkdirAll(dir, 0o755)
	f := remotetest.New()
	c := openCache(t, dir, f, &clock{t: time.Unix(1720000000, 0)}, 0)
	c.Close()
	for _, p := range []string{dir, filepath.Join(dir, "content")} {
		st, _ := os.Stat(p)
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %v", p, st.Mode().Perm())
		}
	}
	st, _ := os.Stat(filepath.Join(dir, "meta.db"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("meta.db mode %v", st.Mode().Perm())
	}
}

func TestServerAwayColdFails(t *testing.T) {
	f := remotetest.New()
	f.Fail("List", remote.ErrUnavailable)
	c := openCache(t, t.TempDir(), f, &clock{t: time.Unix(1720000000, 0)}, 0)
	defer c.Close()
	if _, err := c.ReadDir(context.Background(), "/"); !errors.Is(err, remote.ErrUnavailable) {
		t.Fatalf("cold offline: %v", err)
	}
}

func TestRemovedFolderIsForgotten(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/gone/sub/a.txt", []byte("abc"), time.Unix(1710000000, 0))
	clk := &clock{t: time.Unix(1720000000, 0)}
	c := openCache(t, t.TempDir(), f, clk, 0)
	defer c.Close()
	ctx := context.Background()
	for _, d := range []string{"/", "/gone", "/gone/sub"} { // as the kernel walks there
		if _, err := c.ReadDir(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	h, err := c.Open(ctx, "/gone/sub/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	h.ReadAt(ctx, buf, 0)
	h.Close()
	c.wg.Wait()
	if c.ContentUsed() != 3 {
		t.Fatalf("used %d", c.ContentUsed())
	}
	f.Remove("/gone")
	clk.add(2 * time.Minute)
	if _, err := c.ReadDir(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	if ds := c.listings.Stored("/gone/sub"); ds != nil {
		t.Fatal("listing of a removed folder still stored")
	}
	if c.ContentUsed() != 0 {
		t.Fatalf("content of a removed folder still cached: %d bytes", c.ContentUsed())
	}
}

func TestChangedWhileOpen(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/f.txt", []byte("old content"), time.Unix(1710000000, 0))
	clk := &clock{t: time.Unix(1720000000, 0)}
	c := openCache(t, t.TempDir(), f, clk, 0)
	defer c.Close()
	ctx := context.Background()
	h, err := c.Open(ctx, "/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.AddFile("/f.txt", []byte("new content"), time.Unix(1730000000, 0)) // same size, new ETag
	buf := make([]byte, 11)
	if _, err := h.ReadAt(ctx, buf, 0); !errors.Is(err, remote.ErrPrecondition) {
		t.Fatalf("read of a version replaced on the server: %v, want ErrPrecondition", err)
	}
	h.Close()
	// The parent listing was invalidated: the next open sees the new version.
	h, err = c.Open(ctx, "/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if n, err := h.ReadAt(ctx, buf, 0); (err != nil && err != io.EOF) || string(buf[:n]) != "new content" {
		t.Fatalf("reopen: %q %v", buf[:n], err)
	}
}

// TestCacheAnswersKinds: what the cache decides itself comes as its own
// kinds (which also match the remote ones, cache/internal/kinds).
func TestCacheAnswersKinds(t *testing.T) {
	f := remotetest.New()
	f.AddDir("/d")
	c := openCache(t, t.TempDir(), f, &clock{t: time.Unix(1720000000, 0)}, 0)
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "/", "nothing"); !errors.Is(err, ErrNotFound) || !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("lookup of a name absent from a fresh listing: %v, want cache.ErrNotFound", err)
	}
	if _, err := c.Open(ctx, "/d"); !errors.Is(err, ErrIsDir) {
		t.Errorf("open of a folder: %v, want ErrIsDir", err)
	}
	if _, err := c.OpenWrite(ctx, "/x", true, false, true); !errors.Is(err, ErrNoWrites) {
		t.Errorf("create without a write side: %v, want ErrNoWrites", err)
	}
}
