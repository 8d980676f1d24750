package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a long-running child (spemu, odfb mount, rclone mount). It runs
// in its own process group so a Ctrl-C on the terminal reaches only the
// harness, which then unmounts in order; Pdeathsig stops it should the
// harness itself be killed.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// pidFile lists every child the harness started, so scripts/bench.sh can
// end exactly those if the harness itself dies.
var pidFile struct {
	sync.Mutex
	path string
}

func recordPID(pid int, name string) {
	pidFile.Lock()
	defer pidFile.Unlock()
	if pidFile.path == "" {
		return
	}
	f, err := os.OpenFile(pidFile.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%d %s\n", pid, name)
	f.Close()
}

// startProc starts argv with stdout and stderr going to logPath. If
// firstLine is not nil, the first line of stdout is sent to it (spemu
// prints its URL there) and the rest still goes to the log.
func startProc(name, logPath string, env []string, firstLine chan<- string, argv ...string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	var stdout io.ReadCloser
	if firstLine != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	recordPID(cmd.Process.Pid, name)
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	var copied sync.WaitGroup
	if stdout != nil {
		copied.Add(1)
		go func() {
			defer copied.Done()
			br := bufio.NewReader(stdout)
			line, _ := br.ReadString('\n')
			firstLine <- strings.TrimSpace(line)
			io.Copy(logf, br)
		}()
	}
	go func() {
		copied.Wait()
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILL.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// usage returns the child's peak RSS and CPU time once it has exited.
func (p *proc) usage() (rss int64, cpu time.Duration) {
	if !p.exited() || p.cmd.ProcessState == nil {
		return 0, 0
	}
	st := p.cmd.ProcessState
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // Linux reports KiB
	}
	return rss, st.UserTime() + st.SystemTime()
}

// logTail returns the last lines of the child's log for an error message.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// isMounted reports whether dir is a mount point, from /proc/self/mountinfo.
func isMounted(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	return mountinfoHas(data, dir)
}

// mountinfoHas looks for dir in the mount point column (5th) of
// mountinfo, whose spaces and backslashes are octal escapes.
func mountinfoHas(data []byte, dir string) bool {
	dir = filepath.Clean(dir)
	for _, line := range bytes.Split(data, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 5 {
			continue
		}
		if unescapeMountinfo(f[4]) == dir {
			return true
		}
	}
	return false
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// waitMounted polls until dir is mounted, p (if any) exits, or timeout.
func waitMounted(ctx context.Context, dir string, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if isMounted(dir) {
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited before mounting (%v):\n%s", p.name, p.err, logTail(p.logPath, 15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not mounted after %s", dir, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// unmount unmounts dir, retrying while busy, and falls back to a lazy
// unmount so no mount outlives the harness. It returns how long the
// regular umount took (davfs2's umount waits for pending uploads).
func unmount(dir string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	var last error
	for time.Since(start) < timeout {
		if !isMounted(dir) {
			return time.Since(start), nil
		}
		out, err := exec.Command("umount", dir).CombinedOutput()
		if err == nil {
			return time.Since(start), nil
		}
		last = fmt.Errorf("umount %s: %v: %s", dir, err, bytes.TrimSpace(out))
		time.Sleep(200 * time.Millisecond)
	}
	if isMounted(dir) {
		exec.Command("umount", "-l", dir).Run()
	}
	if last == nil {
		last = errors.New("timed out")
	}
	return time.Since(start), fmt.Errorf("%w (lazy unmount done)", last)
}

// memSampler follows a process's high-water RSS (VmHWM) and CPU time from
// /proc while it runs; it is used for processes that are not the
// harness's children (the davfs2 daemon) and as a live view for the others.
type memSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	hwm  int64
	cpu  time.Duration
}

func sampleMem(pid int) *memSampler {
	s := &memSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if !s.sample() {
				return
			}
			select {
			case <-s.stop:
				s.sample()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// clkTck is USER_HZ, 100 on every Linux architecture Go supports.
const clkTck = 100

func (s *memSampler) sample() bool {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return false
	}
	hwm := parseVmHWM(status)
	var cpu time.Duration
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid)); err == nil {
		cpu = parseStatCPU(stat)
	}
	s.mu.Lock()
	s.hwm = max(s.hwm, hwm)
	if cpu > 0 {
		s.cpu = cpu
	}
	s.mu.Unlock()
	return true
}

// now samples at once and returns the peak RSS so far and the CPU time
// used so far, while sampling goes on.
func (s *memSampler) now() (int64, time.Duration) {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hwm, s.cpu
}

// result stops sampling and returns the peak RSS and last CPU time seen.
func (s *memSampler) result() (int64, time.Duration) {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hwm, s.cpu
}

// parseVmHWM reads "VmHWM:   12345 kB" from /proc/PID/status, in bytes.
func parseVmHWM(status []byte) int64 {
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// parseStatCPU returns utime+stime from /proc/PID/stat. The command name
// (field 2) may hold spaces, so fields are counted after its ')'.
func parseStatCPU(stat []byte) time.Duration {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clkTck
}

// MountedUnder reports whether anything is mounted at or below dir; a
// caller must not remove dir recursively while it is.
func MountedUnder(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return true // cannot tell: be safe
	}
	dir = filepath.Clean(dir)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			return true
		}
	}
	return false
}
