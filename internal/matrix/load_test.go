package matrix_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/matrix"
	"github.com/odfb/odfb/spemu"
)

// The load run (issue 13, item 3): 16 application threads, each with its
// own folder, model and file descriptors, run the matrix workload through
// one mount for a bounded time, and between operations read random
// ranges of files shared by all; a watchdog dumps every goroutine (the
// mount's included, it runs in this process) when an operation has been
// running for too long; the heap is sampled and must stay bounded.
//
// MATRIX_LOAD_TIME sets the duration: a few seconds in `make test`, a
// minute under `make soak`.

const (
	loadThreadsN = 16
	loadStall    = 60 * time.Second // an operation running longer is a hang
	loadHeapMax  = 768 << 20        // bytes of heap in use, the race detector's shadow excluded
	sharedFiles  = 4
	sharedSize   = 512 << 10
	sharedReadsN = 3 // shared-file reads after each workload operation
)

func loadTime(t *testing.T) time.Duration {
	if s := os.Getenv("MATRIX_LOAD_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("MATRIX_LOAD_TIME=%q", s)
		}
		return d
	}
	return 3 * time.Second
}

// watchdog tracks the operation each thread is running and reports one
// that has run for longer than limit, once.
type watchdog struct {
	limit time.Duration
	slots []atomic.Pointer[running]
	fired atomic.Bool
}

type running struct {
	what  string
	since time.Time
}

func newWatchdog(n int, limit time.Duration) *watchdog {
	return &watchdog{limit: limit, slots: make([]atomic.Pointer[running], n)}
}

func (w *watchdog) start(i int, what string) {
	w.slots[i].Store(&running{what: what, since: time.Now()})
}
func (w *watchdog) done(i int) { w.slots[i].Store(nil) }

// stalled returns a description of every operation running for longer
// than the limit at now.
func (w *watchdog) stalled(now time.Time) []string {
	var out []string
	for i := range w.slots {
		if r := w.slots[i].Load(); r != nil && now.Sub(r.since) > w.limit {
			out = append(out, fmt.Sprintf("thread %d: %s, running for %v", i, r.what, now.Sub(r.since).Round(time.Second)))
		}
	}
	return out
}

// watch checks every second until stop closes; on the first stall it
// calls dump with the stalled operations and every goroutine's stack.
func (w *watchdog) watch(stop <-chan struct{}, dump func(stalled []string, stacks string)) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			if s := w.stalled(now); len(s) > 0 && w.fired.CompareAndSwap(false, true) {
				var b bytes.Buffer
				pprof.Lookup("goroutine").WriteTo(&b, 2)
				dump(s, b.String())
			}
		}
	}
}

func TestWatchdogFires(t *testing.T) {
	w := newWatchdog(3, 50*time.Millisecond)
	w.start(1, "write t1/a.txt")
	w.start(2, "read t2/b")
	w.done(2)
	got := make(chan string, 1)
	stop := make(chan struct{})
	defer close(stop)
	go w.watch(stop, func(s []string, stacks string) {
		if !strings.Contains(stacks, "goroutine ") {
			s = append(s, "no goroutine dump")
		}
		got <- strings.Join(s, "; ")
	})
	select {
	case s := <-got:
		if !strings.Contains(s, "thread 1: write t1/a.txt") || strings.Contains(s, "thread 2") || strings.Contains(s, "no goroutine dump") {
			t.Errorf("watchdog reported %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watchdog did not fire on an operation stalled past its limit")
	}
}

// heapSampler records the peak of HeapInuse.
type heapSampler struct {
	peak atomic.Uint64
}

func (h *heapSampler) run(stop <-chan struct{}) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var ms runtime.MemStats
	for {
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > h.peak.Load() {
			h.peak.Store(ms.HeapInuse)
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

func TestMatrixLoad(t *testing.T) {
	dur := loadTime(t)
	loadThreads := loadThreadsN // MATRIX_LOAD_THREADS narrows a failure down
	if s := os.Getenv("MATRIX_LOAD_THREADS"); s != "" {
		if _, err := fmt.Sscan(s, &loadThreads); err != nil || loadThreads < 1 {
			t.Fatalf("MATRIX_LOAD_THREADS=%q", s)
		}
	}
	root := t.TempDir()
	shared := make([][]byte, sharedFiles)
	os.Mkdir(filepath.Join(root, "shared"), 0o755)
	for i := range shared {
		shared[i] = matrix.Content(uint64(1000+i), sharedSize)
		if err := os.WriteFile(filepath.Join(root, "shared", fmt.Sprintf("s%d", i)), shared[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < loadThreads; i++ {
		if err := os.Mkdir(filepath.Join(root, fmt.Sprintf("t%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, RequestLogLimit: 1000})
	// Errors only: 16 threads make many warnings of no interest (MATRIX_LOG
	// warn or debug shows them).
	level := slog.LevelError
	switch os.Getenv("MATRIX_LOG") {
	case "warn":
		level = slog.LevelWarn
	case "debug":
		level = slog.LevelDebug
	}
	logger := fstest.Logger(t, level)
	dav, err := davclient.New(davclient.Options{URL: srv.LibraryURL(), Auth: auth.None(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.Mount(t, fstest.Config{Remote: dav, Library: srv.LibraryURL(), DirCacheTime: 200 * time.Millisecond,
		CacheSize: 4 << 20, // smaller than what is read: eviction runs under load
		Write:     cache.WriteOptions{WriteBack: 20 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond},
		Logger:    logger})
	defer m.Unmount(t)

	wd := newWatchdog(loadThreads, loadStall)
	stop := make(chan struct{})
	var stalled atomic.Pointer[string]
	go wd.watch(stop, func(s []string, stacks string) {
		msg := strings.Join(s, "\n")
		stalled.Store(&msg)
		t.Errorf("operations stalled for over %v:\n%s\ngoroutines:\n%s", loadStall, msg, stacks)
	})
	var heap heapSampler
	go heap.run(stop)
	defer close(stop)

	threads := make([]*matrix.Thread, loadThreads)
	ops := make([]int, loadThreads)
	reads := make([]int64, loadThreads)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	deadline := time.Now().Add(dur)
	for i := range threads {
		th := &matrix.Thread{Name: fmt.Sprintf("t%d", i), Dir: filepath.Join(m.Dir, fmt.Sprintf("t%d", i)), Model: matrix.NewModel()}
		threads[i] = th
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := matrix.NewGen(uint64(7000 + i))
			r := rand.New(rand.NewPCG(uint64(i), 99))
			// Each thread holds its own descriptors of the shared files.
			fds := make([]*os.File, sharedFiles)
			for k := range fds {
				f, err := os.Open(filepath.Join(m.Dir, "shared", fmt.Sprintf("s%d", k)))
				if err != nil {
					fail(err)
					return
				}
				defer f.Close()
				fds[k] = f
			}
			buf := make([]byte, 64<<10)
			for time.Now().Before(deadline) && stalled.Load() == nil {
				op := g.Next(th.Model)
				wd.start(i, op.String())
				err := th.Do(op)
				wd.done(i)
				if err != nil {
					fail(err)
					return
				}
				ops[i]++
				for k := 0; k < sharedReadsN; k++ {
					s := r.IntN(sharedFiles)
					off := r.Int64N(sharedSize)
					n := 1 + r.IntN(len(buf))
					wd.start(i, fmt.Sprintf("pread shared/s%d at %d, %d bytes", s, off, n))
					got, err := fds[s].ReadAt(buf[:n], off)
					wd.done(i)
					want := shared[s][off:min(off+int64(n), sharedSize)]
					if (err != nil && got != len(want)) || !bytes.Equal(buf[:got], want) {
						fail(fmt.Errorf("%s: pread shared/s%d at %d: %d bytes, %v; not the file's %d bytes", th.Name, s, off, got, err, len(want)))
						return
					}
					reads[i] += int64(got)
				}
			}
		}()
	}
	if !waitTimeout(&wg, dur+2*loadStall) {
		t.Fatalf("the load did not end within %v of its deadline", 2*loadStall)
	}
	if first != nil {
		t.Fatalf("%v\nhistory:\n%s", first, matrix.History(threads))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := m.Cache.Sync(ctx); err != nil {
		t.Fatalf("odfb sync: %v", err)
	}
	skip := func(rel string) bool { return strings.HasPrefix(rel, "_vti_") || rel == "shared" }
	onServer, err := matrix.Tree(root, skip)
	if err != nil {
		t.Fatal(err)
	}
	if d := matrix.Compare(onServer, threads, false, 20); len(d) > 0 {
		t.Fatalf("the server's tree differs from the model:\n  %s\nhistory:\n%s", strings.Join(d, "\n  "), matrix.History(threads))
	}
	seen, err := matrix.Tree(m.Dir, skip)
	if err != nil {
		t.Fatal(err)
	}
	if d := matrix.Compare(seen, threads, true, 20); len(d) > 0 {
		t.Fatalf("the mount's tree differs from the model:\n  %s", strings.Join(d, "\n  "))
	}
	total, read := 0, int64(0)
	for i := range ops {
		total += ops[i]
		read += reads[i]
	}
	peak := heap.peak.Load()
	t.Logf("load: %d threads for %v: %d workload operations, %d MiB of shared reads, %d files checked, peak heap in use %d MiB",
		loadThreads, dur, total, read>>20, len(onServer), peak>>20)
	if peak > loadHeapMax {
		t.Errorf("peak heap in use %d MiB, over the bound of %d MiB", peak>>20, loadHeapMax>>20)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("sync ran out of time")
	}
}
