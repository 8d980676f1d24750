package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--help"}, io.Discard, &out, nil); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, f := range []string{"listen", "root", "site", "library", "auth", "user", "password-file", "cookie-ttl",
		"write-cookie-file", "put-limit", "request-log", "latency", "bandwidth", "throttle-rate", "throttle-status",
		"retry-after", "fail-rate", "drop-rate", "lost-rate", "seed", "office-mutation"} {
		if !strings.Contains(out.String(), "  -"+f+" ") && !strings.Contains(out.String(), "  -"+f+"\n") {
			t.Errorf("--help does not document --%s", f)
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
			"--request-log", logFile, "--put-limit", "1M", "--log-level", "error"}, pw, io.Discard, stop)
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, br)
	lib := strings.TrimSpace(line)
	if !strings.HasPrefix(lib, "http://127.0.0.1:") || !strings.HasSuffix(lib, "/personal/alice_contoso_com/Documents") {
		t.Fatalf("first line %q", line)
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
	if n := strings.Count(string(logData), "\n"); n != 2 || strings.Contains(string(logData), "FedAuth") {
		t.Errorf("request log (%d lines): %s", n, logData)
	}
}
