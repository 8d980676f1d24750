package auth

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

// Fixture cookie stores, built here with the browsers' own table layouts.

const firefoxSchema = `CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, originAttributes TEXT NOT NULL DEFAULT '',
	name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, lastAccessed INTEGER, creationTime INTEGER,
	isSecure INTEGER, isHttpOnly INTEGER, inBrowserElement INTEGER DEFAULT 0, sameSite INTEGER DEFAULT 0,
	rawSameSite INTEGER DEFAULT 0, schemeMap INTEGER DEFAULT 0, isPartitionedAttributeSet INTEGER DEFAULT 0)`

const chromiumSchema = `CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR);
CREATE TABLE cookies(creation_utc INTEGER NOT NULL, host_key TEXT NOT NULL, top_frame_site_key TEXT NOT NULL DEFAULT '',
	name TEXT NOT NULL, value TEXT NOT NULL, encrypted_value BLOB NOT NULL DEFAULT '', path TEXT NOT NULL,
	expires_utc INTEGER NOT NULL, is_secure INTEGER NOT NULL, is_httponly INTEGER NOT NULL, last_access_utc INTEGER NOT NULL,
	has_expires INTEGER NOT NULL DEFAULT 1, is_persistent INTEGER NOT NULL DEFAULT 1, priority INTEGER NOT NULL DEFAULT 1,
	samesite INTEGER NOT NULL DEFAULT -1, source_scheme INTEGER NOT NULL DEFAULT 0, source_port INTEGER NOT NULL DEFAULT -1,
	last_update_utc INTEGER NOT NULL DEFAULT 0)`

// firefoxHome makes HOME/.mozilla/firefox with a profiles.ini naming two
// profiles and returns the default one's cookies.sqlite path.
func firefoxHome(t *testing.T, home string) (def, other string) {
	t.Helper()
	root := filepath.Join(home, ".mozilla", "firefox")
	for _, p := range []string{"ab12.default-release", "cd34.work"} {
		if err := os.MkdirAll(filepath.Join(root, p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ini := "[Install4F96D1932A9F858E]\nDefault=ab12.default-release\nLocked=1\n\n[Profile1]\nName=work\nIsRelative=1\nPath=cd34.work\n\n" +
		"[Profile0]\nName=default-release\nIsRelative=1\nPath=ab12.default-release\nDefault=1\n\n[General]\nStartWithLastProfile=1\nVersion=2\n"
	if err := os.WriteFile(filepath.Join(root, "profiles.ini"), []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "ab12.default-release", "cookies.sqlite"), filepath.Join(root, "cd34.work", "cookies.sqlite")
}

// openFixture creates (or opens) a cookie database the way the browser
// keeps it: WAL mode, exclusively locked by the open handle.
func openFixture(t *testing.T, path, schema string) *sql.DB {
	t.Helper()
	_, statErr := os.Stat(path)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{"PRAGMA journal_mode=WAL", "PRAGMA wal_autocheckpoint=0", "PRAGMA locking_mode=EXCLUSIVE"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if statErr != nil {
		if _, err := db.Exec(schema); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func addFirefoxCookie(t *testing.T, db *sql.DB, host, name, value string, expiry time.Time) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO moz_cookies (name, value, host, path, expiry, lastAccessed, creationTime, isSecure, isHttpOnly)
		VALUES (?, ?, ?, '/', ?, 0, 0, 1, 1)`, name, value, host, expiry.Unix()); err != nil {
		t.Fatal(err)
	}
}

// chromiumEncrypt is the browser's side of chromiumDecrypt.
func chromiumEncrypt(t *testing.T, prefix, password, host, value string, version int) []byte {
	t.Helper()
	key, err := chromiumKey(password)
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte(value)
	if version >= 24 {
		sum := sha256.Sum256([]byte(host))
		pt = append(sum[:], pt...)
	}
	n := aes.BlockSize - len(pt)%aes.BlockSize
	pt = append(pt, bytes.Repeat([]byte{byte(n)}, n)...)
	blk, _ := aes.NewCipher(key)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(blk, bytes.Repeat([]byte{' '}, aes.BlockSize)).CryptBlocks(ct, pt)
	return append([]byte(prefix), ct...)
}

func chromiumTime(t time.Time) int64 { return (t.Unix() + 11644473600) * 1e6 }

func TestFirefoxCookiesWhileLocked(t *testing.T) {
	home := t.TempDir()
	def, other := firefoxHome(t, home)
	db := openFixture(t, def, firefoxSchema)
	future := time.Now().Add(time.Hour)
	addFirefoxCookie(t, db, "contoso.sharepoint.com", "FedAuth", "fed-contoso", future)
	addFirefoxCookie(t, db, ".sharepoint.com", "rtFa", "rtfa-tenant", future)
	addFirefoxCookie(t, db, "fabrikam.sharepoint.com", "FedAuth", "fed-fabrikam", future)
	addFirefoxCookie(t, db, "contoso.sharepoint.com", "SPOIDCRL", "expired", time.Now().Add(-time.Hour))
	addFirefoxCookie(t, db, "contoso.sharepoint.com", "MSFPC", "not-sharepoint-session", future)
	odb := openFixture(t, other, firefoxSchema)
	addFirefoxCookie(t, odb, "contoso.sharepoint.com", "FedAuth", "fed-work-profile", future)

	for _, c := range []struct{ spec, want string }{
		{"firefox", "FedAuth=fed-contoso; rtFa=rtfa-tenant"},
		{"firefox:work", "FedAuth=fed-work-profile"},
		{"firefox:" + filepath.Dir(other), "FedAuth=fed-work-profile"},
	} {
		b, err := NewBrowserCookies(context.Background(), BrowserCookiesConfig{Spec: c.spec, Home: home,
			SiteURL: "https://contoso.sharepoint.com/sites/x/Shared%20Documents"})
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		req, _ := http.NewRequest("PROPFIND", "https://contoso.sharepoint.com/sites/x", nil)
		if err := b.Authorize(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if got := req.Header.Get("Cookie"); got != c.want {
			t.Errorf("%s: Cookie %q, want %q", c.spec, got, c.want)
		}
		if strings.Contains(b.String(), "fed-") {
			t.Errorf("String() shows a cookie: %s", b)
		}
	}
	// The database was read while the "browser" held its exclusive lock
	// and with the rows only in the write-ahead log; the copy is gone.
	if m, _ := filepath.Glob(filepath.Join(os.TempDir(), "odfb-cookies-*")); len(m) != 0 {
		t.Errorf("copies left behind: %v", m)
	}
	_, err := NewBrowserCookies(context.Background(), BrowserCookiesConfig{Spec: "firefox:nosuch", Home: home, SiteURL: "https://contoso.sharepoint.com/"})
	if err == nil || !strings.Contains(err.Error(), `no profile named "nosuch"`) {
		t.Errorf("unknown profile: %v", err)
	}
	_, err = NewBrowserCookies(context.Background(), BrowserCookiesConfig{Spec: "firefox", Home: home, SiteURL: "https://northwind.sharepoint.com/"})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "cookie" || !strings.Contains(err.Error(), "open https://northwind.sharepoint.com/ in that browser") {
		t.Errorf("no cookies for the host: %v", err)
	}
}

func TestChromiumCookies(t *testing.T) {
	const secret = "k3yr1ng-s3cret"
	for _, c := range []struct {
		name, prefix, password string
		version                int
		secretErr              error
		wantErr                string
	}{
		{"v10 peanuts, db 24 (host digest)", "v10", "peanuts", 24, nil, ""},
		{"v10 peanuts, db 18", "v10", "peanuts", 18, nil, ""},
		{"v11 secret service", "v11", secret, 24, nil, ""},
		{"v11 without secret service", "v11", secret, 24, errors.New("no keyring"), "Secret Service: no keyring"},
		{"v11 wrong key", "v11", "another", 24, nil, "wrong key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			dir := filepath.Join(home, ".config", "chromium", "Default", "Network")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			db := openFixture(t, filepath.Join(dir, "Cookies"), chromiumSchema)
			if _, err := db.Exec(`INSERT INTO meta VALUES ('version', ?)`, fmt.Sprint(c.version)); err != nil {
				t.Fatal(err)
			}
			exp := chromiumTime(time.Now().Add(time.Hour))
			for _, ck := range []struct{ host, name, value string }{
				{"contoso-my.sharepoint.com", "FedAuth", "77u/PD94bWwg-fed"},
				{".sharepoint.com", "rtFa", "rtfa-value"},
				{"contoso-my.sharepoint.com", "SPOIDCRL", "spoidcrl-value"},
			} {
				if _, err := db.Exec(`INSERT INTO cookies (creation_utc, host_key, name, value, encrypted_value, path, expires_utc, is_secure, is_httponly, last_access_utc)
					VALUES (0, ?, ?, '', ?, '/', ?, 1, 1, 0)`, ck.host, ck.name, chromiumEncrypt(t, c.prefix, c.password, ck.host, ck.value, c.version), exp); err != nil {
					t.Fatal(err)
				}
			}
			asked := 0
			b, err := NewBrowserCookies(context.Background(), BrowserCookiesConfig{Spec: "chromium", Home: home,
				SiteURL: "https://contoso-my.sharepoint.com/personal/a/Documents",
				SecretServiceKey: func(_ context.Context, browser string) (string, error) {
					asked++
					if browser != "chromium" {
						t.Errorf("asked the Secret Service for %q", browser)
					}
					return secret, c.secretErr
				}})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", "https://contoso-my.sharepoint.com/", nil)
			mustNoErr(t, b.Authorize(context.Background(), req))
			if got, want := req.Header.Get("Cookie"), "FedAuth=77u/PD94bWwg-fed; rtFa=rtfa-value; SPOIDCRL=spoidcrl-value"; got != want {
				t.Errorf("Cookie %q, want %q", got, want)
			}
			if wantAsk := map[string]int{"v10": 0, "v11": 1}[c.prefix]; asked != wantAsk {
				t.Errorf("Secret Service asked %d times, want %d", asked, wantAsk)
			}
		})
	}
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBrowserCookiesAgainstSpemu: the cookies the browser holds open the
// library; when SharePoint refuses them, odfb reads the store again and
// takes the browser's new ones; with none newer, it says to sign in in
// the browser.
func TestBrowserCookiesAgainstSpemu(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "cookie"})
	u, _ := url.Parse(srv.LibraryURL())
	home := t.TempDir()
	def, _ := firefoxHome(t, home)
	db := openFixture(t, def, firefoxSchema)
	put := func() {
		t.Helper()
		ck, err := srv.IssueSessionCookie() // the browser signed in
		mustNoErr(t, err)
		if _, err := db.Exec(`DELETE FROM moz_cookies`); err != nil {
			t.Fatal(err)
		}
		for _, kv := range strings.Split(ck, "; ") {
			n, v, _ := strings.Cut(kv, "=")
			addFirefoxCookie(t, db, u.Hostname(), n, v, time.Now().Add(time.Hour))
		}
	}
	put()
	b, err := NewBrowserCookies(context.Background(), BrowserCookiesConfig{Spec: "firefox", Home: home, SiteURL: srv.LibraryURL()})
	mustNoErr(t, err)
	ctx := context.Background()
	if st, err := spemuPropfind(ctx, b, srv.LibraryURL()); err != nil || st != http.StatusMultiStatus {
		t.Fatalf("first request: %d %v", st, err)
	}
	srv.ExpireSessions()
	put()
	if st, err := spemuPropfind(ctx, b, srv.LibraryURL()); err != nil || st != http.StatusMultiStatus {
		t.Fatalf("after the browser signed in again: %d %v", st, err)
	}
	srv.ExpireSessions()
	_, err = spemuPropfind(ctx, b, srv.LibraryURL())
	var se *StepError
	if !errors.As(err, &se) || se.Step != "cookie" || !strings.Contains(err.Error(), "in that browser") {
		t.Fatalf("stale browser cookies: %v", err)
	}
}
