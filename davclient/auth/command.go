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

	// sem serialises runs and guards src; unlike a mutex, waiting for it
	// ends with the request's context (a run can take minutes).
	sem chan struct{}
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
	return &cookieCommand{command: command, log: slog.Default(), sem: make(chan struct{}, 1)}, nil
}

func (c *cookieCommand) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cookie command: %w", ctx.Err())
	}
}

func (c *cookieCommand) unlock() { <-c.sem }

func (c *cookieCommand) String() string { return "cookie-command" }

func (c *cookieCommand) Authorize(ctx context.Context, req *http.Request) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	if c.src == nil {
		if err := c.run(ctx); err != nil {
			return err
		}
	}
	return c.src.apply(req)
}

func (c *cookieCommand) Refresh(ctx context.Context) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	return c.run(ctx)
}

func (c *cookieCommand) run(ctx context.Context) error {
	out, msg, err := runCredentialCommand(ctx, "cookie command", c.command, CookieCommandTimeout, nil)
	if msg != "" {
		c.log.Info("auth: cookie command stderr", "strategy", "cookie-command", "stderr", msg)
	}
	if err != nil {
		return err
	}
	src, perr := parseCookieText(out)
	if perr != nil {
		return fmt.Errorf("cookie command: its output is not usable: %w", perr)
	}
	c.src = &src
	c.log.Info("auth: cookie command produced cookies", "strategy", "cookie-command")
	return nil
}

// runCredentialCommand runs a user's credential program (cookie command,
// bearer command) with /bin/sh -c in its own process group, bounded by
// timeout. On timeout or cancellation the whole group is killed, and the
// pipes are given up 2 s later, so a child that keeps stdout open (a
// helper left in the background) cannot hang a refresh. It returns the
// program's stdout and the last line of its stderr with secrets removed
// (for a log line); errors name what and never quote stdout.
func runCredentialCommand(ctx context.Context, what, command string, timeout time.Duration, env []string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	msg := redactSecrets(stderr.String(), stdout.String())
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return nil, msg, fmt.Errorf("%s: no answer within %s", what, timeout)
	case ctx.Err() != nil:
		return nil, msg, fmt.Errorf("%s: %w", what, ctx.Err())
	case errors.Is(err, exec.ErrWaitDelay):
		// The program exited 0 but left a child holding its output open:
		// what it printed is its answer.
	case err != nil:
		return nil, msg, fmt.Errorf("%s failed (%v)%s", what, err, suffixIf(msg))
	}
	return stdout.Bytes(), msg, nil
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
