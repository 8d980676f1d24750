package fusefs_test

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/spemu"
)

// TestSignalsDoNotCancelServerChanges: a caller that catches signals (every
// Go program: the runtime's SIGURG) gets its blocked syscall interrupted by
// the kernel, which tells odfb to give up. The mount is "hard": a read
// must not fail with EINTR (few programs retry it), and a change the
// server may already have made must not either — the caller's retry
// would meet EEXIST/ENOENT. Each call here is held at the server while
// its thread is sent SIGURG; it must succeed, with one request each.
func TestSignalsDoNotCancelServerChanges(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"gone.txt", "old.txt", "data.bin"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	arrived := make(chan string, 1)
	release := make(chan struct{}) // one send lets one held request go on
	srv, lib := startBehind(t, spemu.Config{Root: root}, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/_api/") {
			return false // the change log's token (a GET) is not a call under test
		}
		switch r.Method {
		case "MKCOL", "DELETE", "MOVE", "GET":
			arrived <- r.Method
			<-release
		}
		return false
	})
	m := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, lib, nil), Library: lib})
	if _, err := os.ReadDir(m.Dir); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method string
		op     func() error
	}{
		{"MKCOL", func() error { return syscall.Mkdir(filepath.Join(m.Dir, "new"), 0o755) }},
		{"DELETE", func() error { return syscall.Unlink(filepath.Join(m.Dir, "gone.txt")) }},
		{"DELETE", func() error { return syscall.Rmdir(filepath.Join(m.Dir, "empty")) }},
		{"MOVE", func() error { return syscall.Rename(filepath.Join(m.Dir, "old.txt"), filepath.Join(m.Dir, "new.txt")) }},
		{"GET", func() error {
			fd, err := syscall.Open(filepath.Join(m.Dir, "data.bin"), syscall.O_RDONLY, 0)
			if err != nil {
				return err
			}
			defer syscall.Close(fd)
			buf := make([]byte, 64)
			n, err := syscall.Read(fd, buf) // one read(2): no retry on EINTR
			if err == nil && string(buf[:n]) != "data.bin" {
				t.Errorf("read %q", buf[:n])
			}
			return err
		}},
	} {
		before := countMethod(srv, c.method)
		tid := make(chan int, 1)
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // the signals go to this thread
			defer runtime.UnlockOSThread()
			tid <- unix.Gettid()
			done <- c.op()
		}()
		id := <-tid
		select {
		case <-arrived:
		case err := <-done:
			t.Fatalf("%s finished before reaching the server: %v", c.method, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s never reached the server", c.method)
		}
		for i := 0; i < 20; i++ {
			unix.Tgkill(os.Getpid(), id, unix.SIGURG)
			time.Sleep(5 * time.Millisecond)
		}
		release <- struct{}{}
		if err := <-done; err != nil {
			t.Errorf("%s interrupted by signals: %v, want success", c.method, err)
		}
		if n := countMethod(srv, c.method) - before; n != 1 {
			t.Errorf("%d %s requests, want 1", n, c.method)
		}
	}
	for _, want := range []string{"new", "new.txt"} {
		if _, err := os.Lstat(filepath.Join(m.Dir, want)); err != nil {
			t.Errorf("after the calls: %v", err)
		}
	}
	for _, gone := range []string{"gone.txt", "empty", "old.txt"} {
		if _, err := os.Lstat(filepath.Join(m.Dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s after the calls: %v, want gone", gone, err)
		}
	}
}
