package fusefs_test

// End-to-end proofs of three limits a mount promises, on real mounts
// against an in-process spemu through davclient: statfs shows the
// library's quota, --transfers bounds the uploads in flight, and memory
// does not grow with the size of a file read or written.

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/spemu"
)

// limitsBlock is the block size the mount's statfs reports in
// (fusefs.statfsBlock).
const limitsBlock = 4096

// TestStatfsQuota: with a quota on the server, statfs of the mountpoint
// shows it: total blocks × bsize is the quota and free blocks × bsize is
// quota-available-bytes (the quota minus the library's file sizes), each
// rounded down to whole 4 KiB blocks, so each is at most 4095 bytes under
// the server's figure. After files are written and synced, statfs shows
// them used.
func TestStatfsQuota(t *testing.T) {
	const quota = 1<<30 + 1234 // not a multiple of the block size: the rounding shows
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "already.txt"), seeded(1000, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	// DirCacheTime 1ns: the mount asks for the quota again at every
	// statfs instead of answering from its copy for a minute.
	m, _ := fstest.MountSpemu(t, spemu.Config{Root: root, QuotaBytes: quota},
		fstest.Config{DirCacheTime: time.Nanosecond, Write: cache.WriteOptions{WriteBack: time.Hour}})

	check := func(when string, used int64) {
		t.Helper()
		var st syscall.Statfs_t
		if err := syscall.Statfs(m.Dir, &st); err != nil {
			t.Fatalf("%s: statfs: %v", when, err)
		}
		avail := int64(quota) - used
		if st.Bsize != limitsBlock || st.Frsize != limitsBlock {
			t.Errorf("%s: bsize %d frsize %d, want %d", when, st.Bsize, st.Frsize, limitsBlock)
		}
		if want := uint64(quota / limitsBlock); st.Blocks != want {
			t.Errorf("%s: %d blocks (%d bytes), want %d (quota %d rounded down)", when, st.Blocks, st.Blocks*limitsBlock, want, quota)
		}
		if want := uint64(avail / limitsBlock); st.Bfree != want || st.Bavail != want {
			t.Errorf("%s: bfree %d bavail %d (%d bytes), want %d (quota-available %d rounded down)", when, st.Bfree, st.Bavail, st.Bfree*limitsBlock, want, avail)
		}
		t.Logf("%s: server quota %d used %d available %d; statfs %d×%d total, %d free", when, quota, used, avail, st.Blocks, st.Bsize, st.Bfree)
	}
	check("before writing", 1000)

	const a, b = 5<<20 + 777, 4242
	writeSeeded(t, filepath.Join(m.Dir, "a.bin"), a, 2)
	writeSeeded(t, filepath.Join(m.Dir, "sub", "b.bin"), b, 3) // a subfolder counts too
	syncMount(t, m)
	check("after writing", 1000+a+b)
}

// TestStatfsNoQuota: a server without a quota (spemu's default: the
// quota properties answer 404) still gets a successful statfs with the
// numbers fusefs's Statfs uses then: 4 KiB blocks, 1 PiB total and the
// same free and available (2^38 blocks, so that cp and installers never
// refuse for space), 2^30 inodes all free, names up to 255 bytes.
func TestStatfsNoQuota(t *testing.T) {
	m, _ := fstest.MountSpemu(t, spemu.Config{}, fstest.Config{})
	var st syscall.Statfs_t
	if err := syscall.Statfs(m.Dir, &st); err != nil {
		t.Fatalf("statfs: %v", err)
	}
	const pib = 1 << 50
	if st.Bsize != limitsBlock || st.Frsize != limitsBlock {
		t.Errorf("bsize %d frsize %d, want %d", st.Bsize, st.Frsize, limitsBlock)
	}
	if st.Blocks != pib/limitsBlock || st.Bfree != pib/limitsBlock || st.Bavail != pib/limitsBlock {
		t.Errorf("blocks %d bfree %d bavail %d, want %d each (1 PiB)", st.Blocks, st.Bfree, st.Bavail, pib/limitsBlock)
	}
	if st.Files != 1<<30 || st.Ffree != 1<<30 || st.Namelen != 255 {
		t.Errorf("files %d ffree %d namelen %d, want 2^30, 2^30, 255", st.Files, st.Ffree, st.Namelen)
	}
}

// putGauge counts the PUTs a server is handling and keeps the most at
// once. A PUT counts from the moment the handler gets it until its status
// line is written (or the handler returns): the client cannot see an
// answer before that, so it cannot have started the next upload in the
// slot while this one is still counted. The maximum is exact, not
// sampled.
type putGauge struct {
	cur, max, total atomic.Int64
}

func (g *putGauge) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			h.ServeHTTP(w, r)
			return
		}
		g.total.Add(1)
		n := g.cur.Add(1)
		for m := g.max.Load(); n > m && !g.max.CompareAndSwap(m, n); m = g.max.Load() {
		}
		ew := &answeredWriter{ResponseWriter: w, done: func() { g.cur.Add(-1) }}
		defer ew.answered()
		h.ServeHTTP(ew, r)
	})
}

// answeredWriter calls done once, when the status line is about to go
// out (or at the end of the handler, whichever is first).
type answeredWriter struct {
	http.ResponseWriter
	done func()
	once sync.Once
}

func (w *answeredWriter) answered() { w.once.Do(w.done) }

func (w *answeredWriter) WriteHeader(code int) {
	if code >= 200 {
		w.answered()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *answeredWriter) Write(p []byte) (int, error) {
	w.answered()
	return w.ResponseWriter.Write(p)
}

func (w *answeredWriter) Flush() {
	w.answered()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *answeredWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestTransfersBound: with --transfers N, 12 files written and synced
// reach spemu with exactly N PUTs in flight at the most. spemu answers
// each request after 100 ms, so the uploader, which starts every due
// file up to the bound at once (a sync forces all 12), keeps N in flight
// from the start: the maximum must reach N, not just stay under it.
func TestTransfersBound(t *testing.T) {
	for _, transfers := range []int{2, 4} {
		t.Run(fmt.Sprintf("transfers=%d", transfers), func(t *testing.T) {
			srv, err := spemu.New(spemu.Config{Auth: "none"}) // not started: served behind the gauge
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			g := &putGauge{}
			hs := httptest.NewServer(g.wrap(srv.Handler()))
			t.Cleanup(hs.Close)
			lib := hs.URL + srv.LibraryURL() // LibraryURL is the path alone before Start
			// WriteBack 1h: nothing goes up before the sync, which then
			// finds all 12 files due at once.
			m := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, lib, nil), Library: lib,
				Write: cache.WriteOptions{Transfers: transfers, WriteBack: time.Hour}})
			const files = 12
			for i := 0; i < files; i++ {
				if err := os.WriteFile(filepath.Join(m.Dir, fmt.Sprintf("f%02d.bin", i)), seeded(64<<10, int64(i)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if n := g.total.Load(); n != 0 {
				t.Fatalf("%d PUTs before the sync with a write-back of an hour", n)
			}
			srv.SetFaults(spemu.Faults{Latency: 100 * time.Millisecond})
			syncMount(t, m)
			if n := g.total.Load(); n != files {
				t.Errorf("%d PUTs, want %d", n, files)
			}
			if c := g.cur.Load(); c != 0 {
				t.Errorf("%d PUTs still counted in flight after the sync", c)
			}
			got := g.max.Load()
			t.Logf("--transfers %d: %d PUTs, at most %d in flight at once", transfers, g.total.Load(), got)
			if got != int64(transfers) {
				t.Errorf("at most %d PUTs in flight at once, want exactly %d (--transfers)", got, transfers)
			}
			for i := 0; i < files; i++ {
				if data, err := srv.ReadFile(fmt.Sprintf("/f%02d.bin", i)); err != nil || sha256.Sum256(data) != sha256.Sum256(seeded(64<<10, int64(i))) {
					t.Errorf("f%02d.bin on the server: %d bytes %v", i, len(data), err)
				}
			}
		})
	}
}

// Memory bound. The file is memFileSize; the heap (HeapInuse, which
// includes spemu: it runs in this process) may grow at most memBound over
// its level after a GC before the transfer.
//
// The bound: odfb streams every transfer between the network and a file
// on disk in small buffers (the content cache, the staging file, the
// REST session's chunks read from the staging file), and spemu streams
// to disk too. The largest things it could be tempted to hold are one
// read-ahead window (cache.MaxReadAhead, 32 MiB) and one upload chunk
// (cache.DefaultChunkSize, 10 MiB): 42 MiB. 64 MiB leaves 22 MiB for the
// garbage a collecting heap carries (GOGC=100 lets the heap grow up to
// twice the live heap before the next collection) and go-fuse's request
// buffers. Holding a whole window and a chunk, plus that slack, still
// fits; holding the file, or any fifth of it, does not: memFileSize is
// over 4 times memBound.
const (
	memFileSize = 300 << 20
	memBound    = 64 << 20
)

// heapPeak samples HeapInuse every 2 ms from a baseline taken after a GC.
type heapPeak struct {
	base, peak uint64
	samples    int
	stop, done chan struct{}
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	hp := &heapPeak{base: ms.HeapInuse, peak: ms.HeapInuse, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(hp.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			hp.samples++
			hp.peak = max(hp.peak, ms.HeapInuse)
			select {
			case <-hp.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return hp
}

// end stops the sampler (after a last sample) and checks the growth.
func (hp *heapPeak) end(t *testing.T, what string) {
	t.Helper()
	close(hp.stop)
	<-hp.done
	growth := int64(hp.peak) - int64(hp.base)
	t.Logf("%s: HeapInuse baseline %.1f MiB, peak %.1f MiB, growth %.1f MiB (bound %d MiB, file %d MiB, %d samples)",
		what, mib(hp.base), mib(hp.peak), float64(growth)/(1<<20), memBound>>20, memFileSize>>20, hp.samples)
	if growth > memBound {
		t.Errorf("%s: the heap grew %.1f MiB over its baseline, more than the %d MiB bound, for a %d MiB file",
			what, float64(growth)/(1<<20), memBound>>20, memFileSize>>20)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// TestMemoryBounded: reading a large server file sequentially through the
// mount, and writing one and syncing it (through the REST upload session
// in 10 MiB chunks, and in a single PUT), keeps the process's heap
// growth under memBound whatever the file size.
func TestMemoryBounded(t *testing.T) {
	t.Run("read", func(t *testing.T) {
		root := t.TempDir()
		sum := writeSeeded(t, filepath.Join(root, "big.bin"), memFileSize, 30)
		m, srv := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{})
		buf := make([]byte, 1<<20)
		h := sha256.New()
		hp := startHeapPeak()
		f, err := os.Open(filepath.Join(m.Dir, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.CopyBuffer(h, f, buf)
		f.Close()
		hp.end(t, "read")
		if err != nil || n != memFileSize {
			t.Fatalf("read %d bytes: %v", n, err)
		}
		var got [32]byte
		copy(got[:], h.Sum(nil))
		if got != sum {
			t.Error("the file read through the mount differs from the server's")
		}
		var gets, bytes, largest int64
		for _, r := range srv.Requests() {
			if r.Method == http.MethodGet && !strings.Contains(r.Path, "/_api/") { // not the change log's token
				gets++
				bytes += r.RespBytes
				largest = max(largest, r.RespBytes)
			}
		}
		t.Logf("read: %d GETs, %d bytes, largest %d MiB", gets, bytes, largest>>20)
		if bytes != memFileSize {
			t.Errorf("GETs carried %d bytes, want the file once (%d)", bytes, memFileSize)
		}
	})
	write := func(t *testing.T, what string, scfg spemu.Config, wopts cache.WriteOptions) *spemu.Server {
		wopts.WriteBack = time.Hour // the upload runs in the sync, inside the sampled span
		m, srv := fstest.MountSpemu(t, scfg, fstest.Config{Write: wopts})
		hp := startHeapPeak()
		sum := writeSeeded(t, filepath.Join(m.Dir, "big.bin"), memFileSize, 31)
		syncMount(t, m)
		hp.end(t, what)
		m.Unmount(t)
		if got := sha256File(t, filepath.Join(srv.Root(), "big.bin")); got != sum {
			t.Errorf("%s: big.bin differs on the server", what)
		}
		return srv
	}
	t.Run("write-chunked", func(t *testing.T) {
		// Over both put limits (100 MiB): the REST session, 10 MiB chunks.
		srv := write(t, "write-chunked", spemu.Config{PutLimit: 100 << 20}, cache.WriteOptions{PutLimit: 100 << 20, ChunkSize: cache.DefaultChunkSize})
		if p, s := countMethod(srv, "PUT"), countREST(srv, "StartUpload"); p != 0 || s != 1 {
			t.Errorf("%d PUTs, %d StartUpload; want 0 and 1", p, s)
		}
	})
	t.Run("write-put", func(t *testing.T) {
		// Under both put limits (spemu: none; odfb: 1 GiB): one PUT.
		srv := write(t, "write-put", spemu.Config{PutLimit: -1}, cache.WriteOptions{PutLimit: 1 << 30})
		if p, s := countMethod(srv, "PUT"), countREST(srv, "StartUpload"); p != 1 || s != 0 {
			t.Errorf("%d PUTs, %d StartUpload; want 1 and 0", p, s)
		}
	})
}
