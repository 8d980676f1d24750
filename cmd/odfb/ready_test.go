package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/control"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestReadinessLineMeansControlSocket: when `odfb mount` logs its
// readiness line, the control socket already accepts connections, so
// `odfb status` or `odfb sync` run by a script right after it answer.
// The mount process is stopped (SIGSTOP) the moment the line is read, so
// nothing it would do after logging can happen before the check; the
// socket is listening iff connect succeeds (the kernel completes a unix
// connect on a listening socket without the process). A SIGTERM sent
// right after the line must end the mount too (it was lost when it came
// before the mount's signal handler was set up). Several rounds,
// because before the fix the check lost a race most of the time, not
// always.
func TestReadinessLineMeansControlSocket(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	srv := fstest.StartSpemu(t, spemu.Config{})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	sock, err := control.SocketPath(mnt)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 5; round++ {
		cmd := exec.Command(bin, "mount", "--auth", "none", "--cache-dir", filepath.Join(dir, "cache"), srv.LibraryURL(), mnt)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		type result struct {
			seen bool
			err  error
		}
		res := make(chan result, 1)
		var logText strings.Builder
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			sc := bufio.NewScanner(stderr)
			r := result{}
			for sc.Scan() {
				logText.WriteString(sc.Text() + "\n")
				if !r.seen && strings.Contains(sc.Text(), "mounted ") {
					cmd.Process.Signal(syscall.SIGSTOP)
					c, err := net.Dial("unix", sock)
					if err == nil {
						c.Close()
					}
					cmd.Process.Signal(syscall.SIGCONT)
					r = result{seen: true, err: err}
					res <- r
				}
			}
			if !r.seen {
				res <- r
			}
		}()
		var r result
		select {
		case r = <-res:
		case <-time.After(60 * time.Second):
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-drained:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-drained
			t.Errorf("round %d: SIGTERM right after the readiness line was ignored", round)
		}
		cmd.Wait()
		if fstest.IsMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
			t.Fatalf("round %d: left mounted", round)
		}
		if !r.seen {
			t.Fatalf("round %d: no readiness line:\n%s", round, logText.String())
		}
		if r.err != nil {
			t.Fatalf("round %d: readiness line logged before the control socket listened: %v", round, r.err)
		}
	}
}
