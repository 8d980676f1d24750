package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mountTool mounts the library with one tool. Each workload gets a fresh
// mount with an empty cache directory, so "cold" means cold.
type mountTool interface {
	Name() string
	// Available says whether the tool can run here, and if not, what to
	// install or change.
	Available() (ok bool, why string)
	Mount(ctx context.Context, env *runEnv, dir, cacheDir string) (*mounted, error)
}

// mounted is one live mount.
type mounted struct {
	tool    string
	dir     string
	p       *proc       // the mount process when it is our child
	sampler *memSampler // follows the mount process's memory
	closed  bool
	rss     int64
	cpu     time.Duration
}

// Close unmounts (waiting for the tool to finish, which for davfs2 means
// until its uploads are done) and records peak RSS and CPU time.
func (m *mounted) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	_, err := unmount(m.dir, 3*time.Minute)
	if m.p != nil {
		select {
		case <-m.p.done:
		case <-time.After(2 * time.Minute):
			err = errors.Join(err, fmt.Errorf("%s did not exit after unmount; stopping it", m.tool))
			m.p.stop(10 * time.Second)
		}
	}
	if m.sampler != nil {
		m.rss, m.cpu = m.sampler.result()
	}
	if m.p != nil {
		rss, cpu := m.p.usage()
		m.rss = max(m.rss, rss)
		if cpu > 0 {
			m.cpu = cpu
		}
	}
	return err
}

func lookTool(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name), true
		}
	}
	return "", false
}

// ---- odfb ----

type odfbTool struct{ bin string }

func (t odfbTool) Name() string { return "odfb" }

func (t odfbTool) Available() (bool, string) {
	if _, err := os.Stat(t.bin); err != nil {
		return false, "bin/odfb not built (make build)"
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return false, "/dev/fuse missing"
	}
	return true, ""
}

func (t odfbTool) Mount(ctx context.Context, env *runEnv, dir, cacheDir string) (*mounted, error) {
	args := []string{t.bin, "mount", "--cache-dir", cacheDir, "--log-level", "info"}
	if env.dirCacheTime > 0 {
		args = append(args, "--dir-cache-time", env.dirCacheTime.String())
	}
	if env.srv.CookieFile != "" {
		args = append(args, "--cookie-file", env.srv.CookieFile)
	} else {
		args = append(args, "--auth", "none")
	}
	args = append(args, env.srv.URL, dir)
	return mountChild(ctx, env, "odfb", nil, args)
}

// Sync runs `odfb sync MNT`, which returns once every file closed
// before it began is on the server (exit 0), or says why not.
func (t odfbTool) Sync(ctx context.Context, dir string) error {
	out, err := exec.CommandContext(ctx, t.bin, "sync", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("odfb sync: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// mountChild starts a foreground mount process and waits for the mount.
func mountChild(ctx context.Context, env *runEnv, name string, extraEnv []string, args []string) (*mounted, error) {
	logPath := filepath.Join(env.cfg.WorkDir, "logs", fmt.Sprintf("%s-%s.log", name, env.phase))
	p, err := startProc(name, logPath, extraEnv, nil, args...)
	if err != nil {
		return nil, err
	}
	m := &mounted{tool: name, dir: args[len(args)-1], p: p, sampler: sampleMem(p.pid())}
	if err := waitMounted(ctx, m.dir, p, 60*time.Second); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// ---- rclone ----

// rcloneTool is `rclone mount` of an on-the-fly webdav remote
// (vendor other) with the VFS cache in mode writes (rclone's advice for
// a mount that is written to) or full.
type rcloneTool struct {
	name      string
	cacheMode string
}

func (t rcloneTool) Name() string { return t.name }

func (t rcloneTool) Available() (bool, string) {
	if _, ok := lookTool("rclone"); !ok {
		return false, "rclone not installed (apt-get install rclone)"
	}
	if _, ok := lookTool("fusermount3"); !ok {
		if _, ok := lookTool("fusermount"); !ok {
			return false, "fusermount missing (apt-get install fuse3)"
		}
	}
	return true, ""
}

func (t rcloneTool) Mount(ctx context.Context, env *runEnv, dir, cacheDir string) (*mounted, error) {
	bin, _ := lookTool("rclone")
	conf := filepath.Join(env.cfg.WorkDir, "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		return nil, err
	}
	// The URL and the cookie go in through the environment: rclone takes
	// headers only as an option, and an option on the command line would
	// show the cookie to every user in ps.
	vars := []string{
		"RCLONE_CONFIG=" + conf,
		"RCLONE_WEBDAV_URL=" + env.srv.URL,
		"RCLONE_WEBDAV_VENDOR=other",
	}
	if env.srv.Cookie != "" {
		vars = append(vars, "RCLONE_WEBDAV_HEADERS="+csvLine("Cookie", env.srv.Cookie))
	}
	args := []string{bin, "mount", ":webdav:",
		"--vfs-cache-mode", t.cacheMode,
		"--cache-dir", cacheDir,
		"--log-level", "NOTICE"}
	if env.dirCacheTime > 0 {
		args = append(args, "--dir-cache-time", env.dirCacheTime.String())
	}
	args = append(args, dir)
	return mountChild(ctx, env, t.name, vars, args)
}

// csvLine encodes fields as one CSV record, rclone's CommaSepList format.
func csvLine(fields ...string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(fields)
	w.Flush()
	return strings.TrimRight(b.String(), "\r\n")
}

// ---- davfs2 ----

// davfsTool is `mount -t davfs` with a generated configuration: no
// WebDAV locks (SharePoint's locks break davfs2), its own cache dir, the
// cookie as an extra header, never asking for a password.
type davfsTool struct{}

func (davfsTool) Name() string { return "davfs2" }

func (davfsTool) Available() (bool, string) {
	if _, ok := lookTool("mount.davfs"); !ok {
		return false, "davfs2 not installed (apt-get install davfs2)"
	}
	if os.Geteuid() != 0 {
		return false, "davfs2 mounts need root here (no fstab entry)"
	}
	return true, ""
}

func (davfsTool) Mount(ctx context.Context, env *runEnv, dir, cacheDir string) (*mounted, error) {
	// Run as root, mount.davfs drops to its dav_group (davfs2), which
	// must be able to write the cache dir: root:davfs2 0775, as davfs2
	// makes its own /var/cache/davfs2.
	if g, err := user.LookupGroup("davfs2"); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(cacheDir, 0, gid); err != nil {
			return nil, err
		}
		if err := os.Chmod(cacheDir, 0o775); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(env.cfg.WorkDir, "davfs2-"+env.phase+".conf")
	var b strings.Builder
	b.WriteString("# generated by odfb's benchmark harness; see docs/bench.md\n")
	b.WriteString("use_locks 0\n")
	fmt.Fprintf(&b, "cache_dir %s\n", davfsQuote(cacheDir))
	b.WriteString("ask_auth 0\n")
	// davfs2 1.6 reads /dev/fuse with a 16 KiB buffer; since Linux 6.16
	// the kernel's readdir requests can be bigger and every listing fails
	// with EINVAL (alisarctl/davfs2#22). 64 KiB is the known workaround.
	b.WriteString("buf_size 64\n")
	if env.dirCacheTime > 0 {
		// Both: dir_refresh bounds how long davfs2 trusts what it knows
		// of a folder's entries, file_refresh how long before a folder
		// (or file) an application opens is checked on the server again.
		// With file_refresh at its default of 1 s, every opendir of a
		// walk more than a second later lists the folder again.
		secs := int((env.dirCacheTime + time.Second - 1) / time.Second)
		fmt.Fprintf(&b, "dir_refresh %d\nfile_refresh %d\n", secs, secs)
	}
	if env.srv.Cookie != "" {
		fmt.Fprintf(&b, "add_header Cookie %s\n", davfsQuote(env.srv.Cookie))
	}
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "mount", "-t", "davfs", "-o", "conf="+conf, env.srv.URL, dir)
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		exec.Command("umount", "-l", dir).Run()
		return nil, fmt.Errorf("mount -t davfs: %v: %s", err, bytes.TrimSpace(out))
	}
	if err := waitMounted(ctx, dir, nil, 30*time.Second); err != nil {
		return nil, err
	}
	m := &mounted{tool: "davfs2", dir: dir}
	if pid := findDavfsDaemon(dir); pid > 0 {
		recordPID(pid, "mount.davfs")
		m.sampler = sampleMem(pid)
	}
	return m, nil
}

// davfsQuote quotes a value for davfs2.conf (double quotes, backslash
// escapes).
func davfsQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

// findDavfsDaemon finds the mount.davfs daemon serving dir: it forks
// away from `mount`, so it is not our child.
func findDavfsDaemon(dir string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "mount.davfs") {
			continue
		}
		for _, a := range args[1:] {
			if filepath.Clean(a) == dir {
				return pid
			}
		}
	}
	return 0
}

// ---- curl ----

// curlRun is the result of one curl process.
type curlRun struct {
	dur time.Duration
	rss int64
	cpu time.Duration
}

// runCurl runs curl once with the given per-transfer argument groups
// (joined with --next so one process reuses its connection, as a script
// looping in curl would not, but a careful one would). The cookie goes in
// through a 0600 header file, never argv.
func runCurl(ctx context.Context, env *runEnv, transfers ...[]string) (curlRun, error) {
	common := []string{"-sS", "--fail", "-o", "/dev/null"}
	hdr, err := curlHeaderArgs(env)
	if err != nil {
		return curlRun{}, err
	}
	common = append(common, hdr...)
	args := []string{}
	for i, t := range transfers {
		if i > 0 {
			args = append(args, "--next")
		}
		args = append(args, common...)
		args = append(args, t...)
	}
	return execCurl(ctx, args)
}

// runCurlArgs runs one curl process with a config file (curl -K: "url =",
// "output =" lines, one pair per transfer) and the options in args,
// which apply to every transfer.
func runCurlArgs(ctx context.Context, env *runEnv, config string, args ...string) (curlRun, error) {
	cfg := filepath.Join(env.cfg.WorkDir, "curl-"+env.phase+".conf")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return curlRun{}, err
	}
	defer os.Remove(cfg)
	hdr, err := curlHeaderArgs(env)
	if err != nil {
		return curlRun{}, err
	}
	all := append([]string{"-sS", "--fail"}, hdr...)
	all = append(all, args...)
	all = append(all, "-K", cfg)
	return execCurl(ctx, all)
}

// curlHeaderArgs returns the arguments that send the cookie: a 0600
// header file read with -H @file, never the value itself.
func curlHeaderArgs(env *runEnv) ([]string, error) {
	if env.srv.Cookie == "" {
		return nil, nil
	}
	hdr := filepath.Join(env.cfg.WorkDir, "curl-headers")
	if _, err := os.Stat(hdr); err != nil {
		if err := os.WriteFile(hdr, []byte("Cookie: "+env.srv.Cookie+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return []string{"-H", "@" + hdr}, nil
}

func execCurl(ctx context.Context, args []string) (curlRun, error) {
	bin, ok := lookTool("curl")
	if !ok {
		return curlRun{}, errors.New("curl not installed")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := curlRun{dur: time.Since(start)}
	if st := cmd.ProcessState; st != nil {
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			r.rss = ru.Maxrss * 1024
		}
		r.cpu = st.UserTime() + st.SystemTime()
	}
	if err != nil {
		return r, fmt.Errorf("curl: %v: %s", err, firstLine(stderr.String()))
	}
	return r, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
