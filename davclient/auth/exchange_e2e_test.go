package auth_test

import (
	"context"
	"errors"
	"fmt"
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
