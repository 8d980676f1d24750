package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCookieCommandRunsAgainOnRefresh(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(dir, "n")
	// Prints a new cookie per run: run 1 → FedAuth=c1, run 2 → FedAuth=c2.
	script := `n=$(cat ` + counter + ` 2>/dev/null || echo 0); n=$((n+1)); echo $n > ` + counter + `; echo "Cookie: FedAuth=c$n; rtFa=r$n"`
	a, err := CookieCommand(script)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(counter); err == nil {
		t.Fatal("the command ran before the first request")
	}
	if got := authorized(t, a, "https://h/"); got != "FedAuth=c1; rtFa=r1" {
		t.Fatalf("first run: %q", got)
	}
	if got := authorized(t, a, "https://h/"); got != "FedAuth=c1; rtFa=r1" {
		t.Fatalf("the command ran again without a refusal: %q", got)
	}
	if err := a.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := authorized(t, a, "https://h/"); got != "FedAuth=c2; rtFa=r2" {
		t.Fatalf("after refresh: %q", got)
	}
}

func TestCookieCommandFailureRedactsSecrets(t *testing.T) {
	var logBuf bytes.Buffer
	a, err := CookieCommand(`echo "FedAuth=topsecretvalue" ; echo "login failed for token=abcdefabcdefabcdefabcdefabcdefabcdef1234 FedAuth=topsecretvalue" >&2; exit 3`)
	if err != nil {
		t.Fatal(err)
	}
	a.(*cookieCommand).log = slog.New(slog.NewTextHandler(&logBuf, nil))
	err = a.Refresh(context.Background())
	if err == nil {
		t.Fatal("a failing command succeeded")
	}
	all := err.Error() + logBuf.String()
	if strings.Contains(all, "topsecretvalue") || strings.Contains(all, "abcdefabcdef") {
		t.Fatalf("secret leaked: %s", all)
	}
	if !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "login failed") {
		t.Fatalf("error does not explain: %v", err)
	}
}

func TestCookieCommandTimeoutAndGarbage(t *testing.T) {
	old := CookieCommandTimeout
	CookieCommandTimeout = 200 * time.Millisecond
	defer func() { CookieCommandTimeout = old }()
	a, _ := CookieCommand("sleep 5")
	start := time.Now()
	if err := a.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("timeout: %v", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatal("the timeout did not stop the command")
	}
	b, _ := CookieCommand("echo not a cookie")
	if err := b.Refresh(context.Background()); err == nil {
		t.Fatal("garbage accepted")
	}
	if _, err := CookieCommand("  "); err == nil {
		t.Fatal("empty command accepted")
	}
}

// A bearer command that does not answer in time must be stopped with its
// children. It used to run without its own process group or WaitDelay:
// the timeout killed /bin/sh, but the program sh had started kept stdout
// open, so Run (and with it the refresh every request was waiting for)
// hung until that program ended by itself, however long it took.
func TestBearerCommandTimeoutKillsChildren(t *testing.T) {
	a, err := NewBearerCommand(BearerCommandConfig{
		// sh must stay to run echo, so sleep is its child holding stdout.
		Command: "sleep 60; echo token",
		SiteURL: "https://contoso.sharepoint.com/sites/x/Shared%20Documents",
		Timeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := a.run(context.Background()); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no answer within") {
			t.Fatalf("want a timeout error naming the limit, got %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the bearer command's timeout did not stop it (its child kept the output open)")
	}
}

// Both credential commands share one runner: a program that exits 0 but
// leaves a background child holding stdout still gives its answer.
func TestCredentialCommandBackgroundChild(t *testing.T) {
	out, _, err := runCredentialCommand(context.Background(), "test command", "(sleep 5 &) ; echo FedAuth=x", 20*time.Second, nil)
	if err != nil || strings.TrimSpace(string(out)) != "FedAuth=x" {
		t.Fatalf("output %q, err %v", out, err)
	}
}

// A request whose context ends while another request runs the cookie
// command must return at once instead of queueing behind the run (up to
// CookieCommandTimeout). The strategy used a sync.Mutex, which waits
// whatever the context says.
func TestCookieCommandWaitHonoursContext(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	a, err := CookieCommand("touch " + started + "; sleep 60; echo FedAuth=x")
	if err != nil {
		t.Fatal(err)
	}
	firstCtx, stopFirst := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", "https://h/", nil)
		first <- a.Authorize(firstCtx, req)
	}()
	defer func() { stopFirst(); <-first }()
	for i := 0; ; i++ {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if i > 2000 {
			t.Fatal("the cookie command never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", "https://h/", nil)
		second <- a.Authorize(ctx, req)
	}()
	select {
	case err := <-second:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiting request: %v, want its context's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a request whose context ended is still waiting for another request's cookie command")
	}
}
