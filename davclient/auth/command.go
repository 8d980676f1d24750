package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"net/http"
)

// CookieCommandTimeout bounds one run of a cookie command.
var CookieCommandTimeout = 2 * time.Minute

// cookieCommand runs a user's program that prints cookies.
type cookieCommand struct {
	command string
	log     *slog.Logger

	mu  sync.Mutex
	src *cookieSource
}

// CookieCommand returns the strategy that runs command with /bin/sh -c and
// reads a Cookie header value (or "Cookie: …", or a Netscape cookies.txt)
// from its stdout. It runs on the first request and again on every
// Refresh, with a timeout (CookieCommandTimeout). The command's stderr is
// logged (last line, with anything that looks like a secret removed); its
// stdout never is.
func CookieCommand(command string) (Authenticator, error) {
	if strings.TrimSpace(command) == "" {
		return nil, errors.New("cookie command: empty command")
	}
	return &cookieCommand{command: command, log: slog.Default()}, nil
}

func (c *cookieCommand) String() string { return "cookie-command" }

func (c *cookieCommand) Authorize(ctx context.Context, req *http.Request) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.src == nil {
		if err := c.run(ctx); err != nil {
			return err
		}
	}
	return c.src.apply(req)
}

func (c *cookieCommand) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run(ctx)
}

func (c *cookieCommand) run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, CookieCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", c.command)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The command's children (a browser-cookie helper, curl…) die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	src, perr := parseCookieText(stdout.Bytes())
	msg := redactSecrets(stderr.String(), stdout.String())
	if msg != "" {
		c.log.Info("auth: cookie command stderr", "strategy", "cookie-command", "stderr", msg)
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("cookie command: no answer within %s", CookieCommandTimeout)
	case err != nil:
		return fmt.Errorf("cookie command failed (%v)%s", err, suffixIf(msg))
	case perr != nil:
		return fmt.Errorf("cookie command: its output is not usable: %w", perr)
	}
	c.src = &src
	c.log.Info("auth: cookie command produced cookies", "strategy", "cookie-command")
	return nil
}

func suffixIf(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

var longToken = regexp.MustCompile(`[A-Za-z0-9+/=_\-.%]{32,}`)
var cookiePair = regexp.MustCompile(`(?i)\b(FedAuth|rtFa|SPOIDCRL|EdgeAccessCookie|ESTSAUTH\w*|[A-Za-z0-9_]*token[A-Za-z0-9_]*|password|passwd)\s*[=:]\s*\S+`)

// redactSecrets returns the last line of stderr, shortened, with every
// cookie value the command printed on stdout, name=value pairs of known
// secret names and long token-like strings replaced by "[redacted]".
func redactSecrets(stderr, stdout string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if l == "" {
		return ""
	}
	for _, pair := range strings.FieldsFunc(stdout, func(r rune) bool { return r == ';' || r == '\n' || r == '\t' }) {
		if i := strings.IndexByte(pair, '='); i >= 0 {
			if v := strings.TrimSpace(pair[i+1:]); len(v) >= 4 {
				l = strings.ReplaceAll(l, v, "[redacted]")
			}
		}
	}
	l = cookiePair.ReplaceAllString(l, "$1=[redacted]")
	l = longToken.ReplaceAllString(l, "[redacted]")
	if len(l) > 300 {
		l = l[:300] + "…"
	}
	return l
}
