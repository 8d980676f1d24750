package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/internal/exitcodes"
)

// daemonReadyEnv marks the background half of `odfb mount --daemon`: it
// holds the number of the file descriptor of a pipe to the foreground
// half, which waits for one line on it — "ok" once the mount is ready,
// or "error MESSAGE". Go cannot fork without exec, so the foreground
// half re-executes /proc/self/exe with the same arguments and this
// variable set.
const daemonReadyEnv = "ODFB_DAEMON_READY_FD"

// daemonFlags are `odfb mount`'s --daemon and --log-file, and in the
// background half the pipe to report readiness on.
type daemonFlags struct {
	daemon  *bool
	logFile *string
	ready   *os.File
}

func addDaemonFlags(fs *flag.FlagSet) *daemonFlags {
	return &daemonFlags{
		daemon:  fs.Bool("daemon", false, "return once the mount is ready and keep serving it in the background (log in --log-file); exit status and error of a failed mount as in the foreground"),
		logFile: fs.String("log-file", "", "with --daemon: where the background mount logs, appended, mode 0600 (default <cache-dir>/odfb.log)"),
	}
}

// pathFlags are the flags naming files or folders; the background half
// makes them absolute before it leaves the working directory.
var pathFlags = []string{"cookie-file", "password-file", "credentials", "cache-dir", "ca-file", "log-file"}

// start is called by cmdMount once the arguments are checked. Without
// --daemon it does nothing. In the foreground half of --daemon it starts
// the background half, waits for its report and returns (exit code,
// true). In the background half it takes the report pipe, makes the
// path flags absolute, moves to / (so the daemon keeps no directory
// busy) and returns (0, false): the mount goes on as in the foreground.
func (d *daemonFlags) start(fs *flag.FlagSet, args []string, cacheDir, rawURL string, stderr io.Writer) (int, bool) {
	if !*d.daemon {
		return 0, false
	}
	if v, ok := os.LookupEnv(daemonReadyEnv); ok {
		os.Unsetenv(daemonReadyEnv) // not for the commands odfb runs
		if fd, err := strconv.Atoi(v); err == nil && fd > 2 {
			d.ready = os.NewFile(uintptr(fd), "odfb-ready")
		}
		for _, name := range pathFlags {
			if f := fs.Lookup(name); f != nil && f.Value.String() != "" && !filepath.IsAbs(f.Value.String()) {
				if abs, err := filepath.Abs(f.Value.String()); err == nil {
					fs.Set(name, abs)
				}
			}
		}
		os.Chdir("/")
		return 0, false
	}
	return d.runForeground(args, cacheDir, rawURL, stderr), true
}

// runForeground starts the background half and waits for its report.
func (d *daemonFlags) runForeground(args []string, cacheDir, rawURL string, stderr io.Writer) int {
	logPath := *d.logFile
	if logPath == "" {
		if cacheDir == "" {
			cacheDir = cache.DefaultDir(rawURL)
		}
		logPath = filepath.Join(cacheDir, "odfb.log")
	}
	logPath, _ = filepath.Abs(logPath)
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "odfb mount: "+format+"\n", a...)
		return code
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return fail(exitcodes.CacheDir, "log file: %v", err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fail(exitcodes.CacheDir, "log file: %v", err)
	}
	defer logf.Close()
	if st, err := logf.Stat(); err != nil || !st.Mode().IsRegular() {
		return fail(exitcodes.CacheDir, "log file %s is not a regular file", logPath)
	} else if st.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
		return fail(exitcodes.CacheDir, "log file %s belongs to another user", logPath)
	}
	logf.Chmod(0o600)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(exitcodes.Other, "%v", err)
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fail(exitcodes.Other, "%v", err)
	}
	defer r.Close()

	cmd := exec.Command("/proc/self/exe", append([]string{"mount"}, args...)...)
	cmd.Args[0] = "odfb"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.ExtraFiles = []*os.File{w} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	for _, kv := range os.Environ() {
		// The service manager's socket belongs to whoever it started;
		// a daemon under Type=notify is a misconfiguration anyway.
		if !strings.HasPrefix(kv, "NOTIFY_SOCKET=") && !strings.HasPrefix(kv, daemonReadyEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, daemonReadyEnv+"=3")
	// A Ctrl-C or SIGTERM while waiting stops the mount being set up,
	// rather than leaving it to appear after odfb returned.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		w.Close()
		return fail(exitcodes.Other, "start the background mount: %v", err)
	}
	w.Close()
	go func() {
		for range sigs {
			cmd.Process.Signal(syscall.SIGTERM)
		}
	}()
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimRight(line, "\n")
	if line == "ok" {
		cmd.Process.Release()
		return exitcodes.OK
	}
	err = cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if code <= 0 {
		code = exitcodes.Mount
	}
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return fail(code, "%s (log: %s)", msg, logPath)
	}
	return fail(code, "the background mount ended before it was ready (%v); see %s", err, logPath)
}

// failed reports a failure before readiness to the foreground half.
func (d *daemonFlags) failed(msg string) {
	if d.ready == nil {
		return
	}
	fmt.Fprintf(d.ready, "error %s\n", strings.ReplaceAll(msg, "\n", " "))
	d.ready.Close()
	d.ready = nil
}

// isReady tells the foreground half the mount is ready; it then exits 0.
func (d *daemonFlags) isReady() {
	if d.ready == nil {
		return
	}
	fmt.Fprintln(d.ready, "ok")
	d.ready.Close()
	d.ready = nil
}
