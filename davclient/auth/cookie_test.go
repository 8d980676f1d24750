package auth

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func authorized(t *testing.T, a Authenticator, target string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	if err := a.Authorize(context.Background(), req); err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	return req.Header.Get("Cookie")
}

func TestStaticCookies(t *testing.T) {
	a, err := StaticCookies("Cookie: FedAuth=secret1; rtFa=secret2")
	if err != nil {
		t.Fatal(err)
	}
	if got := authorized(t, a, "https://h/x"); got != "FedAuth=secret1; rtFa=secret2" {
		t.Fatalf("Cookie %q", got)
	}
	err = a.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AUTH_COOKIES") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Refresh error %v", err)
	}
	if strings.Contains(a.String(), "secret") {
		t.Fatal("String leaks the cookie")
	}
	for _, bad := range []string{"", "   ", "Cookie:", "novalue", "a=b\nc=d"} {
		if _, err := StaticCookies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "novalue") {
			t.Errorf("error quotes the value: %v", err)
		}
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestCookieFileFormatsAndPermissions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c")
	writeFile(t, p, "FedAuth=v1; rtFa=r1\n", 0o644)
	if _, err := CookieFile(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("0644 file accepted: %v", err)
	}
	writeFile(t, p, "Cookie: FedAuth=v1; rtFa=r1\n", 0o600)
	a, err := CookieFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := authorized(t, a, "https://contoso.sharepoint.com/"); got != "FedAuth=v1; rtFa=r1" {
		t.Fatalf("header form: %q", got)
	}

	future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	past := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	txt := "# Netscape HTTP Cookie File\n" +
		"#HttpOnly_contoso-my.sharepoint.com\tFALSE\t/\tTRUE\t" + future + "\tFedAuth\tfed\n" +
		".sharepoint.com\tTRUE\t/\tTRUE\t" + future + "\trtFa\trt\n" +
		".sharepoint.com\tTRUE\t/\tTRUE\t" + past + "\told\tgone\n" +
		"other.example\tFALSE\t/\tFALSE\t0\tx\ty\n" +
		"contoso-my.sharepoint.com\tFALSE\t/personal/bob\tTRUE\t0\tbobonly\tz\n"
	writeFile(t, p, txt, 0o600)
	a, err = CookieFile(p)
	if err != nil {
		t.Fatal(err)
	}
	got := authorized(t, a, "https://contoso-my.sharepoint.com/personal/alice/Documents")
	if got != "FedAuth=fed; rtFa=rt" {
		t.Fatalf("cookies.txt selection: %q", got)
	}
	req, _ := http.NewRequest("GET", "https://unrelated.example/", nil)
	if err := a.Authorize(context.Background(), req); err == nil {
		t.Fatal("no cookie for the host, but no error")
	}
}

func TestCookieFileRefresh(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c")
	writeFile(t, p, "FedAuth=one", 0o600)
	a, err := CookieFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := authorized(t, a, "https://h/"); got != "FedAuth=one" {
		t.Fatal(got)
	}
	// Unchanged file: Refresh says so (the server already refused it).
	if err := a.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "not changed") || strings.Contains(err.Error(), "one") {
		t.Fatalf("Refresh on an unchanged file: %v", err)
	}
	writeFile(t, p, "FedAuth=two", 0o600)
	if err := a.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := authorized(t, a, "https://h/"); got != "FedAuth=two" {
		t.Fatal(got)
	}
	// A replaced file is picked up by Authorize without a refusal first.
	writeFile(t, p, "FedAuth=three-longer", 0o600)
	if got := authorized(t, a, "https://h/"); got != "FedAuth=three-longer" {
		t.Fatal(got)
	}
	// A file made readable by others is refused on reload.
	writeFile(t, p, "FedAuth=four", 0o640)
	if err := a.Refresh(context.Background()); err == nil {
		t.Fatal("group-readable file accepted on refresh")
	}
}

func TestBasicAndNone(t *testing.T) {
	a := Basic("bob", "hunter2")
	req, _ := http.NewRequest("GET", "http://h/", nil)
	if err := a.Authorize(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if u, p, ok := req.BasicAuth(); !ok || u != "bob" || p != "hunter2" {
		t.Fatal("no basic credentials")
	}
	if err := a.Refresh(context.Background()); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Refresh: %v", err)
	}
	if strings.Contains(a.String(), "hunter2") {
		t.Fatal("String leaks the password")
	}
	n := None()
	req, _ = http.NewRequest("GET", "http://h/", nil)
	if err := n.Authorize(context.Background(), req); err != nil || len(req.Header) != 0 {
		t.Fatal("None added something")
	}
	if n.Refresh(context.Background()) == nil {
		t.Fatal("None.Refresh succeeded")
	}
}

// A cookie file caught half written (a cron job or an editor that
// truncates before it writes) must not fail requests: the cookies held
// stay in use until the file is whole again. Before the fix every
// Authorize in that window returned an error, which davclient reports as
// ErrAuth ("log in again") for a file that was merely being replaced.
func TestCookieFileBeingRewrittenKeepsHeldCookies(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c")
	writeFile(t, p, "FedAuth=one", 0o600)
	a, err := CookieFile(p)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, "", 0o600) // truncated, not yet written
	req, _ := http.NewRequest("GET", "https://h/", nil)
	if err := a.Authorize(context.Background(), req); err != nil {
		t.Fatalf("Authorize with a half-written cookie file: %v", err)
	}
	if got := req.Header.Get("Cookie"); got != "FedAuth=one" {
		t.Fatalf("Cookie %q, want the held FedAuth=one", got)
	}
	// A refusal now reports what is wrong with the file.
	if err := a.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("Refresh on an empty cookie file: %v", err)
	}
	writeFile(t, p, "FedAuth=two", 0o600)
	if got := authorized(t, a, "https://h/"); got != "FedAuth=two" {
		t.Fatalf("the rewritten file was not picked up: %q", got)
	}
}
