package auth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// staticCookies sends one fixed Cookie header value.
type staticCookies struct {
	value string
}

// StaticCookies returns the strategy that sends header (a Cookie header
// value such as "FedAuth=…; rtFa=…", optionally prefixed "Cookie:") on
// every request. It is what the AUTH_COOKIES environment variable gives;
// no flag ever carries the value, because argv is visible to every user.
// It cannot renew: when the server refuses the cookies, Refresh returns an
// error telling the user to provide fresh ones.
func StaticCookies(header string) (Authenticator, error) {
	v, err := cookieHeaderValue(header)
	if err != nil {
		return nil, fmt.Errorf("AUTH_COOKIES: %w", err)
	}
	return &staticCookies{value: v}, nil
}

func (s *staticCookies) Authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("Cookie", s.value)
	return nil
}

func (s *staticCookies) Refresh(context.Context) error {
	return errors.New("static cookies: the server refused the cookies from AUTH_COOKIES (expired or for another host); copy fresh FedAuth/rtFa cookies, or use a cookie file or cookie command that can be renewed")
}

func (s *staticCookies) String() string { return "static cookies (AUTH_COOKIES)" }

// cookieHeaderValue accepts "Cookie: a=b; c=d" or "a=b; c=d" and checks
// that the result can be sent as a header. Error texts never quote the value.
func cookieHeaderValue(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 7 && strings.EqualFold(s[:7], "cookie:") {
		s = strings.TrimSpace(s[7:])
	}
	if s == "" {
		return "", errors.New("no cookies given")
	}
	for _, r := range s {
		if r == '\r' || r == '\n' || r == 0 {
			return "", errors.New("the cookie value spans several lines or holds control characters")
		}
	}
	if !strings.Contains(s, "=") {
		return "", errors.New("not a Cookie header value (expected name=value pairs separated by \"; \")")
	}
	return s, nil
}

// cookieFile reads cookies from a file the user keeps up to date.
type cookieFile struct {
	path string

	mu      sync.Mutex
	src     cookieSource
	modTime time.Time
	size    int64
	raw     []byte
}

// cookieSource is what a cookie file or command yields: either one header
// value for every host, or Netscape cookies.txt entries matched per request.
type cookieSource struct {
	header  string
	entries []netscapeCookie
}

type netscapeCookie struct {
	domain     string // lower case, without a leading "."
	subdomains bool
	path       string
	secure     bool
	expires    time.Time // zero: session cookie
	name       string
	value      string
}

// CookieFile returns the strategy that reads path: a "Cookie: …" line, a
// bare Cookie header value, or a Netscape cookies.txt (as browser
// extensions and curl write). The file must be a regular file owned by the
// current user with no group or other permissions (0600 or stricter),
// since it holds live session cookies. It is re-read when it changes and
// on Refresh, so a user or a cron job can replace it while mounted.
func CookieFile(path string) (Authenticator, error) {
	c := &cookieFile{path: path}
	if err := c.load(false); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *cookieFile) String() string { return "cookie-file " + quoteForLog(c.path) }

// load (re)reads the file. With mustChange, an unchanged file is an error:
// the server already refused what it holds.
func (c *cookieFile) load(mustChange bool) error {
	if err := checkSecretFile(c.path); err != nil {
		return fmt.Errorf("cookie file: %w", err)
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return fmt.Errorf("cookie file: %w", err)
	}
	if mustChange && bytes.Equal(b, c.raw) {
		return fmt.Errorf("cookie file %s: the server refused its cookies and the file has not changed since; put fresh cookies in it", quoteForLog(c.path))
	}
	src, err := parseCookieText(b)
	if err != nil {
		return fmt.Errorf("cookie file %s: %w", quoteForLog(c.path), err)
	}
	fi, err := os.Stat(c.path)
	if err == nil {
		c.modTime, c.size = fi.ModTime(), fi.Size()
	}
	c.src, c.raw = src, b
	return nil
}

func (c *cookieFile) Authorize(_ context.Context, req *http.Request) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A replaced file is picked up before the server has to refuse the old
	// cookies. A file that cannot be used now (unreadable, half written by
	// a tool that truncates before writing, mode loosened) keeps the
	// cookies held: the server decides whether they still work, and a
	// refusal makes Refresh report what is wrong with the file. Failing
	// here would fail every request in that window with an auth error.
	if fi, err := os.Stat(c.path); err == nil && (!fi.ModTime().Equal(c.modTime) || fi.Size() != c.size) {
		_ = c.load(false)
	}
	return c.src.apply(req)
}

func (c *cookieFile) Refresh(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load(true)
}

// apply sets the Cookie header for req's URL.
func (s cookieSource) apply(req *http.Request) error {
	if s.header != "" {
		req.Header.Set("Cookie", s.header)
		return nil
	}
	host := strings.ToLower(req.URL.Hostname())
	now := time.Now()
	var parts []string
	for _, e := range s.entries {
		if !e.expires.IsZero() && now.After(e.expires) {
			continue
		}
		if e.secure && req.URL.Scheme != "https" {
			continue
		}
		if host != e.domain && !(e.subdomains && strings.HasSuffix(host, "."+e.domain)) {
			continue
		}
		p := req.URL.Path
		if p == "" {
			p = "/"
		}
		if e.path != "" && e.path != "/" && p != e.path && !strings.HasPrefix(p, strings.TrimSuffix(e.path, "/")+"/") {
			continue
		}
		parts = append(parts, e.name+"="+e.value)
	}
	if len(parts) == 0 {
		return fmt.Errorf("the cookies.txt holds no unexpired cookie for host %s", host)
	}
	req.Header.Set("Cookie", strings.Join(parts, "; "))
	return nil
}

// parseCookieText understands the three formats CookieFile documents.
func parseCookieText(b []byte) (cookieSource, error) {
	text := string(b)
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	netscape := false
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(l, "# Netscape HTTP Cookie File") || strings.HasPrefix(l, "# HTTP Cookie File") {
			netscape = true
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return cookieSource{}, err
	}
	var first string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || (strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "#HttpOnly_")) {
			continue
		}
		if first == "" {
			first = t
		}
		if strings.Count(l, "\t") >= 6 {
			netscape = true
		}
	}
	if !netscape {
		if first == "" {
			return cookieSource{}, errors.New("empty: expected a Cookie header value or a Netscape cookies.txt")
		}
		v, err := cookieHeaderValue(first)
		if err != nil {
			return cookieSource{}, err
		}
		return cookieSource{header: v}, nil
	}
	var src cookieSource
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "#HttpOnly_") {
			l = strings.TrimPrefix(strings.TrimLeft(l, " "), "#HttpOnly_")
		} else if strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) < 7 {
			return cookieSource{}, fmt.Errorf("cookies.txt line %d: %d tab-separated fields, want 7", i+1, len(f))
		}
		dom := strings.ToLower(strings.TrimSpace(f[0]))
		sub := strings.EqualFold(f[1], "TRUE") || strings.HasPrefix(dom, ".")
		e := netscapeCookie{
			domain:     strings.TrimPrefix(dom, "."),
			subdomains: sub,
			path:       f[2],
			secure:     strings.EqualFold(f[3], "TRUE"),
			name:       f[5],
			value:      strings.Join(f[6:], "\t"),
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(f[4]), 10, 64); err == nil && n > 0 {
			e.expires = time.Unix(n, 0)
		}
		if e.domain == "" || e.name == "" {
			return cookieSource{}, fmt.Errorf("cookies.txt line %d: empty domain or name", i+1)
		}
		if strings.ContainsAny(e.value, "\r\n;") {
			return cookieSource{}, fmt.Errorf("cookies.txt line %d: cookie %s has a value that cannot be sent", i+1, quoteForLog(e.name))
		}
		src.entries = append(src.entries, e)
	}
	if len(src.entries) == 0 {
		return cookieSource{}, errors.New("the cookies.txt holds no cookies")
	}
	return src, nil
}

// checkSecretFile refuses a file that other users could read or change,
// or that belongs to someone else.
func checkSecretFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", quoteForLog(path))
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s: mode %04o lets other users read or change live session cookies; run chmod 600 on it", quoteForLog(path), perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s: owned by uid %d, not by the user running odfb (uid %d)", quoteForLog(path), st.Uid, os.Geteuid())
	}
	return nil
}
