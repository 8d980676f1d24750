package auth

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeAccessToken makes the fake server issue an access token directly,
// as an outside token broker would.
func fakeAccessToken(f *fakeSPO) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	at := f.issue("at")
	f.access[at] = true
	return at
}

func TestBearerCommandExchangesAndReruns(t *testing.T) {
	f := newFakeSPO(t)
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	counter := filepath.Join(dir, "runs")
	os.WriteFile(tokFile, []byte(fakeAccessToken(f)+"\n"), 0o600)
	log, logs := newTestLogger()
	cmd := fmt.Sprintf(`echo run >> %s; test "$ODFB_SCOPE" = "%s/.default" || exit 3; cat %s`, counter, f.srv.URL, tokFile)
	a, err := NewBearerCommand(BearerCommandConfig{Command: cmd, SiteURL: f.srv.URL + "/lib", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if st, err := doWithRefresh(ctx, t, a, f.srv.URL+"/lib/"); err != nil || st != 207 {
			t.Fatal(st, err)
		}
	}
	if f.count("authenticate") != 1 || runs(t, counter) != 1 {
		t.Fatalf("authenticate=%d runs=%d, want 1 and 1", f.count("authenticate"), runs(t, counter))
	}
	// Everything expires; the command now prints a new token.
	f.expireAll()
	os.WriteFile(tokFile, []byte(fakeAccessToken(f)+"\n"), 0o600)
	if st, err := doWithRefresh(ctx, t, a, f.srv.URL+"/lib/"); err != nil || st != 207 {
		t.Fatal(st, err)
	}
	if runs(t, counter) != 2 {
		t.Errorf("command runs = %d, want 2", runs(t, counter))
	}
	// A token SharePoint refuses gives a clear error without the token.
	f.expireAll()
	_, err = doWithRefresh(ctx, t, a, f.srv.URL+"/lib/")
	if err == nil || !strings.Contains(err.Error(), "access token") {
		t.Fatalf("want refusal error, got %v", err)
	}
	assertNoSecrets(t, f.allSecrets(), err.Error(), logs.String(), a.String())
}

func runs(t *testing.T, p string) int {
	t.Helper()
	b, _ := os.ReadFile(p)
	return strings.Count(string(b), "run")
}

func TestBearerCommandOnDAVAndFailure(t *testing.T) {
	f := newFakeSPO(t)
	tok := fakeAccessToken(f)
	a, err := NewBearerCommand(BearerCommandConfig{Command: "printf 'Bearer %s\n' " + tok, SiteURL: f.srv.URL + "/lib", OnDAV: true})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := doWithRefresh(context.Background(), t, a, f.srv.URL+"/lib/"); err != nil || st != 207 {
		t.Fatal(st, err)
	}
	if f.count("authenticate") != 0 {
		t.Error("exchanged although OnDAV")
	}
	b, _ := NewBearerCommand(BearerCommandConfig{Command: "echo boom >&2; exit 4", SiteURL: f.srv.URL})
	_, err = doWithRefresh(context.Background(), t, b, f.srv.URL+"/lib/")
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "exit status 4") {
		t.Fatalf("got %v", err)
	}
}

func TestParseTokenOutput(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d}`, exp)))
	jwt := "eyJhbGciOiJub25lIn0." + payload + ".sig"
	cases := []struct {
		in      string
		tok     string
		wantExp bool
		bad     bool
	}{
		{"abc\n", "abc", false, false},
		{"Bearer abc", "abc", false, false},
		{jwt, jwt, true, false},
		{`{"accessToken":"xyz","expiresOn":"` + fmt.Sprint(exp) + `"}`, "xyz", true, false},
		{`{"access_token":"xyz","expires_in":3600}`, "xyz", true, false},
		{`{"nope":1}`, "", false, true},
		{"", "", false, true},
		{"two words", "", false, true},
	}
	for _, c := range cases {
		tok, e, err := parseTokenOutput([]byte(c.in))
		if (err != nil) != c.bad || tok != c.tok || (!e.IsZero()) != c.wantExp {
			t.Errorf("%q: got %q %v %v", c.in, tok, e, err)
		}
		if err != nil && c.tok != "" && strings.Contains(err.Error(), c.tok) {
			t.Errorf("error quotes the token")
		}
	}
}
