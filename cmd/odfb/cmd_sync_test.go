package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/control"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// mountProc is `odfb mount` running as a separate process.
type mountProc struct {
	cmd    *exec.Cmd
	exited chan error
	mu     sync.Mutex
	log    bytes.Buffer
}

func (m *mountProc) logText() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.String()
}

// startMount runs `odfb mount` with a session cookie for srv and waits
// for its readiness line.
func startMount(t *testing.T, bin string, srv *spemu.Server, mnt, cacheDir string, extra ...string) *mountProc {
	t.Helper()
	cookie, err := srv.IssueSessionCookie()
	if err != nil {
		t.Fatal(err)
	}
	cookieFile := filepath.Join(t.TempDir(), "cookie")
	os.WriteFile(cookieFile, []byte("Cookie: "+cookie+"\n"), 0o600)
	args := append([]string{"mount", "--cookie-file", cookieFile, "--cache-dir", cacheDir, srv.LibraryURL(), mnt}, extra...)
	return runMount(t, bin, mnt, args)
}

// runMount starts `odfb args…` (a mount at mnt) and waits for its
// readiness line; the mount is killed and cleared when the test ends.
func runMount(t *testing.T, bin, mnt string, args []string) *mountProc {
	t.Helper()
	m := &mountProc{cmd: exec.Command(bin, args...), exited: make(chan error, 1)}
	m.cmd.Env = append(os.Environ(), "AUTH_COOKIES=")
	stderr, _ := m.cmd.StderrPipe()
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			m.mu.Lock()
			m.log.WriteString(sc.Text() + "\n")
			m.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "mounted ") {
				signalled = true
				ready <- true
			}
		}
		m.exited <- m.cmd.Wait()
	}()
	t.Cleanup(func() {
		m.cmd.Process.Kill()
		if fstest.IsMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	select {
	case <-ready:
	case err := <-m.exited:
		t.Fatalf("odfb mount exited early: %v\n%s", err, m.logText())
	case <-time.After(60 * time.Second):
		t.Fatalf("no readiness line in 60s:\n%s", m.logText())
	}
	return m
}

// kill9 kills the mount process and clears the dead FUSE mount.
func (m *mountProc) kill9(t *testing.T, mnt string) {
	t.Helper()
	m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
	if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
		t.Logf("unmount of the dead mount: %v", err)
	}
}

func runOdfb(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func seededBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// TestSyncStatusUnmount: odfb sync waits for the queue and reports a
// refused file; odfb status shows lost+found; odfb unmount drains and
// the mount exits 0.
func TestSyncStatusUnmount(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	srv := fstest.StartSpemu(t, spemu.Config{Auth: "cookie"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	m := startMount(t, bin, srv, mnt, filepath.Join(dir, "cache"), "--write-back", "1h")
	for i := 0; i < 5; i++ {
		if err := os.WriteFile(filepath.Join(mnt, fmt.Sprintf("f%d.txt", i)), seededBytes(1000+i, int64(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := runOdfb(t, bin, "status", mnt)
	if code != 0 || !strings.Contains(out, "uploads: 5 queued") {
		t.Errorf("status before sync (exit %d):\n%s", code, out)
	}
	if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
		t.Fatalf("sync: exit %d: %s", code, errs)
	}
	for i := 0; i < 5; i++ {
		if data, err := srv.ReadFile(fmt.Sprintf("/f%d.txt", i)); err != nil || !bytes.Equal(data, seededBytes(1000+i, int64(i))) {
			t.Errorf("f%d.txt on the server: %v", i, err)
		}
	}
	// Fits Linux's 255 bytes; its 90 colons, mapped to 3-byte look-alikes,
	// do not fit the 255 bytes spemu's disk holds: the server refuses it.
	if err := os.WriteFile(filepath.Join(mnt, strings.Repeat(":", 90)+"refused.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runOdfb(t, bin, "sync", mnt)
	if code != exitcodes.Pending || !strings.Contains(errs, "lost+found") {
		t.Errorf("sync with a refused name: exit %d, %s", code, errs)
	}
	code, out, _ = runOdfb(t, bin, "status", mnt)
	if code != 0 || !strings.Contains(out, "lost+found: 1") || !strings.Contains(out, "refused.txt") {
		t.Errorf("status after the refusal (exit %d):\n%s", code, out)
	}
	if err := os.WriteFile(filepath.Join(mnt, "last.txt"), []byte("drained"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("unmount: exit %d: %s", code, errs)
	}
	select {
	case err := <-m.exited:
		if err != nil {
			t.Errorf("mount exit: %v\n%s", err, m.logText())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("mount still running after odfb unmount")
	}
	if data, err := srv.ReadFile("/last.txt"); err != nil || string(data) != "drained" {
		t.Errorf("last.txt not uploaded by the unmount drain: %q %v", data, err)
	}
	if code, _, _ := runOdfb(t, bin, "status", mnt); code == 0 {
		t.Error("status answered after the mount exited")
	}
}

// TestKill9Resumes: kill -9 during a chunked upload and while a queue of
// 200 small files is partly uploaded; after a remount and odfb sync every
// file whose close() returned is on the server, the chunked upload
// continued from its saved offset (no second StartUpload), and of the
// small files already on the server at the kill at most --transfers (the
// ones in flight) are sent again.
func TestKill9Resumes(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	srv := fstest.StartSpemu(t, spemu.Config{Auth: "cookie"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cacheDir := filepath.Join(dir, "cache")
	flags := []string{"--put-limit", "1M", "--chunk-size", "256K", "--write-back", "0s"}

	t.Run("chunked", func(t *testing.T) {
		m := startMount(t, bin, srv, mnt, cacheDir, flags...)
		big := seededBytes(6<<20+7, 1)
		srv.SetFaults(spemu.Faults{Latency: 150 * time.Millisecond, ThrottleStatus: 429})
		if err := os.WriteFile(filepath.Join(mnt, "big.bin"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		// Wait until the server confirmed a few chunks, then kill.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := control.Call(ctx, mnt, control.Request{Op: "status"})
			cancel()
			var st cache.Status
			if err == nil && json.Unmarshal(resp.Status, &st) == nil && len(st.Queue) == 1 && st.Queue[0].Offset >= 3*256<<10 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("chunked upload made no progress: %+v %v", resp, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		m.kill9(t, mnt)
		srv.SetFaults(spemu.Faults{ThrottleStatus: 429})
		starts := countStarts(srv)
		m = startMount(t, bin, srv, mnt, cacheDir, flags...)
		if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
			t.Fatalf("sync after remount: exit %d: %s\n%s", code, errs, m.logText())
		}
		if data, err := srv.ReadFile("/big.bin"); err != nil || !bytes.Equal(data, big) {
			t.Fatalf("big.bin on the server: %d bytes, %v", len(data), err)
		}
		if n := countStarts(srv) - starts; n != 0 {
			t.Errorf("%d new StartUpload after the restart; want the session resumed", n)
		}
		if !strings.Contains(m.logText(), "resuming a chunked upload") {
			t.Errorf("no resume logged:\n%s", m.logText())
		}
		runOdfb(t, bin, "unmount", mnt)
		<-m.exited
	})

	t.Run("200 small files", func(t *testing.T) {
		// The whole queue is journaled first (an hour of write-back), then
		// odfb sync starts it; one upload at a time, each answer delayed,
		// so the kill comes with part of the queue on the server.
		const transfers = 1
		small := []string{"--write-back", "1h", "--transfers", fmt.Sprint(transfers)}
		m := startMount(t, bin, srv, mnt, cacheDir, small...)
		for i := 0; i < 200; i++ {
			if err := os.WriteFile(filepath.Join(mnt, fmt.Sprintf("small%03d.txt", i)), seededBytes(4096, int64(100+i)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		srv.ResetRequests()
		srv.SetFaults(spemu.Faults{Latency: 50 * time.Millisecond})
		syncCmd := exec.Command(bin, "sync", mnt)
		if err := syncCmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for len(storedSmall(srv.Requests(), time.Time{}, time.Now())) < 20 {
			if time.Now().After(deadline) {
				t.Fatalf("uploads made no progress:\n%s", m.logText())
			}
			time.Sleep(10 * time.Millisecond)
		}
		m.kill9(t, mnt)
		// odfb is dead: every PUT it sent arrived before this.
		killed := time.Now()
		syncCmd.Wait() // it fails: its mount is gone
		srv.SetFaults(spemu.Faults{})
		remounted := time.Now()
		m = startMount(t, bin, srv, mnt, cacheDir, small...)
		if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
			t.Fatalf("sync after remount: exit %d: %s", code, errs)
		}
		reqs := srv.Requests()
		// Stored by the first mount: its PUTs the server answered 2xx
		// (the one in flight at the kill may have been stored after odfb
		// died, its answer never read).
		before := storedSmall(reqs, time.Time{}, killed)
		if len(before) == 0 || len(before) >= 200 {
			t.Fatalf("%d of 200 files on the server at the kill; the test needs part of the queue done", len(before))
		}
		// In flight at the kill: the last --transfers PUTs the first
		// mount sent.
		inFlight := map[string]bool{}
		for i := len(reqs) - 1; i >= 0 && len(inFlight) < transfers; i-- {
			if r := reqs[i]; r.Method == "PUT" && r.Time.Before(killed) {
				inFlight[r.Path[strings.LastIndex(r.Path, "/"):]] = true
			}
		}
		var resent []string
		for p := range putsSmall(reqs, remounted) {
			if before[p] {
				resent = append(resent, p)
			}
		}
		sort.Strings(resent)
		t.Logf("killed with %d of 200 on the server, in flight %v; re-sent after the remount: %v", len(before), inFlight, resent)
		// Only an upload whose answer odfb had not recorded when it died
		// may go again (the server then answers 412 and odfb finds its own
		// bytes there): at most --transfers files, the ones in flight.
		for _, p := range resent {
			if !inFlight[p] {
				t.Errorf("%s was on the server before the kill and not in flight, yet uploaded again after the restart", p)
			}
		}
		if len(resent) > transfers {
			t.Errorf("%d files already on the server were uploaded again after the restart (at most %d may be): %v", len(resent), transfers, resent)
		}
		for i := 0; i < 200; i++ {
			if data, err := srv.ReadFile(fmt.Sprintf("/small%03d.txt", i)); err != nil || !bytes.Equal(data, seededBytes(4096, int64(100+i))) {
				t.Errorf("small%03d.txt on the server: %v", i, err)
			}
		}
		if code, out, _ := runOdfb(t, bin, "status", mnt); code != 0 || !strings.Contains(out, "uploads: 0 queued") || strings.Contains(out, "conflict") {
			t.Errorf("status after the sync (exit %d):\n%s", code, out)
		}
		runOdfb(t, bin, "unmount", mnt)
		<-m.exited
	})
}

// storedSmall returns the /smallNNN.txt files that a PUT arriving in
// [from, to) stored (2xx).
func storedSmall(reqs []spemu.RequestRecord, from, to time.Time) map[string]bool {
	out := map[string]bool{}
	for _, r := range reqs {
		if r.Method == "PUT" && r.Status/100 == 2 && !r.Time.Before(from) && r.Time.Before(to) && strings.Contains(r.Path, "/small") {
			out[r.Path[strings.LastIndex(r.Path, "/"):]] = true
		}
	}
	return out
}

// putsSmall returns the /smallNNN.txt files sent by a PUT (whatever the
// answer) arriving at or after from.
func putsSmall(reqs []spemu.RequestRecord, from time.Time) map[string]bool {
	out := map[string]bool{}
	for _, r := range reqs {
		if r.Method == "PUT" && !r.Time.Before(from) && strings.Contains(r.Path, "/small") {
			out[r.Path[strings.LastIndex(r.Path, "/"):]] = true
		}
	}
	return out
}

func countStarts(srv *spemu.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "POST" && strings.Contains(r.Path, "StartUpload") {
			n++
		}
	}
	return n
}
