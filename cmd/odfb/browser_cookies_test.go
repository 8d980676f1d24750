package main

import (
	"bytes"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

// TestCmdCookiesFromBrowser: `odfb cookies --cookies-from-browser firefox`
// takes the session cookies of the browser profile under $HOME, checks
// them against the library and prints them; a browser without any says
// to sign in there.
func TestCmdCookiesFromBrowser(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "cookie"})
	u, _ := url.Parse(srv.LibraryURL())
	home := t.TempDir()
	t.Setenv("HOME", home)
	prof := filepath.Join(home, ".mozilla", "firefox", "x1.default-release")
	if err := os.MkdirAll(prof, 0o700); err != nil {
		t.Fatal(err)
	}
	ini := "[Profile0]\nName=default-release\nIsRelative=1\nPath=x1.default-release\nDefault=1\n"
	if err := os.WriteFile(filepath.Join(home, ".mozilla", "firefox", "profiles.ini"), []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(prof, "cookies.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, isSecure INTEGER, isHttpOnly INTEGER)`); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	args := []string{"--cookies-from-browser", "firefox", srv.LibraryURL()}
	if code := cmdCookies(args, &out, &errb); code != exitcodes.Auth || !strings.Contains(errb.String(), "in that browser") {
		t.Fatalf("no cookies yet: exit %d, %q", code, errb.String())
	}
	ck, err := srv.IssueSessionCookie()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(ck, "; ") {
		n, v, _ := strings.Cut(kv, "=")
		if _, err := db.Exec(`INSERT INTO moz_cookies (name, value, host, path, expiry, isSecure, isHttpOnly) VALUES (?, ?, ?, '/', ?, 0, 1)`,
			n, v, u.Hostname(), time.Now().Add(time.Hour).Unix()); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	errb.Reset()
	if code := cmdCookies(args, &out, &errb); code != 0 || strings.TrimSpace(out.String()) != ck {
		t.Fatalf("exit %d, printed %q (want the browser's cookies), stderr %q", code, out.String(), errb.String())
	}
}
