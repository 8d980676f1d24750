package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	// modernc.org/sqlite is SQLite translated to Go: no cgo, so odfb
	// stays one static binary (mount.odfb, fstab, cross-builds) for a
	// feature that reads two small tables; mattn/go-sqlite3 would need a
	// C toolchain and a libc-linked build.
	"github.com/odfb/odfb/internal/diskio"
	_ "modernc.org/sqlite"
)

// Cookies from the browser the person already signed in with: the way in
// for tenants whose Conditional Access only trusts a compliant device's
// browser. odfb reads the SharePoint session cookies (FedAuth, rtFa,
// SPOIDCRL) for the library's host from the browser's own cookie store,
// re-reads them when SharePoint refuses them, and keeps them only in
// memory. The browser locks its database while it runs, so odfb copies
// the database (and its write-ahead log) into a private temporary
// directory (0700), reads the copy and removes it at once.

// BrowserCookieNames are the SharePoint session cookies taken from a
// browser.
var BrowserCookieNames = []string{"FedAuth", "rtFa", "SPOIDCRL"}

// BrowserCookiesConfig configures the cookies-from-browser strategy.
type BrowserCookiesConfig struct {
	// Spec is firefox[:PROFILE], chromium[:PROFILE] or chrome[:PROFILE];
	// PROFILE is a profile name, or a path to the profile directory.
	Spec    string
	SiteURL string
	// Home is the home directory the browsers' folders are under
	// (default: the user's).
	Home string
	// SecretServiceKey returns the password Chromium keeps in the Secret
	// Service for its "v11" cookies (default: `secret-tool lookup
	// application chromium|chrome`). Cookies encrypted as "v10" use
	// Chromium's fixed key and need none.
	SecretServiceKey func(ctx context.Context, browser string) (string, error)
	Logger           *slog.Logger
}

// BrowserCookies is the Authenticator of --cookies-from-browser.
type BrowserCookies struct {
	cfg     BrowserCookiesConfig
	browser string // firefox, chromium, chrome
	profile string // as given, "" for the default
	host    string // lower case, no port
	log     *slog.Logger

	mu     sync.Mutex
	db     string // the cookie database found
	header string // the Cookie header value (secret)
}

var _ Authenticator = (*BrowserCookies)(nil)

// NewBrowserCookies checks the spec and reads the cookies once, so that a
// mount fails at once (with what to do) when the browser has none.
func NewBrowserCookies(ctx context.Context, cfg BrowserCookiesConfig) (*BrowserCookies, error) {
	browser, profile, _ := strings.Cut(strings.TrimSpace(cfg.Spec), ":")
	browser = strings.ToLower(browser)
	switch browser {
	case "firefox", "chromium", "chrome":
	case "google-chrome":
		browser = "chrome"
	default:
		return nil, fmt.Errorf("--cookies-from-browser %q: want firefox[:PROFILE], chromium[:PROFILE] or chrome[:PROFILE]", cfg.Spec)
	}
	u, err := url.Parse(cfg.SiteURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("cookies-from-browser: library URL %q has no host", cfg.SiteURL)
	}
	if cfg.Home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("cookies-from-browser: %w", err)
		}
		cfg.Home = h
	}
	if cfg.SecretServiceKey == nil {
		cfg.SecretServiceKey = secretToolKey
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &BrowserCookies{cfg: cfg, browser: browser, profile: profile, host: strings.ToLower(u.Hostname()), log: log}
	if _, err := b.load(ctx, false); err != nil {
		return nil, err
	}
	return b, nil
}

// String names the browser and profile, never a cookie.
func (b *BrowserCookies) String() string {
	p := b.profile
	if p == "" {
		p = "default profile"
	}
	return "cookies-from-browser " + b.browser + " (" + p + ")"
}

// Authorize sends the cookies read last.
func (b *BrowserCookies) Authorize(ctx context.Context, req *http.Request) error {
	b.mu.Lock()
	h := b.header
	b.mu.Unlock()
	if h == "" {
		var err error
		if h, err = b.load(ctx, false); err != nil {
			return err
		}
	}
	req.Header.Del("Authorization")
	req.Header.Set("Cookie", h)
	return nil
}

// Refresh reads the browser's cookies again; the same cookies as before
// are an error (SharePoint refused them: the browser must sign in again).
func (b *BrowserCookies) Refresh(ctx context.Context) error {
	_, err := b.load(ctx, true)
	return err
}

// load reads the cookies; with mustChange, cookies equal to the held
// ones are an error.
func (b *BrowserCookies) load(ctx context.Context, mustChange bool) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	db, err := b.findDB()
	if err != nil {
		return "", err
	}
	var cs []browserCookie
	if b.browser == "firefox" {
		cs, err = readFirefoxCookies(db)
	} else {
		cs, err = readChromiumCookies(ctx, db, b.browser, b.cfg.SecretServiceKey)
	}
	if err != nil {
		return "", fmt.Errorf("cookies-from-browser %s: %w", b.browser, err)
	}
	h := sharePointCookieHeader(cs, b.host, time.Now())
	if h == "" {
		return "", &StepError{Step: "cookie", Err: fmt.Errorf("cookies-from-browser: %s holds no live SharePoint session cookie (%s) for %s", db, strings.Join(BrowserCookieNames, ", "), b.host),
			Next: "open https://" + b.host + "/ in that browser and sign in, then try again"}
	}
	if mustChange && h == b.header {
		return "", &StepError{Step: "cookie", Err: fmt.Errorf("cookies-from-browser: SharePoint refused the session cookies %s holds for %s, and the browser has no newer ones", db, b.host),
			Next: "open https://" + b.host + "/ in that browser (sign in again if asked); odfb reads the new cookies at the next request"}
	}
	b.db, b.header = db, h
	b.log.Info("auth: read the SharePoint session cookies from the browser", "browser", b.browser, "db", db, "host", b.host)
	return h, nil
}

// browserCookie is one row of a browser's cookie store.
type browserCookie struct {
	domain  string // as stored: "contoso.sharepoint.com" or ".sharepoint.com"
	name    string
	value   string // secret
	expires time.Time
}

// sharePointCookieHeader picks the live SharePoint session cookies that
// apply to host, the most specific domain first for each name, as a
// Cookie header value in BrowserCookieNames order.
func sharePointCookieHeader(cs []browserCookie, host string, now time.Time) string {
	best := map[string]browserCookie{}
	for _, c := range cs {
		d := strings.ToLower(strings.TrimPrefix(c.domain, "."))
		if d == "" || c.value == "" || !(host == d || strings.HasSuffix(host, "."+d)) {
			continue
		}
		if !c.expires.IsZero() && !now.Before(c.expires) {
			continue
		}
		known := false
		for _, n := range BrowserCookieNames {
			known = known || n == c.name
		}
		if !known {
			continue
		}
		if old, ok := best[c.name]; ok && len(strings.TrimPrefix(old.domain, ".")) >= len(d) {
			continue
		}
		best[c.name] = c
	}
	if _, ok := best["FedAuth"]; !ok {
		if _, ok := best["SPOIDCRL"]; !ok {
			return "" // rtFa alone (the tenant-wide one) opens no site
		}
	}
	var parts []string
	for _, n := range BrowserCookieNames {
		if c, ok := best[n]; ok {
			parts = append(parts, n+"="+c.value)
		}
	}
	return strings.Join(parts, "; ")
}

// findDB returns the cookie database of the configured browser profile.
func (b *BrowserCookies) findDB() (string, error) {
	if b.browser == "firefox" {
		dir, err := firefoxProfileDir(b.cfg.Home, b.profile)
		if err != nil {
			return "", fmt.Errorf("cookies-from-browser firefox: %w", err)
		}
		db := filepath.Join(dir, "cookies.sqlite")
		if _, err := os.Stat(db); err != nil {
			return "", fmt.Errorf("cookies-from-browser firefox: %w", err)
		}
		return db, nil
	}
	dir := b.profile
	if !strings.Contains(dir, "/") {
		base := filepath.Join(b.cfg.Home, ".config", "chromium")
		if b.browser == "chrome" {
			base = filepath.Join(b.cfg.Home, ".config", "google-chrome")
		}
		if dir == "" {
			dir = "Default"
		}
		dir = filepath.Join(base, dir)
	}
	for _, db := range []string{filepath.Join(dir, "Network", "Cookies"), filepath.Join(dir, "Cookies")} {
		if _, err := os.Stat(db); err == nil {
			return db, nil
		}
	}
	return "", fmt.Errorf("cookies-from-browser %s: no Cookies database in %s (give the profile as %s:PROFILE)", b.browser, dir, b.browser)
}

// firefoxProfileDir finds a Firefox profile: a path, a profile name of
// profiles.ini, or (empty) the default one, under the usual, snap and
// flatpak locations.
func firefoxProfileDir(home, profile string) (string, error) {
	if strings.Contains(profile, "/") {
		return profile, nil
	}
	roots := []string{
		filepath.Join(home, ".mozilla", "firefox"),
		filepath.Join(home, "snap", "firefox", "common", ".mozilla", "firefox"),
		filepath.Join(home, ".var", "app", "org.mozilla.firefox", ".mozilla", "firefox"),
	}
	var tried []string
	for _, root := range roots {
		ini, err := os.ReadFile(filepath.Join(root, "profiles.ini"))
		if err != nil {
			continue
		}
		tried = append(tried, root)
		if p := pickFirefoxProfile(string(ini), profile); p != "" {
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, p)
			}
			return p, nil
		}
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("no Firefox profiles.ini under %s", strings.Join(roots, ", "))
	}
	if profile == "" {
		return "", fmt.Errorf("no default profile in %s/profiles.ini", tried[0])
	}
	return "", fmt.Errorf("no profile named %q in %s/profiles.ini", profile, strings.Join(tried, "/profiles.ini, "))
}

// pickFirefoxProfile reads profiles.ini: the profile whose Name (or
// directory) is want, or for an empty want the installation's default
// ([Install…] Default=), else the one marked Default=1, else the first.
func pickFirefoxProfile(ini, want string) string {
	type section struct {
		name string
		kv   map[string]string
	}
	var secs []section
	for _, line := range strings.Split(ini, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			secs = append(secs, section{name: line[1 : len(line)-1], kv: map[string]string{}})
		case len(secs) > 0 && strings.Contains(line, "="):
			k, v, _ := strings.Cut(line, "=")
			secs[len(secs)-1].kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	var profiles []map[string]string
	install := ""
	for _, s := range secs {
		switch {
		case strings.HasPrefix(s.name, "Profile"):
			profiles = append(profiles, s.kv)
		case strings.HasPrefix(s.name, "Install") && install == "":
			install = s.kv["Default"]
		}
	}
	if want != "" {
		for _, p := range profiles {
			if p["Name"] == want || filepath.Base(p["Path"]) == want {
				return p["Path"]
			}
		}
		return ""
	}
	if install != "" {
		return install
	}
	for _, p := range profiles {
		if p["Default"] == "1" {
			return p["Path"]
		}
	}
	if len(profiles) > 0 {
		return profiles[0]["Path"]
	}
	return ""
}

// withCopy copies the database db (and its -wal, so that recent writes
// are seen) into a new private directory, calls fn with the copy's path
// and removes the directory: the browser holds a lock on the original
// while it runs.
func withCopy(db string, fn func(copy string) error) error {
	dir, err := os.MkdirTemp("", "odfb-cookies-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	dst := filepath.Join(dir, "cookies.db")
	if err := copyFile(db, dst); err != nil {
		return fmt.Errorf("copying %s: %w", db, err)
	}
	if err := copyFile(db+"-wal", dst+"-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("copying %s-wal: %w", db, err)
	}
	return fn(dst)
}

// copyFile copies src to a new file dst (a snapshot: no fsync).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return diskio.CopyFile(in, dst, false)
}

// querySQLite opens the copy of db and runs fn on it.
func querySQLite(db string, fn func(*sql.DB) error) error {
	return withCopy(db, func(copy string) error {
		// Not read-only: SQLite must be able to replay the copied WAL into
		// the copy; the original is never opened.
		h, err := sql.Open("sqlite", "file:"+copy)
		if err != nil {
			return err
		}
		defer h.Close()
		if err := fn(h); err != nil {
			return fmt.Errorf("reading %s: %w", db, err)
		}
		return nil
	})
}

// readFirefoxCookies reads moz_cookies. expiry is in seconds (newer
// Firefox versions write milliseconds; both are recognised).
func readFirefoxCookies(db string) ([]browserCookie, error) {
	var out []browserCookie
	err := querySQLite(db, func(h *sql.DB) error {
		rows, err := h.Query(`SELECT host, name, value, expiry FROM moz_cookies WHERE name IN ('FedAuth', 'rtFa', 'SPOIDCRL')`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c browserCookie
			var exp int64
			if err := rows.Scan(&c.domain, &c.name, &c.value, &exp); err != nil {
				return err
			}
			switch {
			case exp <= 0:
			case exp > 1e11: // milliseconds
				c.expires = time.UnixMilli(exp)
			default:
				c.expires = time.Unix(exp, 0)
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, err
}
