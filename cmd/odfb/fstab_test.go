package main

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestFuseTypeArgs: "odfb URL DIR -o OPTIONS", what mount.fuse3 runs for
// an fstab line of type fuse.odfb, is mount.odfb, not an unknown command;
// a mistyped command is still one.
func TestFuseTypeArgs(t *testing.T) {
	var out, errb strings.Builder
	code := run([]string{"https://h/sites/x/Docs", "/mnt", "-o", "ro,noauto,user,cache_size=1G", "-fv"}, &out, &errb)
	want := "mount.odfb: odfb mount --daemon --cache-size=1G --read-only -- https://h/sites/x/Docs /mnt\n"
	if code != 0 || errb.String() != want {
		t.Errorf("exit %d\n got %q\nwant %q", code, errb.String(), want)
	}
	errb.Reset()
	// Several libraries from a file: the fstab source is only a label.
	code = run([]string{"odfb", "/mnt", "-o", "libraries=/etc/odfb/work.libraries,noauto", "-fv"}, &out, &errb)
	want = "mount.odfb: odfb mount --daemon --libraries=/etc/odfb/work.libraries -- /mnt\n"
	if code != 0 || errb.String() != want {
		t.Errorf("libraries=: exit %d\n got %q\nwant %q", code, errb.String(), want)
	}
	errb.Reset()
	if code := run([]string{"mout", "https://h/x", "/mnt"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "mout"`) {
		t.Errorf("mistyped command: exit %d %q", code, errb.String())
	}
}

// fstabWorld is a directory every user can traverse holding an odfb
// binary (also linked as /sbin/mount.odfb and /usr/local/bin/odfb for the
// duration of the test),
// for mounts run by mount(8) as root and as another user.
type fstabWorld struct {
	dir string
}

func newFstabWorld(t *testing.T) fstabWorld {
	t.Helper()
	dir, err := os.MkdirTemp("", "odfb-fstab-")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("ODFB_KEEP") == "" {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	odfb := filepath.Join(bin, "odfb")
	b, err := os.ReadFile(buildOdfb(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(odfb, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// mount(8) runs helpers with no PATH: mount.odfb is found in /sbin,
	// and the "sh -c odfb …" of mount.fuse3 searches the shell's
	// default PATH, where make install and the package put odfb.
	linkAside(t, "/sbin/mount.odfb", odfb)
	linkAside(t, "/usr/local/bin/odfb", odfb)
	return fstabWorld{dir: dir}
}

// linkAside makes path a symlink to target for the test, putting back
// whatever was there.
func linkAside(t *testing.T, path, target string) {
	t.Helper()
	if _, err := os.Lstat(path); err == nil {
		aside := path + ".odfb-test-aside"
		if err := os.Rename(path, aside); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Rename(aside, path) })
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, _ := os.Readlink(path); l == target {
			os.Remove(path)
		}
	})
}

// fuseDevForUsers opens /dev/fuse to every user (0666, what Debian's
// udev rule sets) for the test; containers often create it 0600.
func fuseDevForUsers(t *testing.T) {
	t.Helper()
	st, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() == 0o666 {
		return
	}
	if err := os.Chmod("/dev/fuse", 0o666); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod("/dev/fuse", st.Mode().Perm()) })
}

// throwawayUser creates a system user for the test and removes it after.
func throwawayUser(t *testing.T) *user.User {
	t.Helper()
	useradd := testenv.LookPath(t, "useradd")
	userdel := testenv.LookPath(t, "userdel")
	name := fmt.Sprintf("odfbt%d", rand.Intn(1e6))
	if out, err := exec.Command(useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
		"--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(userdel, name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// addFstabLines appends lines to /etc/fstab and removes exactly them at
// cleanup (user mounts are allowed only for /etc/fstab lines).
func addFstabLines(t *testing.T, lines ...string) {
	t.Helper()
	const fstab = "/etc/fstab"
	f, err := os.OpenFile(fstab, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(fstab)
	if len(old) > 0 && old[len(old)-1] != '\n' {
		f.WriteString("\n")
	}
	for _, l := range lines {
		f.WriteString(l + "\n")
	}
	f.Close()
	t.Cleanup(func() {
		b, err := os.ReadFile(fstab)
		if err != nil {
			t.Error(err)
			return
		}
		drop := map[string]bool{}
		for _, l := range lines {
			drop[l] = true
		}
		var keep []string
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if !drop[strings.TrimSuffix(l, "\n")] {
				keep = append(keep, l)
			}
		}
		if err := os.WriteFile(fstab, []byte(strings.Join(keep, "")), 0o644); err != nil {
			t.Error(err)
		}
	})
}

// TestFstabForms mounts through the real mount(8) with both fstab forms,
// type odfb (mount(8) runs /sbin/mount.odfb) and type fuse.odfb
// (mount(8) runs mount.fuse3, which runs "odfb URL DIR -o OPTIONS"):
// as root with mount -t and an fstab file, and as a non-root user from
// "user,noauto" lines in /etc/fstab, where odfb mounts with fusermount3.
// Each mount must read a file, show in /proc/mounts as fuse.odfb, upload
// a file written through it by the time umount returned and its daemon
// ended. It changes the mode of /dev/fuse (to 0666, as Debian's udev
// rule sets it), /sbin, /usr/local/bin and /etc/fstab for its duration
// (putting back what was there) and adds a system user, so it runs only
// with ODFB_REQUIRE_TOOLS=1.
func TestFstabForms(t *testing.T) {
	testenv.NeedFUSE(t)
	mountBin := testenv.LookPath(t, "mount")
	umountBin := testenv.LookPath(t, "umount")
	testenv.LookPath(t, "mount.fuse3")
	testenv.LookPath(t, "fusermount3")
	if !testenv.Strict() {
		t.Skip("writes /sbin/mount.odfb and /etc/fstab, adds a user: runs only with ODFB_REQUIRE_TOOLS=1")
	}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	w := newFstabWorld(t)
	u := throwawayUser(t)
	fuseDevForUsers(t)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "cookie"})
	cookie, err := srv.IssueSessionCookie()
	if err != nil {
		t.Fatal(err)
	}
	var env []string

	type form struct {
		name, fstype string
		asUser       bool
		fstabFile    bool // root: mount -T FILE DIR instead of mount -t TYPE
	}
	forms := []form{
		{"root -t odfb", "odfb", false, false},
		{"root -t fuse.odfb", "fuse.odfb", false, false},
		{"root fstab fuse.odfb", "fuse.odfb", false, true},
		{"user fstab odfb", "odfb", true, false},
		{"user fstab fuse.odfb", "fuse.odfb", true, false},
	}
	for i, f := range forms {
		// Per form: its own mountpoint, cookie file and cache, owned by
		// whoever mounts.
		own := filepath.Join(w.dir, fmt.Sprintf("f%d", i))
		os.Mkdir(own, 0o700)
		mnt := filepath.Join(own, "mnt")
		os.Mkdir(mnt, 0o755)
		cookieFile := filepath.Join(own, "cookie")
		os.WriteFile(cookieFile, []byte("Cookie: "+cookie+"\n"), 0o600)
		cleanupMount(t, mnt)
		opts := "cookie_file=" + cookieFile + ",cache_dir=" + filepath.Join(own, "cache") + ",write_back=1h"
		var cred *syscall.Credential
		var args []string
		switch {
		case f.asUser:
			for _, p := range []string{own, mnt, cookieFile} {
				os.Chown(p, uid, gid)
			}
			addFstabLines(t, fmt.Sprintf("%s %s %s user,noauto,%s 0 0", srv.LibraryURL(), mnt, f.fstype, opts))
			cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
			args = []string{mnt}
		case f.fstabFile:
			fstab := filepath.Join(own, "fstab")
			os.WriteFile(fstab, []byte(srv.LibraryURL()+" "+mnt+" "+f.fstype+" "+opts+",_netdev,noauto,nofail 0 0\n"), 0o644)
			args = []string{"-T", fstab, mnt}
		default:
			args = []string{"-t", f.fstype, srv.LibraryURL(), mnt, "-o", opts}
		}
		if code, out := runAs(t, cred, env, mountBin, args...); code != 0 {
			t.Fatalf("%s: mount %v: exit %d\n%s", f.name, args, code, out)
		}
		if code, out := runAs(t, cred, env, "cat", filepath.Join(mnt, "hello.txt")); code != 0 || out != "hello\n" {
			t.Errorf("%s: read: exit %d %q", f.name, code, out)
		}
		name := fmt.Sprintf("written-%d.txt", i)
		if code, out := runAs(t, cred, env, "sh", "-c", "echo "+f.name+" > "+filepath.Join(mnt, name)); code != 0 {
			t.Errorf("%s: write: exit %d %s", f.name, code, out)
		}
		if fs := strings.Fields(mountEntry(mnt)); len(fs) < 4 || fs[2] != "fuse.odfb" {
			t.Errorf("%s: /proc/mounts: %v", f.name, fs)
		}
		pid := daemonPID(t, mnt)
		if st := procStatusUID(pid); st != strconv.Itoa(map[bool]int{true: uid, false: 0}[f.asUser]) {
			t.Errorf("%s: the odfb daemon runs as uid %s", f.name, st)
		}
		if code, out := runAs(t, cred, env, umountBin, mnt); code != 0 {
			t.Fatalf("%s: umount: exit %d %s", f.name, code, out)
		}
		waitGone(t, pid)
		// write_back=1h: only the drain at unmount can have sent it.
		if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != f.name+"\n" {
			t.Errorf("%s: on the server: %q %v", f.name, b, err)
		}
	}
}

// runAs runs a program as cred (nil: this process's user).
func runAs(t *testing.T, cred *syscall.Credential, env []string, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(append(os.Environ(), "AUTH_COOKIES="), env...)
	cmd.Dir = "/"
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Env = append(cmd.Env, "HOME=", "XDG_RUNTIME_DIR=")
	}
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// procStatusUID returns the real uid of pid from /proc/pid/status.
func procStatusUID(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	return ""
}
