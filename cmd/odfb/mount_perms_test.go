package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/control"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

func ownerMode(t *testing.T, p string) (uid, gid uint32, perm fs.FileMode) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return sys.Uid, sys.Gid, st.Mode().Perm()
}

// TestMountOwnerModeFlags: `odfb mount --uid --gid --umask
// --allow-other` show that owner and those modes on the mountpoint,
// folders and files, and another user can stat the mountpoint; the
// kernel checks the modes shown (default_permissions), so with umask 027
// that user may not look inside.
func TestMountOwnerModeFlags(t *testing.T) {
	testenv.NeedFUSE(t)
	statBin := testenv.LookPath(t, "stat")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "folder"), 0o755)
	os.WriteFile(filepath.Join(root, "folder", "file.txt"), []byte("x"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "cookie"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	m := startMount(t, bin, srv, mnt, filepath.Join(dir, "cache"),
		"--uid", "1234", "--gid", "2345", "--umask", "027", "--allow-other")
	for p, want := range map[string]fs.FileMode{mnt: 0o750, filepath.Join(mnt, "folder"): 0o750, filepath.Join(mnt, "folder", "file.txt"): 0o640} {
		if uid, gid, perm := ownerMode(t, p); uid != 1234 || gid != 2345 || perm != want {
			t.Errorf("%s: %d:%d %#o; want 1234:2345 %#o", p, uid, gid, perm, want)
		}
	}
	fstest.OpenToOthers(t, dir)
	if out, err := fstest.AsNobody(t, nil, statBin, "-c", "%u:%g %a", mnt); err != nil || out != "1234:2345 750" {
		t.Errorf("uid 65534 stat of the mountpoint: %q %v; want 1234:2345 750", out, err)
	}
	if out, err := fstest.AsNobody(t, nil, statBin, filepath.Join(mnt, "folder")); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("uid 65534 looked inside a 0750 mountpoint: %q %v", out, err)
	}
	runOdfb(t, bin, "unmount", mnt)
	<-m.exited
}

// TestPrivateFiles: the control socket is 0600 in a 0700 directory of
// the mount's owner, and another user is refused twice over: by the
// directory (EACCES), and — with the path opened up by hand — by the
// peer-uid check. In the cache directory every folder (staging/,
// content/, lost+found/ …) is 0700 and every file (staging files,
// cached content, lost+found entries and their reasons, meta.db) 0600
// after a read, a write and a refused upload — with odfb started under
// umask 0, so the modes are odfb's own, not the umask's.
func TestPrivateFiles(t *testing.T) {
	testenv.NeedFUSE(t)
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	bin := buildOdfb(t)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "server.txt"), []byte("from the server"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "cookie"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cacheDir := filepath.Join(dir, "cache")
	old := syscall.Umask(0)
	m := startMount(t, bin, srv, mnt, cacheDir, "--write-back", "1h")
	syscall.Umask(old)

	// The control socket.
	sock, err := control.SocketPath(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(sock); err != nil || st.Mode()&fs.ModeSocket == 0 {
		t.Fatalf("control socket %s: %v %v", sock, st, err)
	}
	if uid, _, perm := ownerMode(t, sock); uid != uint32(os.Getuid()) || perm != 0o600 {
		t.Errorf("control socket: uid %d mode %#o; want %d 0600", uid, perm, os.Getuid())
	}
	if uid, _, perm := ownerMode(t, filepath.Dir(sock)); uid != uint32(os.Getuid()) || perm != 0o700 {
		t.Errorf("control socket directory: uid %d mode %#o; want %d 0700", uid, perm, os.Getuid())
	}
	fstest.OpenToOthers(t, filepath.Dir(bin))
	if out, err := fstest.AsNobody(t, nil, bin, "status", mnt); err == nil || !strings.Contains(out, "permission denied") {
		t.Errorf("uid 65534 odfb status: %q %v; want connect: permission denied", out, err)
	}
	// Open the path to the socket by hand: the mount itself refuses.
	fstest.OpenToOthers(t, filepath.Dir(sock))
	os.Chmod(sock, 0o666)
	if out, err := fstest.AsNobody(t, nil, bin, "status", mnt); err == nil || strings.Contains(out, "uploads:") {
		t.Errorf("uid 65534 odfb status with the socket opened up: %q %v; want refused", out, err)
	}
	os.Chmod(sock, 0o600)
	os.Chmod(filepath.Dir(sock), 0o700)
	if !strings.Contains(m.logText(), "refused a connection from another user") || !strings.Contains(m.logText(), "uid=65534") {
		t.Errorf("the mount did not log the refusal:\n%s", m.logText())
	}
	if code, out, errs := runOdfb(t, bin, "status", mnt); code != 0 || !strings.Contains(out, "uploads:") {
		t.Errorf("owner's odfb status after the refusals: exit %d %s %s", code, out, errs)
	}

	// The cache: a read (content/), a staged write (staging/), a refused
	// upload (lost+found/).
	if _, err := os.ReadFile(filepath.Join(mnt, "server.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "staged.txt"), []byte("waits an hour"), 0o666); err != nil {
		t.Fatal(err)
	}
	// 90 colons fit Linux's 255 bytes, not (mapped, 3 bytes each) spemu's.
	if err := os.WriteFile(filepath.Join(mnt, strings.Repeat(":", 90)+"refused.txt"), []byte("the server refuses the name"), 0o666); err != nil {
		t.Fatal(err)
	}
	runOdfb(t, bin, "sync", mnt) // uploads staged.txt, sends the refused name to lost+found
	if err := os.WriteFile(filepath.Join(mnt, "staged2.txt"), []byte("stays staged"), 0o666); err != nil {
		t.Fatal(err)
	}
	files := map[string]int{}
	err = filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(cacheDir, p)
		top := strings.SplitN(rel, string(filepath.Separator), 2)[0]
		_, _, perm := ownerMode(t, p)
		switch {
		case d.IsDir() && perm != 0o700:
			t.Errorf("cache folder %s is %#o; want 0700", rel, perm)
		case d.Type().IsRegular() && perm != 0o600:
			t.Errorf("cache file %s is %#o; want 0600", rel, perm)
		case !d.IsDir() && !d.Type().IsRegular():
			t.Errorf("cache holds %s of type %v", rel, d.Type())
		}
		if d.Type().IsRegular() {
			files[top]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, top := range []string{"staging", "content", "lost+found", "meta.db"} {
		if files[top] == 0 {
			t.Errorf("no file in %s; the test did not reach what it checks (files: %v)", top, files)
		}
	}
	runOdfb(t, bin, "unmount", mnt)
	<-m.exited
}
