package main

// Secrets never reach a `ps` line: these tests run the real odfb binary
// with each way of giving it a secret (a password file for SAML, a cookie
// command, a bearer command) and, while it holds the secret, read the
// command line of every process on the machine (and the environment of
// odfb and every process it started). The moment is not
// left to chance: the STS holds odfb's sign-in request (the password read
// and sent), and the credential scripts odfb starts wait for a go-ahead
// file, until a complete scan has seen the machine in that state. The
// secrets are random, so another process on a shared machine cannot
// match them by accident. The secrets must not show on stderr either (nor
// on stdout, except the cookie `odfb cookies` is asked to print).

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// procScanner reads /proc/*/cmdline over and over in the background, and
// /proc/*/environ of the odfb process and its descendants (what a leak
// through the environment would reach; other processes' environments are
// none of this test's business), and keeps every distinct text it saw.
type procScanner struct {
	mu    sync.Mutex
	root  int                 // odfb's pid; 0 until started
	texts map[string]procText // key: kind, pid, text
	scans int
	stop  chan struct{}
	done  chan struct{}
}

// watch makes pid (odfb) and its descendants the processes whose
// environment is read.
func (s *procScanner) watch(pid int) {
	s.mu.Lock()
	s.root = pid
	s.mu.Unlock()
}

// parentPid reads the parent from /proc/PID/stat ("pid (comm) state ppid …";
// comm may hold spaces and parentheses).
func parentPid(pid string) int {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

type procText struct {
	kind string // "cmdline" or "environ"
	pid  int
	text string // NULs turned into spaces
}

func startProcScanner(t *testing.T) *procScanner {
	t.Helper()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		testenv.Missing(t, "/proc is not mounted")
	}
	s := &procScanner{texts: map[string]procText{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			s.scanOnce()
			select {
			case <-s.stop:
				s.scanOnce()
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *procScanner) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *procScanner) scanOnce() {
	s.mu.Lock()
	root := s.root
	s.mu.Unlock()
	ents, _ := os.ReadDir("/proc")
	var found []procText
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		found = append(found, procText{"cmdline", pid, string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))})
		if root > 0 {
			parent[pid] = parentPid(e.Name())
		}
	}
	for pid := range parent {
		mine := false
		for p, hops := pid, 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if p == root {
				mine = true
				break
			}
		}
		if !mine {
			continue
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ"); err == nil && len(b) > 0 {
			found = append(found, procText{"environ", pid, string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))})
		}
	}
	s.mu.Lock()
	for _, p := range found {
		s.texts[p.kind+"\x00"+strconv.Itoa(p.pid)+"\x00"+p.text] = p
	}
	s.scans++
	s.mu.Unlock()
}

// sawCmdline reports whether a complete scan saw a process whose command
// line contains sub (pid > 0: that process's command line).
func (s *procScanner) sawCmdline(pid int, sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.texts {
		if p.kind == "cmdline" && (pid <= 0 || p.pid == pid) && strings.Contains(p.text, sub) {
			return true
		}
	}
	return false
}

// waitCmdline waits until sawCmdline(pid, sub), failing after a minute.
func (s *procScanner) waitCmdline(t *testing.T, pid int, sub string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !s.sawCmdline(pid, sub) {
		if time.Now().After(deadline) {
			t.Fatalf("no process with %q in its command line seen in a minute", sub)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFullScan returns once a scan has started and finished after the
// call, i.e. one that saw the machine as it is now.
func (s *procScanner) waitFullScan() {
	s.mu.Lock()
	n := s.scans
	s.mu.Unlock()
	for {
		s.mu.Lock()
		m := s.scans
		s.mu.Unlock()
		if m >= n+2 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// holdUntilScanned waits for the moment the secret is in flight (odfb's
// request held at the STS, or the credential script running) and for a
// full scan of the machine in that state, then gives the go-ahead.
func (s *procScanner) holdUntilScanned(t *testing.T, st psStrategy, odfbPid int, odfbArg string) {
	t.Helper()
	s.waitCmdline(t, odfbPid, odfbArg)
	if st.waitFor != "" {
		s.waitCmdline(t, 0, st.waitFor)
	}
	if st.arrived != nil {
		select {
		case <-st.arrived:
		case <-time.After(time.Minute):
			t.Fatal("odfb's sign-in request did not reach the STS in a minute")
		}
	}
	s.waitFullScan()
	s.mu.Lock()
	_, env := s.findText("environ", odfbPid)
	s.mu.Unlock()
	if !env {
		t.Error("the scan never read odfb's environment")
	}
	st.release()
}

// findText returns a text of kind seen for pid; s.mu held.
func (s *procScanner) findText(kind string, pid int) (string, bool) {
	for _, p := range s.texts {
		if p.kind == kind && p.pid == pid {
			return p.text, true
		}
	}
	return "", false
}

// assertAbsent fails when a secret occurs in any command line or
// environment seen, naming the process.
func (s *procScanner) assertAbsent(t *testing.T, secrets map[string]string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scans < 2 {
		t.Fatalf("only %d scans of /proc", s.scans)
	}
	for name, v := range secrets {
		if len(v) < 8 {
			t.Fatalf("secret %s is too short to search for", name)
		}
		for _, p := range s.texts {
			if strings.Contains(p.text, v) {
				owner, _ := s.findText("cmdline", p.pid)
				t.Errorf("the %s is in /proc/%d/%s (process %.120q)", name, p.pid, p.kind, owner)
			}
		}
	}
}

func randomSecret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// psEnv is the environment odfb runs with: the test's, without anything
// that could carry credentials in.
func psEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AUTH_COOKIES=") || strings.HasPrefix(kv, "ODFB_PASSWORD=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// psFixture is an in-process spemu behind a front that can hold extSTS
// requests, plus the credential material of each strategy.
type psFixture struct {
	srv        *spemu.Server
	base, lib  string
	dir        string
	password   string // the SAML password (in a 0600 file)
	pwFile     string
	stsGate    chan struct{} // closed: extSTS requests go through
	gateOnce   sync.Once
	stsArrived chan struct{} // closed when the first extSTS request came
	arriveOnce sync.Once
	cookie     string // a session cookie value "FedAuth=…; rtFa=…"
	token      string // an OAuth access token for the host
}

func newPSFixture(t *testing.T) *psFixture {
	t.Helper()
	f := &psFixture{dir: t.TempDir(), password: randomSecret(t, "Pw-"), stsGate: make(chan struct{}), stsArrived: make(chan struct{})}
	// Not Started: spemu then writes hrefs for the host a request came
	// to, here the front that can hold extSTS.
	srv, err := spemu.New(spemu.Config{Auth: "cookie", Password: f.password, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.srv = srv
	f.srv.SetLogin(spemu.LoginConfig{OAuthAutoApprove: 1})
	f.srv.WriteFile("/a.txt", []byte("first file\n"))
	f.srv.WriteFile("/b.txt", []byte("second file\n"))
	h := f.srv.Handler()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.URL.Path, "/extSTS.srf") {
			f.arriveOnce.Do(func() { close(f.stsArrived) })
			select {
			case <-f.stsGate:
			case <-time.After(time.Minute):
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	t.Cleanup(f.openSTS) // a failed test must not leave a request held
	f.base = front.URL
	f.lib = front.URL + spemu.DefaultSite + "/" + spemu.DefaultLibrary
	f.pwFile = filepath.Join(f.dir, "password")
	if err := os.WriteFile(f.pwFile, []byte(f.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f.cookie, err = f.srv.IssueSessionCookie(); err != nil {
		t.Fatal(err)
	}
	f.token = deviceCodeToken(t, f.base)
	return f
}

func (f *psFixture) openSTS() { f.gateOnce.Do(func() { close(f.stsGate) }) }

// deviceCodeToken signs in at spemu's authority (auto-approved) as an
// outside token broker would and returns the access token.
func deviceCodeToken(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {"broker"}, "scope": {base + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		DeviceCode string `json:"device_code"`
	}
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	resp, err = http.PostForm(base+"/organizations/oauth2/v2.0/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"client_id": {"broker"}, "device_code": {d.DeviceCode}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if len(tok.AccessToken) < 16 {
		t.Fatalf("no access token from spemu (HTTP %d)", resp.StatusCode)
	}
	return tok.AccessToken
}

// gatedScript writes a credential script that waits for its go-ahead file
// and then prints the secret held in a 0600 file (with cat, so not even
// the script's own children carry it in argv). It returns the script's
// path, the go-ahead function and the secret file.
func gatedScript(t *testing.T, dir, name, secret string) (string, func(), string) {
	t.Helper()
	secretFile := filepath.Join(dir, name+".secret")
	goFile := filepath.Join(dir, name+".go")
	script := filepath.Join(dir, name+".sh")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("#!/bin/sh\nwhile [ ! -e '%s' ]; do sleep 0.02; done\ncat '%s'\n", goFile, secretFile)
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	goAhead := func() { os.WriteFile(goFile, nil, 0o600) }
	t.Cleanup(goAhead) // a failed test must not leave the script looping
	return script, goAhead, secretFile
}

// psStrategy is one way of giving odfb a secret.
type psStrategy struct {
	name    string
	args    []string          // auth flags
	secrets map[string]string // what must never show
	waitFor string            // command-line text of the script to see running before the go-ahead ("" = none)
	release func()            // the go-ahead
	arrived <-chan struct{}   // closed when the request the gate holds has arrived (nil: none)
	// renew, when set, gives the strategy a fresh secret after the
	// server dropped every session (a cookie command must print a new
	// cookie; a password or a token stays good) and returns it.
	renew func(t *testing.T) map[string]string
}

// psStrategies is how many strategies psFixture.strategies returns.
const psStrategies = 3

func (f *psFixture) strategies(t *testing.T) []psStrategy {
	cookieScript, cookieGo, cookieFile := gatedScript(t, f.dir, "cookie", f.cookie)
	bearerScript, bearerGo, _ := gatedScript(t, f.dir, "bearer", f.token)
	cookieSecrets := cookieValues("cookie value", f.cookie)
	renewCookie := func(t *testing.T) map[string]string {
		c, err := f.srv.IssueSessionCookie()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cookieFile, []byte(c+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return cookieValues("renewed cookie value", c)
	}
	return []psStrategy{
		{name: "saml-password-file", args: []string{"--auth", "saml", "--username", spemu.DefaultUser, "--password-file", f.pwFile,
			"--sts-url", f.base + "/extSTS.srf"}, secrets: map[string]string{"password": f.password}, release: f.openSTS, arrived: f.stsArrived},
		{name: "cookie-command", args: []string{"--cookie-command", cookieScript}, secrets: cookieSecrets,
			waitFor: cookieScript, release: cookieGo, renew: renewCookie},
		{name: "bearer-command", args: []string{"--bearer-command", bearerScript}, secrets: map[string]string{"access token": f.token},
			waitFor: bearerScript, release: bearerGo},
	}
}

// cookieValues names the values of a Cookie header value "a=1; b=2".
func cookieValues(what, header string) map[string]string {
	out := map[string]string{}
	for i, part := range strings.Split(header, ";") {
		if _, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			out[what+" "+strconv.Itoa(i)] = v
		}
	}
	return out
}

// TestSecretsStayOutOfPS runs `odfb cookies` with each strategy and, when
// FUSE is available, `odfb mount`, scanning every process's command line
// and environment while the secret is in use.
func TestSecretsStayOutOfPS(t *testing.T) {
	bin := buildOdfb(t)
	t.Run("cookies", func(t *testing.T) {
		for i := range psStrategies {
			f := newPSFixture(t)
			st := f.strategies(t)[i]
			t.Run(st.name, func(t *testing.T) {
				scan := startProcScanner(t)
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(bin, append(append([]string{"cookies", "-v"}, st.args...), f.lib)...)
				cmd.Env = psEnv()
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				scan.watch(cmd.Process.Pid)
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				t.Cleanup(func() { cmd.Process.Kill() })
				scan.holdUntilScanned(t, st, cmd.Process.Pid, "cookies")
				select {
				case <-exited:
				case <-time.After(time.Minute):
					t.Fatalf("odfb cookies did not finish in a minute: %s", stderr.String())
				}
				scan.close()
				if code := cmd.ProcessState.ExitCode(); code != exitcodes.OK {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				printed := strings.TrimSpace(stdout.String())
				if propfindWith(t, f.lib, printed) != 207 {
					t.Fatalf("the printed cookie does not work: %q", printed)
				}
				// The secret only ever leaves on stdout, and only when it is
				// the cookie asked for.
				for name, v := range st.secrets {
					if strings.Contains(stderr.String(), v) {
						t.Errorf("the %s is on stderr", name)
					}
					if st.name != "cookie-command" && strings.Contains(stdout.String(), v) {
						t.Errorf("the %s is on stdout", name)
					}
				}
				if st.name == "cookie-command" && printed != f.cookie {
					t.Errorf("stdout %q, want the command's cookie", printed)
				}
				all := cookieValues("printed cookie value", printed)
				for k, v := range st.secrets {
					all[k] = v
				}
				scan.assertAbsent(t, all)
			})
		}
	})
	t.Run("mount", func(t *testing.T) {
		testenv.NeedFUSE(t)
		for i := range psStrategies {
			// A fixture each: a mount's test ends every session.
			f := newPSFixture(t)
			st := f.strategies(t)[i]
			t.Run(st.name, func(t *testing.T) {
				scan := startProcScanner(t)
				dir := t.TempDir()
				mnt := filepath.Join(dir, "mnt")
				os.Mkdir(mnt, 0o755)
				args := append(append([]string{"mount"}, st.args...), "--cache-dir", filepath.Join(dir, "cache"), "--log-level", "debug", f.lib, mnt)
				cmd := exec.Command(bin, args...)
				cmd.Env = psEnv()
				stderr, _ := cmd.StderrPipe()
				var logMu sync.Mutex
				var logBuf bytes.Buffer
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				scan.watch(cmd.Process.Pid)
				ready := make(chan struct{})
				exited := make(chan error, 1)
				go func() {
					sc := bufio.NewScanner(stderr)
					signalled := false
					for sc.Scan() {
						logMu.Lock()
						logBuf.WriteString(sc.Text() + "\n")
						logMu.Unlock()
						if !signalled && strings.Contains(sc.Text(), "mounted ") && strings.Contains(sc.Text(), " at "+mnt) {
							signalled = true
							close(ready)
						}
					}
					exited <- cmd.Wait()
				}()
				logText := func() string { logMu.Lock(); defer logMu.Unlock(); return logBuf.String() }
				t.Cleanup(func() {
					cmd.Process.Kill()
					if fstest.IsMounted(mnt) {
						syscall.Unmount(mnt, syscall.MNT_DETACH)
					}
				})
				scan.holdUntilScanned(t, st, cmd.Process.Pid, "mount")
				select {
				case <-ready:
				case err := <-exited:
					t.Fatalf("odfb mount exited early: %v\n%s", err, logText())
				case <-time.After(time.Minute):
					t.Fatalf("no readiness line in a minute:\n%s", logText())
				}
				if data, err := os.ReadFile(filepath.Join(mnt, "a.txt")); err != nil || string(data) != "first file\n" {
					t.Fatalf("read through the mount: %q %v", data, err)
				}
				// Sign in again while mounted: every session dies, the next
				// read renews with the same strategy.
				f.srv.ExpireSessions()
				secrets := map[string]string{}
				for k, v := range st.secrets {
					secrets[k] = v
				}
				if st.renew != nil {
					for k, v := range st.renew(t) {
						secrets[k] = v
					}
				}
				if data, err := os.ReadFile(filepath.Join(mnt, "b.txt")); err != nil || string(data) != "second file\n" {
					t.Fatalf("read after the sessions expired: %q %v\n%s", data, err, logText())
				}
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-exited:
					if err != nil {
						t.Errorf("odfb mount after SIGTERM: %v", err)
					}
				case <-time.After(time.Minute):
					t.Fatalf("odfb mount did not exit after SIGTERM:\n%s", logText())
				}
				if fstest.IsMounted(mnt) {
					t.Error("still mounted after SIGTERM")
				}
				scan.close()
				for name, v := range secrets {
					if strings.Contains(logText(), v) {
						t.Errorf("the %s is in the mount's log", name)
					}
				}
				scan.assertAbsent(t, secrets)
			})
		}
	})
}
