package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/spemu"
)

// TestExchangeRefused runs the OAuth strategy against every setting of
// spemu's two [unc] switches around the token exchange: the exchange
// accepts the client id, refuses it (403) or is absent (404); Bearer on
// WebDAV is accepted or refused. Where the exchange works, the cookie is
// used. Where it is refused and Bearer works, the token is tried on
// WebDAV once and kept (one exchange request for the whole run). Where
// both fail, the error says "refused the token exchange" and names the
// routes that remain.
func TestExchangeRefused(t *testing.T) {
	const clientID = "my-app"
	for _, exch := range []string{"accepts", "403", "404"} {
		for _, bearer := range []bool{false, true} {
			t.Run(fmt.Sprintf("exchange %s, bearer on DAV %v", exch, bearer), func(t *testing.T) {
				lc := spemu.LoginConfig{OAuthAutoApprove: 1, BearerOnDAV: bearer}
				switch exch {
				case "403":
					lc.ExchangeClientIDs = []string{"1fec8e78-bce4-4aaf-ab1b-5451cc387264"}
				case "404":
					lc.ExchangeAbsent = true
				}
				e := startE2E(t, lc, 0)
				ctx := context.Background()
				cfg := auth.OAuthConfig{SiteURL: e.lib, Authority: e.base, ClientID: clientID,
					Credentials: filepath.Join(t.TempDir(), "credentials.json"), HTTPClient: e.httpClient(), Logger: e.log}
				desc, lerr := auth.DeviceLogin(ctx, cfg, func(auth.DeviceCode) {})
				works := exch == "accepts" || bearer
				if works && lerr != nil {
					t.Fatalf("odfb login: %v", lerr)
				}
				if exch != "accepts" && bearer && !strings.Contains(desc, "takes the token directly on WebDAV") {
					t.Errorf("login says %q; want it to say the token is used on WebDAV", desc)
				}
				a, err := auth.NewOAuth(cfg)
				if err != nil {
					t.Fatal(err)
				}
				c := e.client(a)
				var last error
				for i := 0; i < 3; i++ {
					_, _, last = c.List(ctx, "/")
					e.srv.ExpireSessions() // cookies die: the strategy must log in again
				}
				if works {
					if last != nil {
						t.Fatalf("listing: %v", last)
					}
				} else {
					if lerr == nil || last == nil {
						t.Fatalf("login %v, listing %v: want both to fail", lerr, last)
					}
					for _, err := range []error{lerr, last} {
						for _, want := range []string{"refused the token exchange", "sign-in step exchange failed", "client id " + clientID,
							"odfb login --client-id", "--cookies-from-browser", "--cookie-command", "--bearer-command"} {
							if !strings.Contains(err.Error(), want) {
								t.Errorf("error %q lacks %q", err, want)
							}
						}
						if strings.Contains(err.Error(), "refused the access token") {
							t.Errorf("error %q blames the token", err)
						}
						if !errors.Is(err, auth.ErrExchangeRefused) {
							t.Errorf("error %q is not ErrExchangeRefused", err)
						}
					}
				}
				exchanges := e.count("POST", "/_api/SP.OAuth.NativeClient/Authenticate")
				bearerDAV := 0
				for _, r := range e.srv.Requests() {
					if r.Auth == "bearer" {
						bearerDAV++
					}
				}
				switch {
				case exch == "accepts":
					if bearerDAV != 0 {
						t.Errorf("%d requests sent Bearer although the exchange works", bearerDAV)
					}
				case bearer:
					// login: one exchange; the mount: one more, then Bearer for good.
					if exchanges != 2 {
						t.Errorf("exchange requests = %d, want 2 (odfb login, then once per mount)", exchanges)
					}
					if bearerDAV < 3 {
						t.Errorf("%d requests went with Bearer, want the listings to", bearerDAV)
					}
				default:
					// login: one; the mount: one, then the refusal is remembered.
					if exchanges != 2 {
						t.Errorf("exchange requests = %d, want 2 (no retry storm)", exchanges)
					}
				}
				e.assertNoSecrets(desc)
			})
		}
	}
}

// spemuAccessToken runs the device code grant against spemu by hand
// (auto-approved) and returns an access token for the library's host.
func spemuAccessToken(t *testing.T, e *e2e) string {
	t.Helper()
	hc := e.httpClient()
	u, _ := url.Parse(e.lib)
	scope := "https://" + u.Host + "/.default offline_access"
	resp, err := hc.PostForm(e.base+"/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {"cli"}, "scope": {scope}})
	if err != nil {
		t.Fatal(err)
	}
	var dc struct {
		DeviceCode string `json:"device_code"`
	}
	json.NewDecoder(resp.Body).Decode(&dc)
	resp.Body.Close()
	resp, err = hc.PostForm(e.base+"/organizations/oauth2/v2.0/token", url.Values{"client_id": {"cli"},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc.DeviceCode}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.AccessToken == "" {
		t.Fatal("spemu gave no access token")
	}
	return tok.AccessToken
}

// TestBearerCommandExchangeRefused: the bearer command's token meets a
// refused exchange; with Bearer accepted on WebDAV the command's token is
// used directly, else the error names the step and the routes left.
func TestBearerCommandExchangeRefused(t *testing.T) {
	for _, bearer := range []bool{false, true} {
		t.Run(fmt.Sprintf("bearer on DAV %v", bearer), func(t *testing.T) {
			e := startE2E(t, spemu.LoginConfig{OAuthAutoApprove: 1, BearerOnDAV: bearer, ExchangeAbsent: true}, 0)
			tok := spemuAccessToken(t, e)
			a, err := auth.NewBearerCommand(auth.BearerCommandConfig{Command: "printf %s " + tok, SiteURL: e.lib,
				HTTPClient: e.httpClient(), Logger: e.log})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = e.client(a).List(context.Background(), "/")
			if bearer {
				if err != nil {
					t.Fatalf("listing with the command's token on WebDAV: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "refused the token exchange") || !strings.Contains(err.Error(), "sign-in step exchange failed") ||
				!strings.Contains(err.Error(), "--cookies-from-browser") {
				t.Fatalf("error %v: want the refused exchange and the routes left", err)
			}
		})
	}
}
