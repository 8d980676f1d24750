package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestStatusNamesSignInStep: a mount on an OAuth login whose sign-in
// starts failing — Entra ID refuses the token (Conditional Access), or
// SharePoint refuses the token exchange and Bearer on WebDAV — keeps the
// write queued, and odfb status names the failing step and the next
// thing to try.
func TestStatusNamesSignInStep(t *testing.T) {
	testenv.NeedFUSE(t)
	bin := buildOdfb(t)
	for _, c := range []struct {
		name        string
		breakSignIn func(*spemu.Server)
		want        []string
	}{
		{"token", func(srv *spemu.Server) {
			lc := srv.Login()
			lc.TokenFault = "53003"
			srv.SetLogin(lc)
			srv.ExpireTokens(false)
		}, []string{"auth: FAILING at sign-in step token", "AADSTS53003", "next: use cookies from a browser"}},
		{"exchange", func(srv *spemu.Server) {
			lc := srv.Login()
			lc.ExchangeClientIDs = []string{"1fec8e78-bce4-4aaf-ab1b-5451cc387264"}
			srv.SetLogin(lc)
		}, []string{"auth: FAILING at sign-in step exchange", "refused the token exchange", "next: routes that remain", "--cookies-from-browser"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
			srv := fstest.StartSpemu(t, spemu.Config{Auth: "cookie"})
			srv.SetLogin(spemu.LoginConfig{OAuthAutoApprove: 1})
			dir := t.TempDir()
			creds := filepath.Join(dir, "credentials.json")
			if code, out, errs := runOdfb(t, bin, "login", "--authority", srv.URL(), "--credentials", creds, srv.LibraryURL()); code != 0 {
				t.Fatalf("odfb login: exit %d\n%s\n%s", code, out, errs)
			}
			mnt := filepath.Join(dir, "mnt")
			os.Mkdir(mnt, 0o755)
			m := startOAuthMount(t, bin, srv, creds, mnt, filepath.Join(dir, "cache"), "--write-back", "1h")
			if _, err := os.ReadDir(mnt); err != nil {
				t.Fatal(err)
			}
			c.breakSignIn(srv)
			srv.ExpireSessions()
			if err := os.WriteFile(filepath.Join(mnt, "queued.txt"), []byte("kept"), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, _, errs := runOdfb(t, bin, "sync", "--timeout", "30s", mnt); code != exitcodes.Pending {
				t.Fatalf("sync: exit %d: %s\n%s", code, errs, m.logText())
			}
			_, text := statusOf(t, bin, mnt)
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("status lacks %q:\n%s", w, text)
				}
			}
			if _, err := srv.ReadFile("/queued.txt"); err == nil {
				t.Error("queued.txt reached the server without sign-in")
			}
		})
	}
}
