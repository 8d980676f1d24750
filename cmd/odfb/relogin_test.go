package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// startOAuthMount runs `odfb mount --auth oauth` with the login stored in
// creds and waits for its readiness line.
func startOAuthMount(t *testing.T, bin string, srv *spemu.Server, creds, mnt, cacheDir string, extra ...string) *mountProc {
	t.Helper()
	args := append([]string{"mount", "--auth", "oauth", "--authority", srv.URL(), "--credentials", creds,
		"--cache-dir", cacheDir, srv.LibraryURL(), mnt}, extra...)
	return runMount(t, bin, mnt, args)
}

// tokenCalls counts the requests to the OAuth token endpoint (device code
// polls and refresh token redemptions) that arrived at or after from.
func tokenCalls(srv *spemu.Server, from time.Time) int {
	n := 0
	for _, r := range srv.Requests() {
		if !r.Time.Before(from) && r.Method == "POST" && strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			n++
		}
	}
	return n
}

// countReqs counts requests at or after from whose path ends in suffix.
func countReqs(srv *spemu.Server, from time.Time, suffix string) int {
	n := 0
	for _, r := range srv.Requests() {
		if !r.Time.Before(from) && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

func statusOf(t *testing.T, bin, mnt string) (cache.Status, string) {
	t.Helper()
	code, raw, errs := runOdfb(t, bin, "status", "--json", mnt)
	if code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, errs)
	}
	var st cache.Status
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	_, text, _ := runOdfb(t, bin, "status", mnt)
	return st, text
}

// TestReloginWithoutRemount: a mount on an OAuth login (odfb login against
// spemu's authority) keeps working while its access tokens and cookies
// expire every few seconds, redeeming the refresh token once per expiry;
// when the grant dies (refresh tokens revoked), writes are journaled and
// stay queued, status and sync say to run odfb login, and the token
// endpoint is asked at most once per upload attempt; after odfb login
// with the same credentials file, the next odfb sync uploads the file
// without a remount.
func TestReloginWithoutRemount(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	const tokenTTL = 2 * time.Second
	srv := fstest.StartSpemu(t, spemu.Config{Auth: "cookie", CookieTTL: 400 * time.Millisecond})
	srv.SetLogin(spemu.LoginConfig{OAuthAutoApprove: 1, TokenTTL: tokenTTL})
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials.json")
	login := func() {
		t.Helper()
		code, out, errs := runOdfb(t, bin, "login", "--authority", srv.URL(), "--credentials", creds, srv.LibraryURL())
		if code != 0 || !strings.Contains(out, "Signed in: "+spemu.DefaultUser) {
			t.Fatalf("odfb login: exit %d\n%s\n%s", code, out, errs)
		}
	}
	login()
	// Files to read, made before the mount lists the root: each read is a
	// GET through the mount's credentials.
	const nread = 60
	for k := 0; k < nread; k++ {
		if err := srv.WriteFile(fmt.Sprintf("/r%d.txt", k), []byte(fmt.Sprintf("server %d", k))); err != nil {
			t.Fatal(err)
		}
	}
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	// Uploads only when odfb sync asks (each sync is one attempt); folder
	// listings are asked again after half a second, so reads reach the
	// server all along.
	m := startOAuthMount(t, bin, srv, creds, mnt, filepath.Join(dir, "cache"), "--write-back", "1h", "--dir-cache-time", "500ms")

	// 1. Credentials expire several times; reads and writes go on.
	start := time.Now()
	i := 0
	for ; (time.Since(start) < 3*tokenTTL || i < 4) && i < nread; i++ {
		if got, err := os.ReadFile(filepath.Join(mnt, fmt.Sprintf("r%d.txt", i))); err != nil || string(got) != fmt.Sprintf("server %d", i) {
			t.Fatalf("read r%d.txt at %v: %q %v\n%s", i, time.Since(start), got, err, m.logText())
		}
		if err := os.WriteFile(filepath.Join(mnt, fmt.Sprintf("w%d.txt", i)), seededBytes(2000+i, int64(i)), 0o644); err != nil {
			t.Fatalf("write w%d.txt: %v", i, err)
		}
		if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
			t.Fatalf("sync at %v: exit %d: %s\n%s", time.Since(start), code, errs, m.logText())
		}
		time.Sleep(300 * time.Millisecond)
	}
	healthy := time.Since(start)
	for j := 0; j < i; j++ {
		if got, err := srv.ReadFile(fmt.Sprintf("/w%d.txt", j)); err != nil || !bytes.Equal(got, seededBytes(2000+j, int64(j))) {
			t.Errorf("w%d.txt on the server: %v", j, err)
		}
	}
	redeemed := tokenCalls(srv, start)
	exchanges := countReqs(srv, start, "/SP.OAuth.NativeClient/Authenticate")
	// An access token is redeemed when the held one is in its last fifth;
	// more than one redemption per 4/5 of a lifetime (plus the edges) is
	// a storm.
	maxRedeem := int(healthy/(tokenTTL*4/5)) + 2
	t.Logf("healthy phase: %v, %d rounds, %d token redemptions (bound %d), %d cookie exchanges", healthy.Round(time.Millisecond), i, redeemed, maxRedeem, exchanges)
	if redeemed < 2 || redeemed > maxRedeem {
		t.Errorf("%d token redemptions in %v with %v tokens: want 2..%d", redeemed, healthy, tokenTTL, maxRedeem)
	}

	// 2. The grant dies: every refresh token and access token is revoked
	// and the session cookies end.
	srv.ExpireTokens(true)
	srv.ExpireSessions()
	dead := time.Now()
	want := seededBytes(150_000, 42)
	f, err := os.Create(filepath.Join(mnt, "after.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close while the login is dead: %v", err)
	}
	const tries = 3
	for k := 0; k < tries; k++ {
		code, _, errs := runOdfb(t, bin, "sync", "--timeout", "30s", mnt)
		if code != exitcodes.Pending || !strings.Contains(errs, "odfb login") || !strings.Contains(errs, "after.bin") {
			t.Fatalf("sync %d with the grant dead: exit %d, stderr:\n%s", k+1, code, errs)
		}
	}
	// A listing the server must be asked for again does not loop on the
	// token endpoint either (it may be served from the cache).
	os.ReadDir(mnt)
	st, text := statusOf(t, bin, mnt)
	var item *cache.QueueItem
	for k := range st.Queue {
		if st.Queue[k].Path == "/after.bin" {
			item = &st.Queue[k]
		}
	}
	if item == nil || item.Attempts < tries || len(st.LostFound) != 0 {
		t.Fatalf("after.bin not queued with %d failed attempts (lost+found: %v):\n%s", tries, st.LostFound, text)
	}
	if !strings.Contains(text, "auth: FAILING") || !strings.Contains(text, "odfb login") {
		t.Errorf("status does not say the login must be renewed:\n%s", text)
	}
	deadTokens := tokenCalls(srv, dead)
	t.Logf("grant dead: %d upload attempts, %d token endpoint requests, %d cookie exchanges, %d requests in all",
		item.Attempts, deadTokens, countReqs(srv, dead, "/SP.OAuth.NativeClient/Authenticate"), len(srv.Requests())-countBefore(srv, dead))
	if deadTokens > item.Attempts {
		t.Errorf("%d token endpoint requests for %d upload attempts with the grant dead: want at most one per attempt", deadTokens, item.Attempts)
	}
	// The auth layer says once that the login was refused; the uploader
	// logs each failed attempt; nothing logs per request.
	logDead := m.logText()
	refusedLines := strings.Count(logDead, "auth: the stored login was refused")
	loginLines := 0
	for _, l := range strings.Split(logDead, "\n") {
		if strings.Contains(l, "odfb login") {
			loginLines++
		}
	}
	t.Logf("mount log with the grant dead: %d 'login was refused' lines, %d lines naming odfb login", refusedLines, loginLines)
	if refusedLines != 1 || loginLines > 2*item.Attempts+1 {
		t.Errorf("the mount log says 'login was refused' %d times, names odfb login on %d lines, for %d attempts:\n%s",
			refusedLines, loginLines, item.Attempts, logDead)
	}
	if _, err := srv.ReadFile("/after.bin"); err == nil {
		t.Error("after.bin reached the server with the grant dead")
	}

	// 3. odfb login again, same credentials file, no remount.
	login()
	relogin := time.Now()
	if code, _, errs := runOdfb(t, bin, "sync", "--timeout", "30s", mnt); code != 0 {
		t.Fatalf("sync after odfb login: exit %d: %s\n%s", code, errs, m.logText())
	}
	if got, err := srv.ReadFile("/after.bin"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("after.bin on the server after the new login: %d bytes, %v", len(got), err)
	}
	st, text = statusOf(t, bin, mnt)
	if len(st.Queue) != 0 || st.AuthError != "" || !strings.Contains(text, "auth: ok") {
		t.Errorf("status after the new login:\n%s", text)
	}
	t.Logf("after the new login: %d token endpoint requests for the sync", tokenCalls(srv, relogin))
	if got, err := os.ReadFile(filepath.Join(mnt, "after.bin")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("read after.bin through the mount: %v", err)
	}
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("unmount: exit %d: %s", code, errs)
	}
	select {
	case err := <-m.exited:
		if err != nil {
			t.Errorf("mount exit: %v\n%s", err, m.logText())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("mount still running after odfb unmount")
	}
}

// countBefore counts the requests that arrived before t.
func countBefore(srv *spemu.Server, t time.Time) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Time.Before(t) {
			n++
		}
	}
	return n
}
