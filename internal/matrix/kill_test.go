package matrix_test

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/matrix"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestMatrixKill9: the workload runs through `odfb mount` processes, and
// the mount is killed with SIGKILL at seeded moments and mounted again on
// the same cache directory. Every operation that returned before a kill
// must hold after it: what was closed is journaled and reaches the server
// (uploads and REST upload sessions are cut mid-way by the kills), and at
// the end the server's tree and the mount's equal the model. The kills
// fall between the application's operations (each thread waits while the
// mount is down), while the mount's own work — uploads, chunked
// sessions, conflict checks, journal commits — goes on in the background.
//
// MATRIX_FAULTS=1 (make soak): 20 kills per seed; with MATRIX_KILLS=3
// fewer. Not in make test while its open finding stands.
func TestMatrixKill9(t *testing.T) {
	if os.Getenv("MATRIX_FAULTS") != "1" {
		// Its open finding (docs/reliability.md: ESTALE from an append
		// after a remount) keeps it out of make test until fixed.
		t.Log("runs with MATRIX_FAULTS=1 (make soak): it still finds an open bug (docs/reliability.md)")
		return
	}
	testenv.NeedFUSE(t)
	bin := os.Getenv("MATRIX_ODFB") // another build of odfb, to compare
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "odfb")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/odfb/odfb/cmd/odfb").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	kills, ops := 20, 150
	if s := os.Getenv("MATRIX_KILLS"); s != "" {
		fmt.Sscan(s, &kills)
	}
	if s := os.Getenv("MATRIX_OPS"); s != "" {
		fmt.Sscan(s, &ops)
	}
	for _, seed := range seeds(t) {
		r := runKillCase(t, bin, seed, 3, ops, kills)
		if r.failure != "" {
			t.Errorf("kill9 seed %d failed: %s\nhistory:\n%s", seed, r.failure, r.history)
			continue
		}
		t.Logf("seed %d: 3 threads × at least %d operations, %d kills (SIGKILL) and remounts, %d requests, %d files checked on the server and through the mount",
			seed, ops, r.kills, r.requests, r.files)
	}
}

type killResult struct {
	result
	kills int
}

// odfbMount is one `odfb mount` process.
type odfbMount struct {
	cmd    *exec.Cmd
	exited chan error
	mu     sync.Mutex
	log    strings.Builder
}

func (m *odfbMount) logText() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.String()
}

// mountOdfb starts `odfb mount` and waits for its readiness line.
func mountOdfb(bin, url, mnt, cacheDir string) (*odfbMount, error) {
	m := &odfbMount{exited: make(chan error, 1)}
	level := "info"
	if os.Getenv("MATRIX_LOG") == "debug" {
		level = "debug"
	}
	m.cmd = exec.Command(bin, "mount", "--auth", "none", "--cache-dir", cacheDir, "--log-level", level,
		"--write-back", "20ms", "--dir-cache-time", "200ms", "--put-limit", "256K", "--chunk-size", "128K",
		url, mnt)
	stderr, err := m.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			m.mu.Lock()
			m.log.WriteString(sc.Text() + "\n")
			m.mu.Unlock()
			if strings.Contains(sc.Text(), "mounted ") {
				select {
				case ready <- true:
				default:
				}
			}
		}
		m.exited <- m.cmd.Wait()
	}()
	select {
	case <-ready:
		return m, nil
	case err := <-m.exited:
		return nil, fmt.Errorf("odfb mount exited early: %v\n%s", err, m.logText())
	case <-time.After(60 * time.Second):
		m.cmd.Process.Kill()
		return nil, fmt.Errorf("no readiness line in 60 s:\n%s", m.logText())
	}
}

// kill9 kills the process and clears its dead FUSE mount.
func (m *odfbMount) kill9(mnt string) {
	m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
	syscall.Unmount(mnt, syscall.MNT_DETACH)
}

func runKillCase(t *testing.T, bin string, seed uint64, nthreads, ops, kills int) (res killResult) {
	t.Helper()
	root := t.TempDir()
	for i := 0; i < nthreads; i++ {
		if err := os.Mkdir(filepath.Join(root, fmt.Sprintf("t%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Seed: int64(seed)})
	defer srv.Close()
	dir := t.TempDir()
	mnt, cacheDir := filepath.Join(dir, "mnt"), filepath.Join(dir, "cache")
	os.Mkdir(mnt, 0o755)
	m, err := mountOdfb(bin, srv.LibraryURL(), mnt, cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	var mmu sync.Mutex // guards m and logs
	var logs []string  // of the mounts killed
	defer func() {
		if res.failure != "" && os.Getenv("MATRIX_LOG") == "debug" {
			mmu.Lock()
			t.Logf("mount logs:\n%s\n--- current:\n%s", strings.Join(logs, "\n--- killed here ---\n"), m.logText())
			mmu.Unlock()
		}
	}()
	defer func() {
		mmu.Lock()
		m.kill9(mnt)
		mmu.Unlock()
	}()

	threads := make([]*matrix.Thread, nthreads)
	for i := range threads {
		name := fmt.Sprintf("t%d", i)
		threads[i] = &matrix.Thread{Name: name, Dir: filepath.Join(mnt, name), Model: matrix.NewModel()}
	}
	// The gate: threads run operations under its read lock; a kill takes
	// it whole, so that no operation runs on the dead mount (it would
	// act on the bare mountpoint directory).
	var gate sync.RWMutex
	stop := make(chan struct{})
	killerDone := make(chan error, 1)
	var killed atomic.Bool // every kill made (the threads go on until then)
	go func() {
		rng := rand.New(rand.NewSource(int64(seed)))
		for k := 0; k < kills; k++ {
			select {
			case <-stop:
				killerDone <- nil
				return
			case <-time.After(time.Duration(150+rng.Intn(450)) * time.Millisecond):
			}
			gate.Lock()
			mmu.Lock()
			m.kill9(mnt)
			logs = append(logs, m.logText())
			nm, err := mountOdfb(bin, srv.LibraryURL(), mnt, cacheDir)
			if err == nil {
				m = nm
				res.kills++
			}
			mmu.Unlock()
			gate.Unlock()
			if err != nil {
				killed.Store(true)
				killerDone <- fmt.Errorf("remount after kill %d: %w", k+1, err)
				return
			}
		}
		killed.Store(true)
		killerDone <- nil
	}()

	var wg sync.WaitGroup
	var fmu sync.Mutex
	var first error
	for i, th := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := matrix.NewGen(seed*1000 + uint64(i))
			g.BigEvery, g.BigSize = 10, 1<<20
			// At least ops operations, and on until the last kill (at
			// most ten times as many).
			for k := 0; k < 10*ops && (k < ops || !killed.Load()); k++ {
				time.Sleep(20 * time.Millisecond)
				op := g.Next(th.Model)
				gate.RLock()
				err := th.Do(op)
				gate.RUnlock()
				if err != nil {
					fmu.Lock()
					if first == nil {
						first = err
					}
					fmu.Unlock()
					return
				}
			}
		}()
	}
	finished := waitTimeout(&wg, 5*time.Minute)
	close(stop)
	if err := <-killerDone; err != nil {
		res.failure = err.Error()
		return res
	}
	res.history = matrix.History(threads)
	if !finished {
		res.failure = "the workload did not finish within 5 minutes: the mount hangs"
		return res
	}
	if first != nil {
		res.failure = first.Error()
		return res
	}
	mmu.Lock()
	defer mmu.Unlock()
	var syncOut []byte
	for try := 1; try <= 5; try++ {
		syncOut, err = exec.Command(bin, "sync", mnt).CombinedOutput()
		if err == nil {
			break
		}
	}
	if err != nil {
		res.failure = fmt.Sprintf("odfb sync: %v: %s\nmount log:\n%s", err, syncOut, m.logText())
		return res
	}
	res.requests = len(srv.Requests())
	res.files, res.failure = compareTrees(root, mnt, threads)
	return res
}
