package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// helperBin builds odfb and links it as mount.odfb beside it.
func helperBin(t *testing.T) (odfb, helper string) {
	t.Helper()
	odfb = buildOdfb(t)
	helper = filepath.Join(filepath.Dir(odfb), "mount.odfb")
	if err := os.Symlink("odfb", helper); err != nil {
		t.Fatal(err)
	}
	return odfb, helper
}

// cookieFileFor writes a 0600 cookie file with a fresh spemu session.
func cookieFileFor(t *testing.T, srv *spemu.Server) string {
	t.Helper()
	cookie, err := srv.IssueSessionCookie()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "cookie")
	os.WriteFile(f, []byte("Cookie: "+cookie+"\n"), 0o600)
	return f
}

// runCmd runs a program and returns its exit code and combined output.
func runCmd(t *testing.T, env []string, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(append(os.Environ(), "AUTH_COOKIES="), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// daemonPID finds the background `odfb mount --daemon` whose last
// argument is mnt (the mountpoint as given).
func daemonPID(t *testing.T, mnt string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 3 && args[0] == "odfb" && args[1] == "mount" && args[len(args)-1] == mnt {
			return pid
		}
	}
	t.Fatalf("no background odfb mount process for %s", mnt)
	return 0
}

// gone reports whether pid has exited (a zombie counts: it has).
func gone(pid int) bool {
	st := procStatField(pid, 3)
	return st == "" || st == "Z"
}

// procStatField returns field n (1-based, as in proc(5)) of /proc/pid/stat.
func procStatField(pid, n int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if n-3 < 0 || n-3 >= len(f) {
		return ""
	}
	return f[n-3]
}

// waitGone waits (generously; the machine is shared) for pid to exit.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !gone(pid); {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("odfb daemon %d did not exit after the unmount", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mountEntry returns mnt's /proc/mounts line, or "".
func mountEntry(mnt string) string {
	b, _ := os.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 3 && f[1] == mnt {
			return l
		}
	}
	return ""
}

// cleanupMount detaches mnt and kills its daemon if a test left them.
func cleanupMount(t *testing.T, mnt string) {
	t.Cleanup(func() {
		if fstest.IsMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
			t.Errorf("%s was left mounted", mnt)
		}
	})
}

// TestMountHelper runs mount.odfb as mount(8) would: it returns once the
// mount is usable (a file is readable at once), the options are applied
// (/proc/mounts, owner and modes shown), fstab-only options are ignored;
// `umount DIR` ends the daemon, which first uploads what was written
// (write_back=1h: only the drain at unmount can have sent it).
func TestMountHelper(t *testing.T) {
	testenv.NeedFUSE(t)
	umountBin := testenv.LookPath(t, "umount")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	_, helper := helperBin(t)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "cookie"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cacheDir := filepath.Join(dir, "cache")
	cleanupMount(t, mnt)

	code, out := runCmd(t, nil, helper, srv.LibraryURL(), mnt, "-o",
		"rw,nosuid,nodev,noexec,_netdev,user,nofail,cookie_file="+cookieFileFor(t, srv)+",cache_dir="+cacheDir+
			",uid=1234,gid=daemon,umask=027,allow_other,write_back=1h,x-systemd.automount,comment=x")
	if code != 0 {
		t.Fatalf("mount.odfb: exit %d\n%s", code, out)
	}
	if out != "" {
		t.Errorf("mount.odfb printed on success: %q", out)
	}
	if data, err := os.ReadFile(filepath.Join(mnt, "hello.txt")); err != nil || string(data) != "hello\n" {
		t.Fatalf("read right after mount.odfb returned: %q %v", data, err)
	}
	entry := mountEntry(mnt)
	if f := strings.Fields(entry); len(f) < 4 || f[2] != "fuse.odfb" || !strings.Contains(f[3], "allow_other") || !strings.HasPrefix(f[3], "rw") {
		t.Errorf("/proc/mounts: %q; want fuse.odfb rw,…allow_other", entry)
	}
	if uid, gid, perm := ownerMode(t, filepath.Join(mnt, "hello.txt")); uid != 1234 || gid != 1 || perm != 0o640 {
		t.Errorf("hello.txt shows %d:%d %#o; want 1234:1 (daemon) 0640", uid, gid, perm)
	}
	pid := daemonPID(t, mnt)
	if err := os.WriteFile(filepath.Join(mnt, "new.txt"), []byte("written before umount"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runCmd(t, nil, umountBin, mnt); code != 0 {
		t.Fatalf("umount: exit %d %s", code, out)
	}
	waitGone(t, pid)
	if data, err := srv.ReadFile("/new.txt"); err != nil || string(data) != "written before umount" {
		t.Errorf("new.txt after the daemon exited: %q %v; want it uploaded by the drain", data, err)
	}
	logPath := filepath.Join(cacheDir, "odfb.log")
	st, err := os.Stat(logPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("log file %s: %v %v; want mode 0600", logPath, st, err)
	}
	logText, _ := os.ReadFile(logPath)
	for _, want := range []string{"mounted " + srv.LibraryURL() + " at " + mnt, "unmounted " + mnt} {
		if !strings.Contains(string(logText), want) {
			t.Errorf("log file lacks %q:\n%s", want, logText)
		}
	}
}

// TestMountTypeOdfb mounts through the real mount(8) and an fstab line
// (mount -T FILE DIR), which finds the helper only in /sbin: the test
// links /sbin/mount.odfb for its duration (putting back whatever was
// there), so it runs only with ODFB_REQUIRE_TOOLS=1.
func TestMountTypeOdfb(t *testing.T) {
	testenv.NeedFUSE(t)
	mountBin := testenv.LookPath(t, "mount")
	umountBin := testenv.LookPath(t, "umount")
	if !testenv.Strict() {
		t.Skip("writes /sbin/mount.odfb: runs only with ODFB_REQUIRE_TOOLS=1")
	}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	odfb, _ := helperBin(t)
	const sbin = "/sbin/mount.odfb"
	if _, err := os.Lstat(sbin); err == nil {
		aside := sbin + ".odfb-test-aside"
		if err := os.Rename(sbin, aside); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Rename(aside, sbin) })
	}
	if err := os.Symlink(odfb, sbin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, _ := os.Readlink(sbin); l == odfb {
			os.Remove(sbin)
		}
	})

	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "cookie"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cleanupMount(t, mnt)
	// Options in a config file, as in docs/mount.md.
	conf := filepath.Join(dir, "odfb.conf")
	os.WriteFile(conf, []byte("# odfb options\ncookie_file="+cookieFileFor(t, srv)+"\ncache_dir="+filepath.Join(dir, "cache")+"\n"), 0o600)

	for _, ro := range []bool{false, true} {
		var code int
		var out string
		if ro {
			code, out = runCmd(t, nil, mountBin, "-t", "odfb", srv.LibraryURL(), mnt, "-o", "ro,config="+conf)
		} else {
			fstab := filepath.Join(dir, "fstab")
			os.WriteFile(fstab, []byte(srv.LibraryURL()+" "+mnt+" odfb config="+conf+",_netdev,noauto,nofail,x-systemd.automount 0 0\n"), 0o644)
			code, out = runCmd(t, nil, mountBin, "-T", fstab, mnt)
		}
		if code != 0 {
			t.Fatalf("ro=%v: mount: exit %d\n%s", ro, code, out)
		}
		if data, err := os.ReadFile(filepath.Join(mnt, "hello.txt")); err != nil || string(data) != "hello\n" {
			t.Errorf("ro=%v: read: %q %v", ro, data, err)
		}
		f := strings.Fields(mountEntry(mnt))
		if len(f) < 4 || f[2] != "fuse.odfb" || strings.HasPrefix(f[3], "ro") != ro {
			t.Errorf("ro=%v: /proc/mounts: %v", ro, f)
		}
		pid := daemonPID(t, mnt)
		if code, out := runCmd(t, nil, umountBin, mnt); code != 0 {
			t.Fatalf("umount: exit %d %s", code, out)
		}
		waitGone(t, pid)
	}
}

// TestMountHelperRefuses: secrets as options, unknown options, a wrong
// type and unsafe config files are refused with exit 2 and an error
// naming them, before anything is started.
func TestMountHelperRefuses(t *testing.T) {
	_, helper := helperBin(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	conf := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), mode)
		os.Chmod(p, mode)
		return p
	}
	loose := conf("loose.conf", "cache_size=1G\n", 0o666)
	secret := conf("secret.conf", "cache_size=1G\npassword=hunter2\n", 0o600)
	others := conf("others.conf", "cache_size=1G\n", 0o600)
	if os.Geteuid() == 0 {
		os.Chown(others, 65534, 65534)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"password", []string{"-o", "password=hunter2"}, []string{"password=", "refused", "password_file="}},
		{"cookie", []string{"-o", "cookie_file=/x,cookie=FedAuth=abc"}, []string{"cookie=", "refused"}},
		{"token", []string{"-o", "token=eyJ"}, []string{"token=", "refused"}},
		{"unknown", []string{"-o", "rw,frobnicate,colour=blue"}, []string{"unknown options: colour, frobnicate"}},
		{"value missing", []string{"-o", "cache_dir"}, []string{"cache_dir needs a value"}},
		{"wrong type", []string{"-t", "nfs"}, []string{`"nfs"`}},
		{"config writable by others", []string{"-o", "config=" + loose}, []string{"loose.conf", "lets others change it"}},
		{"secret in config", []string{"-o", "config=" + secret}, []string{"password=", "secret.conf line 2", "refused"}},
		{"config missing", []string{"-o", "config=" + filepath.Join(dir, "nope")}, []string{"config=", "no such file"}},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, struct {
			name string
			args []string
			want []string
		}{"config of another user", []string{"-o", "config=" + others}, []string{"owned by uid 65534"}})
	}
	for _, c := range cases {
		code, out := runCmd(t, nil, helper, append([]string{"https://contoso.sharepoint.com/sites/x/Docs", mnt}, c.args...)...)
		if code != exitcodes.Usage {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, code, exitcodes.Usage, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, out)
			}
		}
		if strings.Contains(out, "hunter2") || strings.Contains(out, "eyJ") || strings.Contains(out, "abc") {
			t.Errorf("%s: the error repeats the secret:\n%s", c.name, out)
		}
	}
}

// TestMountHelperOptions checks the translation to odfb mount flags
// (-fv prints it and stops): fstab-only options dropped, "_" → "-",
// names for uid/gid, quoted commas, config= first so -o wins, -s.
func TestMountHelperOptions(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "odfb.conf")
	os.WriteFile(conf, []byte("# comment\n\ncache_size = 5G\ncookie_command=printf 'a=b, c=d'\nsync_upload\n"), 0o600)
	var out, errb bytes.Buffer
	code := mountHelper([]string{"odfb#https://h/lib", "/mnt", "-fv", "-o",
		`defaults,ro,_netdev,noauto,user,users,nofail,nosuid,nodev,noexec,relatime,x-systemd.requires=network-online.target,comment=c,` +
			`uid=root,gid=0,umask=077,allow_other,config=` + conf + `,cache_size=7G,bearer_command="cmd --a,b",dir_cache_time=5m`}, &out, &errb)
	want := "mount.odfb: odfb mount --daemon --cache-size=5G --cookie-command=printf 'a=b, c=d' --sync-upload " +
		"--uid=0 --gid=0 --umask=077 --allow-other --cache-size=7G --bearer-command=cmd --a,b --dir-cache-time=5m --read-only -- https://h/lib /mnt\n"
	if code != 0 || errb.String() != want {
		t.Errorf("exit %d\n got %q\nwant %q", code, errb.String(), want)
	}
	errb.Reset()
	if code := mountHelper([]string{"https://h/lib", "/mnt", "-s", "-f", "-o", "frobnicate"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "ignoring unknown options (-s): frobnicate") {
		t.Errorf("-s: exit %d %q", code, errb.String())
	}
}

// TestMountHelperKnowsEveryFlag: every odfb mount flag is reachable as
// an option (or deliberately not), so a new flag cannot be forgotten.
func TestMountHelperKnowsEveryFlag(t *testing.T) {
	var out, errb bytes.Buffer
	cmdMount([]string{"--help"}, &out, &errb)
	names := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(errb.String(), -1)
	if len(names) < 20 {
		t.Fatalf("parsed %d flags from odfb mount --help:\n%s", len(names), errb.String())
	}
	for _, m := range names {
		if n := m[1]; !helperValueFlags[n] && !helperBoolFlags[n] && n != "daemon" {
			t.Errorf("odfb mount --%s has no mount.odfb option (add it to helperValueFlags or helperBoolFlags)", n)
		}
	}
}

// TestMountDaemon: odfb mount --daemon returns once the mount is ready
// and serves it in the background until odfb unmount; failures before
// readiness come back as the foreground exit code and message.
func TestMountDaemon(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "cookie"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cleanupMount(t, mnt)
	logFile := filepath.Join(dir, "logs", "odfb.log")
	cookie := cookieFileFor(t, srv)

	// Relative paths work: the daemon resolves them before it leaves
	// the working directory.
	cmd := exec.Command(bin, "mount", "--daemon", "--cookie-file", cookie, "--cache-dir", "cache", "--log-file", logFile, srv.LibraryURL(), "mnt")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AUTH_COOKIES=")
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("odfb mount --daemon: %v %q", err, out)
	}
	if data, err := os.ReadFile(filepath.Join(mnt, "hello.txt")); err != nil || string(data) != "hello\n" {
		t.Fatalf("read right after --daemon returned: %q %v", data, err)
	}
	pid := daemonPID(t, "mnt")
	if cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd"); err != nil || cwd != "/" {
		t.Errorf("daemon cwd %q %v; want /", cwd, err)
	}
	if sid := procStatField(pid, 6); sid != strconv.Itoa(pid) {
		t.Errorf("daemon session %s; want its own (%d)", sid, pid)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache", "meta.db")); err != nil {
		t.Errorf("relative --cache-dir: %v", err)
	}
	os.WriteFile(filepath.Join(mnt, "new.txt"), []byte("drained"), 0o644)
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("odfb unmount: exit %d %s", code, errs)
	}
	waitGone(t, pid)
	if data, err := srv.ReadFile("/new.txt"); err != nil || string(data) != "drained" {
		t.Errorf("new.txt: %q %v", data, err)
	}
	if st, err := os.Stat(logFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("log file: %v %v", st, err)
	}

	// Failures: the foreground exit code and error, on stderr.
	bad := filepath.Join(dir, "bad-cookie")
	os.WriteFile(bad, []byte("FedAuth=nope\n"), 0o600)
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"not a library", []string{"--auth", "none", srv.URL() + "/nope/nothing"}, exitcodes.Server, "is not a library or folder"},
		{"refused cookie", []string{"--cookie-file", bad, srv.LibraryURL()}, exitcodes.Auth, "refused the credentials"},
	} {
		args := append(append([]string{"mount", "--daemon", "--cache-dir", filepath.Join(dir, "c-"+c.name)}, c.args...), mnt)
		code, out := runCmd(t, nil, bin, args...)
		if code != c.code || !strings.Contains(out, c.msg) || !strings.Contains(out, "odfb.log") {
			t.Errorf("%s: exit %d %q; want %d and %q with the log file named", c.name, code, out, c.code, c.msg)
		}
		if fstest.IsMounted(mnt) {
			t.Fatalf("%s: mounted", c.name)
		}
	}
}

// TestSdNotify: a foreground odfb mount under a Type=notify service
// sends READY=1 once the mount is usable and STOPPING=1 when it begins
// to unmount.
func TestSdNotify(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "none"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cleanupMount(t, mnt)
	sockPath := filepath.Join(dir, "notify")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	cmd := exec.Command(bin, "mount", "--auth", "none", "--cache-dir", filepath.Join(dir, "cache"), srv.LibraryURL(), mnt)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath)
	var logBuf bytes.Buffer
	cmd.Stderr = &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	read := func() string {
		sock.SetReadDeadline(time.Now().Add(2 * time.Minute))
		buf := make([]byte, 256)
		n, err := sock.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v\n%s", err, logBuf.String())
		}
		return string(buf[:n])
	}
	if got := read(); got != "READY=1" {
		t.Fatalf("first notification %q; want READY=1", got)
	}
	if data, err := os.ReadFile(filepath.Join(mnt, "hello.txt")); err != nil || string(data) != "hello\n" {
		t.Errorf("read after READY=1: %q %v", data, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if got := read(); got != "STOPPING=1" {
		t.Errorf("notification after SIGTERM %q; want STOPPING=1", got)
	}
	if err := <-exited; err != nil {
		t.Errorf("odfb mount: %v\n%s", err, logBuf.String())
	}
}

// TestSdNotifyAbstract: "@name" is a socket in the abstract namespace;
// without NOTIFY_SOCKET nothing is sent and nothing fails.
func TestSdNotifyAbstract(t *testing.T) {
	name := "@odfb-test-" + strconv.Itoa(os.Getpid())
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	t.Setenv("NOTIFY_SOCKET", name)
	if err := sdNotify("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	sock.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := sock.Read(buf); err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("got %q %v", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
}
