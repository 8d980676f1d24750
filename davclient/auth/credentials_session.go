package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odfb/odfb/internal/version"
)

// This file holds what the login strategies (OAuth, SAML, bearer command)
// share: the session they hold (a cookie or a bearer header with its known
// lifetime), the lazy first login, proactive renewal before the lifetime
// ends, and the HTTP client the logins use.

// loginCredential is what one login produced.
type loginCredential struct {
	header  string      // "Cookie" or "Authorization"
	value   string      // secret
	issued  time.Time   // when the login finished
	expires time.Time   // zero when the lifetime is unknown
	used    atomic.Bool // a request has carried it
}

// renewAt is when a credential should be replaced before it runs out: a
// fifth of its lifetime early, at most five minutes early.
func (c *loginCredential) renewAt() time.Time {
	if c.expires.IsZero() {
		return time.Time{}
	}
	life := c.expires.Sub(c.issued)
	margin := life / 5
	if margin > 5*time.Minute {
		margin = 5 * time.Minute
	}
	return c.expires.Add(-margin)
}

// loginFunc performs one login. prev is the credential being replaced (nil
// on the first login); refused says the server refused prev.
type loginFunc func(ctx context.Context, prev *loginCredential, refused bool) (*loginCredential, error)

// loginSession serialises logins and hands out the current credential.
type loginSession struct {
	name  string
	log   *slog.Logger
	login loginFunc
	now   func() time.Time

	// probe, when set, checks a fresh credential after a refusal;
	// freshRefused, when set, turns "fresh credential refused" into an
	// error (nil: log in once more).
	probe        func(ctx context.Context, c *loginCredential) error
	freshRefused func(ctx context.Context, c *loginCredential) error

	sem      chan struct{} // held while logging in; a mutex that honours ctx
	lastWarn time.Time     // guarded by sem: the last "renewal failed" warning
	mu       sync.Mutex    // guards cur
	cur      *loginCredential
}

func newLoginSession(name string, log *slog.Logger, login loginFunc) *loginSession {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &loginSession{name: name, log: log, login: login, now: time.Now, sem: make(chan struct{}, 1)}
}

func (s *loginSession) current() *loginCredential {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *loginSession) acquire(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *loginSession) release() { <-s.sem }

// get returns a usable credential, logging in when there is none or when
// the one held is due for renewal. A failed renewal keeps using the old
// credential while it has not expired (the next request tries again).
func (s *loginSession) get(ctx context.Context) (*loginCredential, error) {
	c := s.current()
	if c != nil && !s.due(c) {
		return c, nil
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	c = s.current()
	if c != nil && !s.due(c) {
		return c, nil // someone else renewed while we waited
	}
	nc, err := s.login(ctx, c, false)
	if err != nil {
		if c != nil && (c.expires.IsZero() || s.now().Before(c.expires)) {
			if s.now().Sub(s.lastWarn) < time.Minute {
				return c, nil
			}
			s.lastWarn = s.now()
			s.log.Warn("auth: renewal before expiry failed; using the current loginCredential until it runs out",
				"strategy", s.name, "expires", c.expires.Format(time.RFC3339), "err", err)
			return c, nil
		}
		return nil, err
	}
	s.set(nc)
	return nc, nil
}

// authorize puts the current credential (see get) on req: the Authorize
// of every strategy built on a loginSession.
func (s *loginSession) authorize(ctx context.Context, req *http.Request) error {
	c, err := s.get(ctx)
	if err != nil {
		return err
	}
	c.apply(req)
	return nil
}

func (s *loginSession) due(c *loginCredential) bool {
	r := c.renewAt()
	return !r.IsZero() && !s.now().Before(r)
}

func (s *loginSession) set(c *loginCredential) {
	if c.issued.IsZero() {
		c.issued = s.now()
	}
	s.mu.Lock()
	s.cur = c
	s.mu.Unlock()
}

// refreshDebounce is how recent a credential must be for Refresh to
// suspect that the refused request carried an older one, or that the
// server refuses credentials the moment they are issued.
const refreshDebounce = 3 * time.Second

// refresh logs in again because the server refused the credential. A
// credential no request has carried yet is trusted as it is (the refused
// request carried the one it replaced). A credential issued moments ago
// is checked with one probe request first: if the server takes it, the
// refusal belonged to a request sent with the previous one. Otherwise the
// strategy logs in again; when the new credential is refused by a probe
// too, s.freshRefused turns that into an error (the SAML strategy
// recognises the 2026 block there).
func (s *loginSession) refresh(ctx context.Context) error {
	before := s.current()
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	c := s.current()
	if c != nil && c != before {
		return nil // replaced while we waited
	}
	if c != nil && !c.used.Load() {
		return nil
	}
	suspicious := c != nil && s.probe != nil && s.now().Sub(c.issued) < refreshDebounce
	if suspicious {
		switch perr := s.probe(ctx, c); {
		case perr == nil:
			return nil // the refused request carried an older loginCredential
		case errors.Is(perr, errProbeThrottled):
			// The server is throttling: a new login would not help (and a
			// password login counts against the account). The request
			// replays with the credential it has.
			s.log.Info("auth: the server is throttling; keeping the credential", "strategy", s.name)
			return nil
		}
	}
	nc, err := s.login(ctx, c, true)
	if err != nil {
		return err
	}
	if suspicious && s.freshRefused != nil && errors.Is(s.probe(ctx, nc), errProbeRefused) {
		// Two credentials in a row refused the moment they were issued.
		return s.freshRefused(ctx, nc)
	}
	s.set(nc)
	return nil
}

var errProbeRefused = errors.New("the server refused the loginCredential")

// errProbeThrottled: the probe was throttled; it tells nothing about the
// credential.
var errProbeThrottled = errors.New("the server throttled the probe")

// probeWith returns a probe that sends PROPFIND Depth 0 to target with the
// credential and reports errProbeRefused on 401, or 403 with the
// SharePoint auth signature.
func probeWith(client *http.Client, target string) func(ctx context.Context, c *loginCredential) error {
	return func(ctx context.Context, c *loginCredential) error {
		req, err := http.NewRequestWithContext(ctx, "PROPFIND", target, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Depth", "0")
		c.apply(req)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("auth probe: %w", err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if ThrottledRefusal(resp.StatusCode, resp.Header, body) {
			// Throttling dressed as 401 says nothing about the credential.
			return errProbeThrottled
		}
		if isAuthRefusal(resp) {
			return errProbeRefused
		}
		return nil
	}
}

// isAuthRefusal recognises SharePoint's "not authenticated" answers.
func isAuthRefusal(resp *http.Response) bool {
	if resp.StatusCode == http.StatusUnauthorized {
		return true
	}
	if resp.StatusCode != http.StatusForbidden {
		return false
	}
	return strings.HasPrefix(strings.TrimSpace(resp.Header.Get("X-MSDAVEXT_Error")), "917656") ||
		resp.Header.Get("X-Forms_Based_Auth_Required") != ""
}

// apply puts the credential on req, replacing any earlier credential.
func (c *loginCredential) apply(req *http.Request) {
	c.used.Store(true)
	if c.header == "Cookie" {
		req.Header.Del("Authorization")
	}
	req.Header.Set(c.header, c.value)
}

// loginHTTPClient returns base (or http.DefaultClient) adjusted for login
// requests: no redirects followed (wsignin1.0 answers 302 with the cookies
// on the response itself) and the odfb User-Agent on every request.
func loginHTTPClient(base *http.Client) *http.Client {
	if base == nil {
		base = &http.Client{Timeout: 60 * time.Second}
	}
	c := *base
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = uaTransport{rt}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	return &c
}

type uaTransport struct{ rt http.RoundTripper }

func (t uaTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", version.UserAgent())
	}
	return t.rt.RoundTrip(req)
}

// normHost lower-cases a host[:port].
func normHost(h string) string { return strings.ToLower(strings.TrimSpace(h)) }

// siteBase parses the library or site URL a strategy authenticates for
// and returns scheme://host (the audience and the cookie's host).
func siteBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("site URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("site URL %q: want https://host/…", u.Redacted())
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// cookiesNamed returns the Set-Cookie values of resp with the given names
// as a Cookie header value, in the order given, and the earliest expiry
// any of them declared (zero when none did).
func cookiesNamed(resp *http.Response, names ...string) (string, time.Time) {
	got := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		if c.Value == "" || (c.MaxAge < 0) {
			continue
		}
		got[c.Name] = c
	}
	var parts []string
	var exp time.Time
	for _, n := range names {
		c, ok := got[n]
		if !ok {
			continue
		}
		parts = append(parts, n+"="+c.Value)
		var e time.Time
		switch {
		case c.MaxAge > 0:
			e = time.Now().Add(time.Duration(c.MaxAge) * time.Second)
		case !c.Expires.IsZero():
			e = c.Expires
		}
		if !e.IsZero() && (exp.IsZero() || e.Before(exp)) {
			exp = e
		}
	}
	return strings.Join(parts, "; "), exp
}
