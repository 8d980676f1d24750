package main

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/spemu"
)

const cmdTestPassword = "cmd-test-P4ss!"

func startLoginSpemu(t *testing.T, lc spemu.LoginConfig) (base, lib string) {
	t.Helper()
	srv, err := spemu.New(spemu.Config{Auth: "cookie", Password: cmdTestPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.SetLogin(lc)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL, ts.URL + spemu.DefaultSite + "/" + spemu.DefaultLibrary
}

// propfindWith sends PROPFIND Depth 0 with the cookie header value.
func propfindWith(t *testing.T, lib, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest("PROPFIND", lib, nil)
	req.Header.Set("Depth", "0")
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCmdLoginThenCookies(t *testing.T) {
	base, lib := startLoginSpemu(t, spemu.LoginConfig{OAuthAutoApprove: 2})
	creds := filepath.Join(t.TempDir(), "odfb", "credentials.json")
	var out, errb bytes.Buffer
	code := cmdLogin([]string{"--authority", base, "--credentials", creds, lib}, &out, &errb)
	if code != exitcodes.OK {
		t.Fatalf("login exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), base+"/devicelogin") || !strings.Contains(out.String(), "enter the code") ||
		!strings.Contains(out.String(), "Signed in: "+spemu.DefaultUser) {
		t.Errorf("login output: %q", out.String())
	}
	fi, err := os.Stat(creds)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v", err)
	}
	raw, _ := os.ReadFile(creds)

	// odfb cookies picks the stored login by itself (no --auth).
	out.Reset()
	errb.Reset()
	code = cmdCookies([]string{lib, "--authority", base, "--credentials", creds}, &out, &errb)
	if code != exitcodes.OK {
		t.Fatalf("cookies exit %d: %s", code, errb.String())
	}
	ck := strings.TrimSpace(out.String())
	if !strings.HasPrefix(ck, "SPOIDCRL=") {
		t.Fatalf("cookie %q", ck)
	}
	if st := propfindWith(t, lib, ck); st != 207 {
		t.Errorf("PROPFIND with the printed cookie: %d", st)
	}
	// Nothing secret on stderr, in either command.
	for _, s := range []string{ck[len("SPOIDCRL="):], refreshTokenIn(string(raw))} {
		if s != "" && strings.Contains(errb.String(), s) {
			t.Error("secret on stderr")
		}
	}

	// --logout removes it; cookies then fail with the auth exit code.
	out.Reset()
	if code := cmdLogin([]string{"--logout", "--credentials", creds, lib}, &out, &errb); code != exitcodes.OK {
		t.Fatalf("logout exit %d", code)
	}
	errb.Reset()
	if code := cmdCookies([]string{"--auth", "oauth", "--authority", base, "--credentials", creds, lib}, &out, &errb); code != exitcodes.Auth || !strings.Contains(errb.String(), "odfb login") {
		t.Errorf("after logout: exit %d, %q", code, errb.String())
	}
}

func refreshTokenIn(raw string) string {
	i := strings.Index(raw, `"refresh_token": "`)
	if i < 0 {
		return ""
	}
	rest := raw[i+len(`"refresh_token": "`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestCmdCookiesSAML(t *testing.T) {
	base, lib := startLoginSpemu(t, spemu.LoginConfig{})
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(cmdTestPassword+"\n"), 0o600)
	var out, errb bytes.Buffer
	args := []string{"--auth", "saml", "--username", spemu.DefaultUser, "--password-file", pwFile, "--sts-url", base + "/extSTS.srf", lib}
	if code := cmdCookies(args, &out, &errb); code != exitcodes.OK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	ck := strings.TrimSpace(out.String())
	if !strings.Contains(ck, "FedAuth=") || propfindWith(t, lib, ck) != 207 {
		t.Fatalf("cookie %q does not work", ck)
	}
	// A wrong password: exit 3, AADSTS50126 named, password not shown.
	os.WriteFile(pwFile, []byte("wrong-password-123\n"), 0o600)
	out.Reset()
	errb.Reset()
	if code := cmdCookies(args, &out, &errb); code != exitcodes.Auth || !strings.Contains(errb.String(), "AADSTS50126") {
		t.Fatalf("wrong password: exit %d, %q", code, errb.String())
	}
	if strings.Contains(errb.String(), "wrong-password-123") || strings.Contains(errb.String(), cmdTestPassword) {
		t.Error("password on stderr")
	}
	// A group-readable password file is refused.
	os.Chmod(pwFile, 0o640)
	errb.Reset()
	if code := cmdCookies(args, &out, &errb); code != exitcodes.Auth || !strings.Contains(errb.String(), "chmod 600") {
		t.Errorf("0640 password file: exit %d, %q", code, errb.String())
	}
}

func TestCmdCookiesLegacyOff(t *testing.T) {
	base, lib := startLoginSpemu(t, spemu.LoginConfig{LegacyAuthOff: true})
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(cmdTestPassword), 0o600)
	var out, errb bytes.Buffer
	args := []string{"--auth", "saml", "--username", spemu.DefaultUser, "--password-file", pwFile, "--sts-url", base + "/extSTS.srf", lib}
	if code := cmdCookies(args, &out, &errb); code != exitcodes.Auth || !strings.Contains(errb.String(), "1 May 2026") || !strings.Contains(errb.String(), "odfb login") {
		t.Errorf("legacy off: exit %d, %q", code, errb.String())
	}
}

// TestNoSecretFlags guards the rule that no secret ever reaches argv (and
// so a `ps` line): no authentication flag of mount/cookies or login takes
// a password, cookie or token value.
func TestNoSecretFlags(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	addAuthFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		n := strings.ToLower(f.Name)
		for _, bad := range []string{"password", "passwd", "cookie", "token", "secret"} {
			// --cookies-from-browser takes a browser name (and profile).
			if strings.Contains(n, bad) && !strings.HasSuffix(n, "-file") && !strings.HasSuffix(n, "-command") && !strings.HasSuffix(n, "-from-browser") {
				t.Errorf("flag --%s looks like it takes a secret on the command line", f.Name)
			}
		}
	})
}

// A --ca-file that holds no certificate is a usage error naming the file,
// for login and for the commands that share the mount's auth flags; the
// sign-in endpoints must not silently fall back to the default trust.
func TestCAFileReachesLogin(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lib := "https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents"
	var out, errb bytes.Buffer
	if code := cmdLogin([]string{"--ca-file", bad, "--credentials", filepath.Join(t.TempDir(), "c.json"), lib}, &out, &errb); code != exitcodes.Usage || !strings.Contains(errb.String(), bad) {
		t.Errorf("login: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := cmdCookies([]string{"--ca-file", bad, "--cookie-command", "echo a=b", lib}, &out, &errb); code != exitcodes.Usage || !strings.Contains(errb.String(), bad) {
		t.Errorf("cookies: exit %d, stderr %q", code, errb.String())
	}
}
