package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestHelpDocumentsEveryFlag walks the real FlagSet: every flag the
// command defines shows in --help with its text and has a row in
// docs/spemu.md (a `--name` cell, or a `--prefix-*` wildcard).
func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--help"}, io.Discard, &out, nil); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "spemu.md"))
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := newFlagSet(io.Discard)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(out.String(), "  -"+f.Name+" ") && !strings.Contains(out.String(), "  -"+f.Name+"\n") {
			t.Errorf("--help does not list --%s", f.Name)
		}
		if f.Usage == "" || !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(f.Usage), " ")) {
			t.Errorf("--help does not explain --%s", f.Name)
		}
		if !strings.Contains(string(doc), "`--"+f.Name) && !docWildcard(string(doc), f.Name) {
			t.Errorf("docs/spemu.md does not document --%s", f.Name)
		}
	})
	if n < 30 {
		t.Errorf("the FlagSet has %d flags: is this the command's real FlagSet?", n)
	}
}

// docWildcard reports whether doc documents name through a "`--prefix-*`"
// entry.
func docWildcard(doc, name string) bool {
	for rest := doc; ; {
		i := strings.Index(rest, "`--")
		if i < 0 {
			return false
		}
		rest = rest[i+3:]
		j := strings.IndexByte(rest, '`')
		if j < 0 {
			return false
		}
		if w := rest[:j]; strings.HasSuffix(w, "-*") && strings.HasPrefix(name, strings.TrimSuffix(w, "*")) {
			return true
		}
	}
}

func TestSizeFlags(t *testing.T) {
	var v int64
	for in, want := range map[string]int64{"-1": -1, "0": -1, "250M": 262144000, "50MiB": 50 << 20} {
		if err := (sizeFlag{&v, true}).Set(in); err != nil || v != want {
			t.Errorf("--put-limit %s = %d, %v; want %d", in, v, err, want)
		}
	}
	if err := (sizeFlag{v: &v}).Set("-1"); err == nil {
		t.Errorf("--bandwidth -1 accepted")
	}
}

// TestFlagsReachConfig: size flags land in the Config run hands to spemu.
func TestFlagsReachConfig(t *testing.T) {
	fs, o := newFlagSet(io.Discard)
	if err := fs.Parse([]string{"--quota", "1.5G", "--put-limit", "0", "--bandwidth", "64K"}); err != nil {
		t.Fatal(err)
	}
	if o.cfg.QuotaBytes != 3<<29 || o.cfg.PutLimit != -1 || o.cfg.Faults.Bandwidth != 64<<10 {
		t.Errorf("quota %d put-limit %d bandwidth %d", o.cfg.QuotaBytes, o.cfg.PutLimit, o.cfg.Faults.Bandwidth)
	}
	if fs, o = newFlagSet(io.Discard); fs.Parse(nil) != nil || o.cfg.QuotaBytes != 0 {
		t.Errorf("default quota %d, want 0 (none)", o.cfg.QuotaBytes)
	}
}

func TestPasswordFileMode(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o644)
	var errOut bytes.Buffer
	if code := run([]string{"--auth", "basic", "--password-file", pw, "--listen", "127.0.0.1:0"}, io.Discard, &errOut, nil); code != 2 {
		t.Fatalf("world-readable password file: exit %d", code)
	}
	if !strings.Contains(errOut.String(), "chmod 600") || strings.Contains(errOut.String(), "s3cret") {
		t.Errorf("message %q", errOut.String())
	}
	os.Chmod(pw, 0o600)
	if got, err := readPasswordFile(pw); err != nil || got != "s3cret" {
		t.Errorf("readPasswordFile: %q %v", got, err)
	}
}

// TestServe runs the command: the first stdout line is the library URL,
// the cookie file works, the request log is written, SIGTERM stops it.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "lib")
	os.Mkdir(root, 0o755)
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hi"), 0o644)
	cookieFile := filepath.Join(dir, "cookie")
	logFile := filepath.Join(dir, "req.log")
	pr, pw := io.Pipe()
	stop := make(chan os.Signal, 1)
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--listen", "127.0.0.1:0", "--root", root, "--write-cookie-file", cookieFile,
			"--request-log", logFile, "--put-limit", "1M", "--log-level", "error", "--tenant", "contoso.onmicrosoft.com"}, pw, io.Discard, stop)
		pw.Close()
	}()
	lines := readLines(pr)
	line, err := nextLine(lines)
	if err != nil {
		t.Fatal(err)
	}
	lib := strings.TrimSpace(line)
	if !strings.HasPrefix(lib, "http://127.0.0.1:") || !strings.HasSuffix(lib, "/personal/alice_contoso_com/Documents") {
		t.Fatalf("first line %q", line)
	}
	// Lines 2.. are the sign-in endpoints, each one served (a POST without
	// credentials is not 404 and not the cookie check's refusal).
	base := strings.TrimSuffix(lib, spemu.DefaultSite+"/"+spemu.DefaultLibrary)
	for i, p := range spemu.LoginPaths(spemu.DefaultSite, "contoso.onmicrosoft.com") {
		line, err := nextLine(lines)
		if err != nil {
			t.Fatalf("stdout line %d: %v", i+2, err)
		}
		if want := "login:   " + base + p + "\n"; line != want {
			t.Errorf("stdout line %d = %q, want %q", i+2, line, want)
		}
		res, err := http.Post(base+p, "application/x-www-form-urlencoded", strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 404 || res.Header.Get("X-Forms_Based_Auth_Required") != "" {
			t.Errorf("printed sign-in URL %s is not served: %d", base+p, res.StatusCode)
		}
	}
	fi, err := os.Stat(cookieFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cookie file: %v %v", fi, err)
	}
	cookie, _ := os.ReadFile(cookieFile)
	req, _ := http.NewRequest("GET", lib+"/hello.txt", nil)
	req.Header.Set("Cookie", strings.TrimSpace(string(cookie)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "hi" {
		t.Errorf("GET with the cookie file: %d %q", res.StatusCode, body)
	}
	req, _ = http.NewRequest("PUT", lib+"/big", bytes.NewReader(make([]byte, 1<<20+1)))
	req.Header.Set("Cookie", strings.TrimSpace(string(cookie)))
	res, err = http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Errorf("PUT over --put-limit 1M: %d", res.StatusCode)
		}
	}
	stop <- syscall.SIGTERM
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
	logData, _ := os.ReadFile(logFile)
	want := 2 + len(spemu.LoginPaths(spemu.DefaultSite, "")) // GET, PUT and one POST per sign-in URL
	if n := strings.Count(string(logData), "\n"); n != want || strings.Contains(string(logData), "FedAuth") {
		t.Errorf("request log (%d lines): %s", n, logData)
	}
}

// TestWriteCookieFileOnlyWithCookieAuth: with --auth none or basic there
// is no cookie; --write-cookie-file is accepted, writes nothing, says so,
// and the server still starts and stops cleanly.
func TestWriteCookieFileOnlyWithCookieAuth(t *testing.T) {
	for _, mode := range []string{"none", "basic"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cookieFile := filepath.Join(dir, "cookie")
			args := []string{"--listen", "127.0.0.1:0", "--root", filepath.Join(dir, "lib"), "--auth", mode,
				"--write-cookie-file", cookieFile, "--log-level", "info"}
			if mode == "basic" {
				pwFile := filepath.Join(dir, "pw")
				os.WriteFile(pwFile, []byte("basic-pw\n"), 0o600)
				args = append(args, "--password-file", pwFile)
			}
			pr, pw := io.Pipe()
			var errOut testenv.Buffer
			stop := make(chan os.Signal, 1)
			done := make(chan int, 1)
			go func() {
				done <- run(args, pw, &errOut, stop)
				pw.Close()
			}()
			line, err := nextLine(readLines(pr))
			if err != nil {
				t.Fatalf("no library URL line: %v (stderr %s)", err, errOut.String())
			}
			if !strings.HasSuffix(strings.TrimSpace(line), "/Documents") {
				t.Errorf("first line %q", line)
			}
			if _, err := os.Stat(cookieFile); !os.IsNotExist(err) {
				t.Errorf("--auth %s wrote %s (stat: %v)", mode, cookieFile, err)
			}
			if !strings.Contains(errOut.String(), "no cookie file written") {
				t.Errorf("stderr does not say why no cookie file was written: %q", errOut.String())
			}
			stop <- syscall.SIGTERM
			if code := <-done; code != 0 {
				t.Errorf("exit %d", code)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), "cookie") {
					t.Errorf("left %s behind", e.Name())
				}
			}
		})
	}
}

// readLines delivers r's lines (with their newline) until EOF, then
// closes the channel; lines after the ones a test reads are dropped.
func readLines(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				select {
				case ch <- line:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// nextLine takes the next line, failing instead of hanging when the
// command prints fewer lines than expected.
func nextLine(ch <-chan string) (string, error) {
	select {
	case line, ok := <-ch:
		if !ok {
			return "", io.EOF
		}
		return line, nil
	case <-time.After(30 * time.Second):
		return "", errors.New("no line within 30s")
	}
}
