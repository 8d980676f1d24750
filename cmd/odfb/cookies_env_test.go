package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

// propfinds counts spemu's PROPFIND requests.
func propfinds(srv *spemu.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "PROPFIND" {
			n++
		}
	}
	return n
}

// TestCmdCookiesFromAUTHCOOKIES: with no auth flag, `odfb cookies` takes
// the cookies from AUTH_COOKIES (with or without a "Cookie:" prefix),
// checks them once on the server and prints them; a cookie the server
// refuses is exit 3 with a message that names AUTH_COOKIES and says what
// to do, without quoting the cookie.
func TestCmdCookiesFromAUTHCOOKIES(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "cookie"})
	lib := srv.LibraryURL()
	good, err := srv.IssueSessionCookie()
	if err != nil {
		t.Fatal(err)
	}

	for _, env := range []string{good, "Cookie: " + good} {
		t.Setenv("AUTH_COOKIES", env)
		before := propfinds(srv)
		var out, errb bytes.Buffer
		if code := cmdCookies([]string{lib}, &out, &errb); code != exitcodes.OK {
			t.Fatalf("AUTH_COOKIES=%.7s…: exit %d: %s", env, code, errb.String())
		}
		if got := strings.TrimSpace(out.String()); got != good {
			t.Errorf("printed %q, want the AUTH_COOKIES value %q", got, good)
		}
		if n := propfinds(srv) - before; n != 1 {
			t.Errorf("PROPFIND checks = %d, want 1", n)
		}
		if strings.Contains(errb.String(), good) {
			t.Error("the cookie is on stderr")
		}
	}

	// --no-check prints it without asking the server.
	t.Setenv("AUTH_COOKIES", good)
	before := propfinds(srv)
	var out, errb bytes.Buffer
	if code := cmdCookies([]string{"--no-check", lib}, &out, &errb); code != exitcodes.OK || strings.TrimSpace(out.String()) != good {
		t.Errorf("--no-check: exit %d, %q", code, out.String())
	}
	if n := propfinds(srv) - before; n != 0 {
		t.Errorf("--no-check sent %d PROPFIND", n)
	}

	// A refused cookie: exit 3, a message that says what to do.
	const refused = "FedAuth=refused-cookie-value-1234; rtFa=refused-rtfa-5678"
	t.Setenv("AUTH_COOKIES", refused)
	out.Reset()
	errb.Reset()
	if code := cmdCookies([]string{lib}, &out, &errb); code != exitcodes.Auth {
		t.Fatalf("refused AUTH_COOKIES: exit %d, want %d: %s", code, exitcodes.Auth, errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout after a refusal: %q", out.String())
	}
	msg := errb.String()
	for _, want := range []string{"odfb cookies:", "AUTH_COOKIES", "refused", "fresh"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "refused-cookie-value") || strings.Contains(msg, "refused-rtfa") {
		t.Errorf("the message quotes the cookie: %q", msg)
	}

	// A value that cannot be a header (a newline inside) is refused before
	// any request, also exit 3.
	t.Setenv("AUTH_COOKIES", "FedAuth=a\nb")
	before = propfinds(srv)
	errb.Reset()
	if code := cmdCookies([]string{lib}, &out, &errb); code != exitcodes.Auth || !strings.Contains(errb.String(), "AUTH_COOKIES") {
		t.Errorf("malformed AUTH_COOKIES: exit %d, %q", code, errb.String())
	}
	if n := propfinds(srv) - before; n != 0 {
		t.Errorf("malformed AUTH_COOKIES sent %d PROPFIND", n)
	}
}

// TestCmdCookiesSAMLFromODFBPASSWORD: without --password-file the SAML
// password comes from ODFB_PASSWORD; the printed cookie works.
func TestCmdCookiesSAMLFromODFBPASSWORD(t *testing.T) {
	base, lib := startLoginSpemu(t, spemu.LoginConfig{})
	t.Setenv("AUTH_COOKIES", "")
	t.Setenv("ODFB_PASSWORD", cmdTestPassword)
	var out, errb bytes.Buffer
	args := []string{"--auth", "saml", "--username", spemu.DefaultUser, "--sts-url", base + "/extSTS.srf", lib}
	if code := cmdCookies(args, &out, &errb); code != exitcodes.OK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	ck := strings.TrimSpace(out.String())
	if !strings.Contains(ck, "FedAuth=") || propfindWith(t, lib, ck) != 207 {
		t.Fatalf("cookie %q does not work", ck)
	}
	// A wrong ODFB_PASSWORD is refused with exit 3, the value not shown.
	t.Setenv("ODFB_PASSWORD", "wrong-env-password-42")
	errb.Reset()
	if code := cmdCookies(args, &out, &errb); code != exitcodes.Auth || !strings.Contains(errb.String(), "AADSTS50126") {
		t.Errorf("wrong ODFB_PASSWORD: exit %d, %q", code, errb.String())
	}
	if strings.Contains(errb.String(), "wrong-env-password-42") {
		t.Error("the password is on stderr")
	}
	// --password-file wins over ODFB_PASSWORD.
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(cmdTestPassword+"\n"), 0o600)
	out.Reset()
	errb.Reset()
	if code := cmdCookies(append([]string{"--password-file", pwFile}, args...), &out, &errb); code != exitcodes.OK {
		t.Errorf("--password-file with a wrong ODFB_PASSWORD: exit %d: %s", code, errb.String())
	}
}
