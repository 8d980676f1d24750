package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
)

// TestAADSTSAdvice: each Entra ID refusal spemu's token endpoint can be
// switched to comes back from `odfb login` as "sign-in step token failed"
// with the code, what it means and what to do.
func TestAADSTSAdvice(t *testing.T) {
	const clientID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	for code, want := range map[string][]string{
		"50076":   {"multi-factor authentication is required", "odfb login"},
		"50079":   {"enrol in multi-factor", "odfb login"},
		"53000":   {"compliant (managed) device", "--cookies-from-browser"},
		"53001":   {"domain-joined", "--cookies-from-browser"},
		"53003":   {"Conditional Access policy blocks", "--cookies-from-browser", "allow client id " + clientID},
		"65001":   {"consented to client id " + clientID, "/organizations/adminconsent?client_id=" + clientID},
		"70043":   {"sign-in frequency", "odfb login"},
		"700082":  {"90 days", "odfb login"},
		"50173":   {"revoked", "odfb login"},
		"50105":   {"not assigned to the application " + clientID, "Users and groups"},
		"700016":  {"does not exist in this tenant", "--client-id"},
		"50126":   {"wrong user name or password"},
		"7000218": {"public client flows", "Allow public client flows"},
	} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t, spemu.LoginConfig{OAuthAutoApprove: 1, TokenFault: code}, 0)
			cfg := auth.OAuthConfig{SiteURL: e.lib, Authority: e.base, ClientID: clientID,
				Credentials: filepath.Join(t.TempDir(), "credentials.json"), HTTPClient: e.httpClient(), Logger: e.log}
			_, err := auth.DeviceLogin(context.Background(), cfg, func(auth.DeviceCode) {})
			if err == nil {
				t.Fatal("login succeeded")
			}
			var se *auth.StepError
			if !errors.As(err, &se) || se.Step != "token" {
				t.Errorf("error %q is not a StepError of step token", err)
			}
			for _, w := range append([]string{"sign-in step token failed", "AADSTS" + code, "next: "}, want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), e.base+"/organizations/adminconsent") != (code == "65001") {
				t.Errorf("error %q: admin-consent URL only for 65001", err)
			}
		})
	}
}

// TestAADSTSUnknownAsItCame: a code odfb has no advice for is shown as
// Entra ID sent it, not dressed up.
func TestAADSTSUnknownAsItCame(t *testing.T) {
	e := startE2E(t, spemu.LoginConfig{OAuthAutoApprove: 1, Tenant: "contoso.onmicrosoft.com"}, 0)
	cfg := auth.OAuthConfig{SiteURL: e.lib, Authority: e.base, Tenant: "fabrikam.onmicrosoft.com",
		Credentials: filepath.Join(t.TempDir(), "credentials.json"), HTTPClient: e.httpClient(), Logger: e.log}
	_, err := auth.DeviceLogin(context.Background(), cfg, func(auth.DeviceCode) {})
	if err == nil || !strings.Contains(err.Error(), "AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found.") {
		t.Fatalf("error %v: want AADSTS90002 as it came", err)
	}
	var se *auth.StepError
	if errors.As(err, &se) {
		t.Errorf("an unknown code got advice: %v", err)
	}
}

// TestAADSTSAtMountTime: the stored login works, then Conditional Access
// starts refusing it. The mount's error (and so odfb status) names the
// token step and the browser-cookie route.
func TestAADSTSAtMountTime(t *testing.T) {
	e := startE2E(t, spemu.LoginConfig{OAuthAutoApprove: 1}, 0)
	ctx := context.Background()
	cfg := auth.OAuthConfig{SiteURL: e.lib, Authority: e.base,
		Credentials: filepath.Join(t.TempDir(), "credentials.json"), HTTPClient: e.httpClient(), Logger: e.log}
	if _, err := auth.DeviceLogin(ctx, cfg, func(auth.DeviceCode) {}); err != nil {
		t.Fatal(err)
	}
	a, err := auth.NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(a)
	if _, _, err := c.List(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	lc := e.srv.Login()
	lc.TokenFault = "53003"
	e.srv.SetLogin(lc)
	e.srv.ExpireTokens(false)
	e.srv.ExpireSessions()
	_, _, err = c.List(ctx, "/")
	if !errors.Is(err, remote.ErrAuth) {
		t.Fatalf("error %v, want ErrAuth", err)
	}
	for _, w := range []string{"sign-in step token failed", "AADSTS53003", "next: use cookies from a browser"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	e.assertNoSecrets(err.Error())
}
