package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/odfb/odfb/internal/testenv"
)

func oauthConfig(t *testing.T, f *fakeSPO) (OAuthConfig, *testenv.Buffer) {
	t.Helper()
	log, buf := newTestLogger()
	return OAuthConfig{SiteURL: f.srv.URL + "/personal/alice/Documents", Authority: f.srv.URL,
		ClientID: "client-1", Credentials: filepath.Join(t.TempDir(), "odfb", "credentials.json"), Logger: log}, buf
}

func deviceLogin(t *testing.T, f *fakeSPO, cfg OAuthConfig) string {
	t.Helper()
	var shown DeviceCode
	desc, err := DeviceLogin(context.Background(), cfg, func(d DeviceCode) { shown = d })
	if err != nil {
		t.Fatal(err)
	}
	if shown.UserCode != "ABCD-EFGH" || !strings.HasSuffix(shown.VerificationURI, "/devicelogin") {
		t.Fatalf("shown %+v", shown)
	}
	return desc
}

func TestOAuthDeviceLoginAndRenewal(t *testing.T) {
	f := newFakeSPO(t)
	f.pending = 1 // one authorization_pending before the approval
	cfg, logs := oauthConfig(t, f)
	desc := deviceLogin(t, f, cfg)
	if !strings.Contains(desc, "client-1") {
		t.Errorf("description %q", desc)
	}
	if n := f.count("token"); n != 2 {
		t.Errorf("token polls = %d, want 2 (one pending, one success)", n)
	}
	fi, err := os.Stat(cfg.Credentials)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(cfg.Credentials)); di.Mode().Perm() != 0o700 {
		t.Errorf("credentials dir mode %o", di.Mode().Perm())
	}
	rt0 := storedRT(t, cfg)

	a, err := NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lib := cfg.SiteURL + "/"
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := doWithRefresh(ctx, t, a, lib); err != nil || st != 207 {
				t.Errorf("request: %d %v", st, err)
			}
		}()
	}
	wg.Wait()
	if n := f.count("token"); n != 3 {
		t.Errorf("token requests = %d, want 3 (one refresh at first use)", n)
	}
	if n := f.count("authenticate"); n != 2 {
		t.Errorf("Authenticate requests = %d, want 2 (one check by the login, one at first use)", n)
	}
	rt1 := storedRT(t, cfg)
	if rt1 == rt0 {
		t.Error("rolled refresh token not saved")
	}
	// Cookie expires, access token still valid: one exchange, no token request.
	f.mu.Lock()
	for k := range f.cookies {
		delete(f.cookies, k)
	}
	f.mu.Unlock()
	if st, err := doWithRefresh(ctx, t, a, lib); err != nil || st != 207 {
		t.Fatal(st, err)
	}
	if f.count("token") != 3 || f.count("authenticate") != 3 {
		t.Errorf("after cookie expiry: token=%d authenticate=%d, want 3 and 3", f.count("token"), f.count("authenticate"))
	}
	// Both expire: one refresh, one exchange, and the new refresh token is stored.
	f.expireAll()
	if st, err := doWithRefresh(ctx, t, a, lib); err != nil || st != 207 {
		t.Fatal(st, err)
	}
	if f.count("token") != 4 || f.count("authenticate") != 5 {
		t.Errorf("after full expiry: token=%d authenticate=%d, want 4 and 5 (held token refused once)", f.count("token"), f.count("authenticate"))
	}
	if storedRT(t, cfg) == rt1 {
		t.Error("second rolled refresh token not saved")
	}
	assertNoSecrets(t, f.allSecrets(), logs.String(), a.String(), desc)
}

func storedRT(t *testing.T, cfg OAuthConfig) string {
	t.Helper()
	e, err := CredentialsStore{Path: cfg.Credentials}.Get(strings.TrimPrefix(cfgHost(cfg), "http://"), cfg.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	return e.RefreshToken
}

func cfgHost(cfg OAuthConfig) string {
	b, _ := siteBase(cfg.SiteURL)
	return b.Host
}

func TestOAuthDeadGrantSaysLoginAgain(t *testing.T) {
	f := newFakeSPO(t)
	cfg, logs := oauthConfig(t, f)
	deviceLogin(t, f, cfg)
	a, err := NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.deadGrant = true
	_, err = doWithRefresh(context.Background(), t, a, cfg.SiteURL+"/")
	if !errors.Is(err, ErrLoginExpired) || !strings.Contains(err.Error(), "odfb login") || !strings.Contains(err.Error(), "AADSTS700082") {
		t.Fatalf("error %v: want ErrLoginExpired naming AADSTS700082 and odfb login", err)
	}
	if strings.Contains(err.Error(), "Trace ID") {
		t.Errorf("error carries the multi-line description: %q", err)
	}
	assertNoSecrets(t, f.allSecrets(), err.Error(), logs.String())
}

func TestOAuthWithoutLogin(t *testing.T) {
	f := newFakeSPO(t)
	cfg, _ := oauthConfig(t, f)
	_, err := NewOAuth(cfg)
	if !errors.Is(err, ErrNoLogin) || !strings.Contains(err.Error(), "odfb login") {
		t.Fatalf("got %v", err)
	}
}

func TestOAuthBearerOnDAV(t *testing.T) {
	f := newFakeSPO(t)
	cfg, _ := oauthConfig(t, f)
	cfg.OnDAV = true
	deviceLogin(t, f, cfg)
	a, err := NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := doWithRefresh(context.Background(), t, a, cfg.SiteURL+"/"); err != nil || st != 207 {
		t.Fatal(st, err)
	}
	if n := f.count("authenticate"); n != 0 {
		t.Errorf("Authenticate requests = %d with bearer on DAV", n)
	}
}

func TestOAuthMountUsesTheStoredLoginsAuthority(t *testing.T) {
	f := newFakeSPO(t)
	cfg, _ := oauthConfig(t, f)
	deviceLogin(t, f, cfg)
	// The mount names neither the authority nor the client id: the
	// stored login supplies both (its refresh token is only good there).
	m := OAuthConfig{SiteURL: cfg.SiteURL, Credentials: cfg.Credentials}
	a, err := NewOAuth(m)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := doWithRefresh(context.Background(), t, a, cfg.SiteURL+"/"); err != nil || st != 207 {
		t.Fatalf("%d %v", st, err)
	}
	if !strings.Contains(a.String(), "client-1") {
		t.Errorf("String() = %q", a.String())
	}
}
