package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/version"
)

const cookiesUsage = `usage: odfb cookies [auth options] URL

Prints a ready Cookie header value for URL (FedAuth/rtFa, SPOIDCRL, or
whatever the configured strategy yields) on stdout, for tools that take
cookies: curl -H "Cookie: $(odfb cookies URL)", duplicity's AUTH_COOKIES,
davfs2's add_header. The strategy is chosen exactly as for odfb mount.
Unless --no-check is given, the cookie is tried once (PROPFIND Depth 0 on
URL) and renewed once if the server refuses it.

options:
`

// cmdCookies implements `odfb cookies`. It returns the exit status.
func cmdCookies(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cookies", cookiesUsage, stderr)
	af := addAuthFlags(fs)
	noCheck := fs.Bool("no-check", false, "print the cookie without trying it on URL")
	verbose := fs.Bool("v", false, "log the steps to stderr")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitcodes.Usage
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitcodes.Usage
	}
	url := pos[0]
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := af.options(url, log)
	if err != nil {
		fmt.Fprintln(stderr, "odfb cookies:", err)
		return exitcodes.Usage
	}
	v, err := cookieValue(ctx, o, !*noCheck)
	if err != nil {
		fmt.Fprintln(stderr, "odfb cookies:", err)
		return exitcodes.Auth
	}
	fmt.Fprintln(stdout, v)
	return exitcodes.OK
}

// cookieValue runs the strategy o describes for URL o.SiteURL and returns
// the Cookie header value it produces; with check, it tries the cookie
// once and renews it once when refused.
func cookieValue(ctx context.Context, o auth.Options, check bool) (string, error) {
	a, err := auth.Select(ctx, o)
	if err != nil {
		return "", err
	}
	authorize := func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, "PROPFIND", o.SiteURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Depth", "0")
		req.Header.Set("User-Agent", version.UserAgent())
		if err := a.Authorize(ctx, req); err != nil {
			return nil, err
		}
		if req.Header.Get("Cookie") == "" {
			if req.Header.Get("Authorization") != "" {
				return nil, fmt.Errorf("%s authenticates with an Authorization header, not a cookie", a.String())
			}
			return nil, fmt.Errorf("%s produced no cookie", a.String())
		}
		return req, nil
	}
	req, err := authorize()
	if err != nil {
		return "", err
	}
	if !check {
		return req.Header.Get("Cookie"), nil
	}
	client := &http.Client{Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for attempt := 0; ; attempt++ {
		resp, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("checking the cookie: %w", err)
		}
		resp.Body.Close()
		refused := resp.StatusCode == http.StatusUnauthorized ||
			(resp.StatusCode == http.StatusForbidden && strings.HasPrefix(resp.Header.Get("X-MSDAVEXT_Error"), "917656"))
		if !refused {
			return req.Header.Get("Cookie"), nil
		}
		if attempt == 1 {
			return "", fmt.Errorf("%s: the server refused the cookie even after a renewal (HTTP %d)", a.String(), resp.StatusCode)
		}
		if err := a.Refresh(ctx); err != nil {
			return "", err
		}
		if req, err = authorize(); err != nil {
			return "", err
		}
	}
}
