package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// buildOdfb builds the command once per test binary.
func buildOdfb(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "odfb")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestMountCommand runs `odfb mount` as a user would: cookie file, flags
// after the positional arguments, readiness line, reads, SIGTERM, exit 0,
// nothing left mounted.
func TestMountCommand(t *testing.T) {
	testenv.NeedFUSE(t)
	bin := buildOdfb(t)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "folder"), 0o755)
	os.WriteFile(filepath.Join(root, "folder", "hello：world.txt"), []byte("hi there\n"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "cookie"})
	cookie, err := srv.IssueSessionCookie()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cookieFile := filepath.Join(dir, "cookie")
	os.WriteFile(cookieFile, []byte("Cookie: "+cookie+"\n"), 0o600)
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cacheDir := filepath.Join(dir, "cache")

	cmd := exec.Command(bin, "mount", "--cookie-file", cookieFile, srv.LibraryURL(), mnt,
		"--cache-dir", cacheDir, "--dir-cache-time", "5s", "--log-level", "debug")
	cmd.Env = append(os.Environ(), "AUTH_COOKIES=")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logBuf bytes.Buffer
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			logBuf.WriteString(line + "\n")
			if !signalled && strings.Contains(line, "mounted "+srv.LibraryURL()+" at "+mnt) {
				signalled = true
				ready <- true
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if fstest.IsMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		cmd.Process.Kill()
	})
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("odfb mount exited early: %v\n%s", err, logBuf.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("no readiness line in 60s:\n%s", logBuf.String())
	}
	data, err := os.ReadFile(filepath.Join(mnt, "folder", "hello:world.txt"))
	if err != nil || string(data) != "hi there\n" {
		t.Fatalf("read through the mount: %q %v", data, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "new.txt"), []byte("x"), 0o644); err != nil {
		t.Errorf("write: %v", err)
	}
	st, err := os.Stat(cacheDir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir: %v %v", st, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("odfb mount after SIGTERM: %v\n%s", err, logBuf.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("odfb mount did not exit after SIGTERM:\n%s", logBuf.String())
	}
	if fstest.IsMounted(mnt) {
		t.Fatal("still mounted after SIGTERM")
	}
	if data, err := srv.ReadFile("/new.txt"); err != nil || string(data) != "x" {
		t.Errorf("new.txt not uploaded by the drain at SIGTERM: %q %v", data, err)
	}
	if strings.Contains(logBuf.String(), strings.SplitN(cookie, "=", 2)[1][:8]) {
		t.Error("the log holds the session cookie")
	}
	for _, r := range srv.Requests() {
		if r.Auth != "cookie" {
			t.Errorf("request without the cookie: %+v", r)
		}
	}
}

// TestMountExitCodes checks the documented exit codes of failures that
// happen before mounting.
func TestMountExitCodes(t *testing.T) {
	bin := buildOdfb(t)
	srv := fstest.StartSpemu(t, spemu.Config{Auth: "cookie"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	bad := filepath.Join(dir, "bad-cookie")
	os.WriteFile(bad, []byte("FedAuth=nope; rtFa=nope\n"), 0o600)
	loose := filepath.Join(dir, "loose-cookie")
	os.WriteFile(loose, []byte("FedAuth=nope\n"), 0o644)
	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"no args", []string{"mount"}, exitcodes.Usage},
		{"unknown flag", []string{"mount", "--nope", srv.LibraryURL(), mnt}, exitcodes.Usage},
		{"not a URL", []string{"mount", "ftp://x", mnt}, exitcodes.Usage},
		{"help", []string{"mount", "--help"}, exitcodes.OK},
		{"mountpoint missing", []string{"mount", "--auth", "none", srv.LibraryURL(), filepath.Join(dir, "nope")}, exitcodes.Mount},
		{"refused cookie", []string{"mount", "--cookie-file", bad, "--cache-dir", filepath.Join(dir, "c1"), srv.LibraryURL(), mnt}, exitcodes.Auth},
		{"cookie file readable by others", []string{"mount", "--cookie-file", loose, srv.LibraryURL(), mnt}, exitcodes.Auth},
		{"wrong library", []string{"mount", "--auth", "none", "--cache-dir", filepath.Join(dir, "c2"), srv.URL() + "/nope/nothing", mnt}, exitcodes.Server},
		{"unknown command", []string{"frobnicate"}, exitcodes.Usage},
		{"version", []string{"version"}, exitcodes.OK},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Env = append(os.Environ(), "AUTH_COOKIES=")
		out, _ := cmd.CombinedOutput()
		if got := cmd.ProcessState.ExitCode(); got != c.want {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, got, c.want, out)
		}
		if fstest.IsMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
			t.Fatalf("%s: left a mount", c.name)
		}
	}
}

func TestSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512M": 512 << 20, "10G": 10 << 30, "1.5GiB": 3 << 29, "2k": 2048} {
		var s sizeFlag
		if err := s.Set(in); err != nil || int64(s) != want {
			t.Errorf("sizeFlag.Set(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	var s sizeFlag
	if err := s.Set("lots"); err == nil {
		t.Error("sizeFlag.Set(lots) succeeded")
	}
}
