package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/odfb/odfb/spemu"
)

// loginFlags registers spemu's sign-in switches on fs. Call the returned
// function after fs.Parse to get the LoginConfig for Server.SetLogin.
func loginFlags(fs *flag.FlagSet) func() (spemu.LoginConfig, error) {
	legacy := fs.String("legacy-auth", "on", "legacy SAML/IDCRL login: on, or off to model Microsoft's 2026 block (no cookies from wsignin1.0; FedAuth/rtFa refused with 403/917656)")
	tokenTTL := fs.Duration("token-ttl", time.Hour, "lifetime of OAuth access tokens")
	stsTTL := fs.Duration("sts-token-ttl", 24*time.Hour, "lifetime of extSTS security tokens (the legacy cookies live no longer)")
	refreshTTL := fs.Duration("refresh-token-ttl", 90*24*time.Hour, "lifetime of OAuth refresh tokens (they rotate on every use)")
	stsFault := fs.String("sts-fault", "none", "make extSTS.srf answer with a fault: none, 50126 (bad password), 50053 (locked), 50076 (MFA required), 53003 (Conditional Access), notoken (success without a token, status codes in S:Header), notoken-body (the same, status codes inside the body's RequestSecurityTokenResponse)")
	bearerOnDAV := fs.Bool("bearer-on-dav", false, "accept Authorization: Bearer (a delegated token for this host) on WebDAV and REST")
	autoApprove := fs.Int("oauth-auto-approve", 0, "approve a device code by itself on its Nth poll of the token endpoint (0: never; codes stay pending)")
	interval := fs.Int("oauth-interval", 1, "polling interval in seconds announced with a device code")
	tenant := fs.String("tenant", "", "tenant path segment of the OAuth endpoints besides organizations/common (e.g. contoso.onmicrosoft.com)")
	clientIDs := fs.String("oauth-client-ids", "", "comma-separated public client ids the authority accepts (empty: any)")
	exchangeIDs := fs.String("exchange-client-ids", "", "comma-separated client ids whose tokens SP.OAuth.NativeClient/Authenticate turns into cookies; others get 403 (empty: any) [unc]")
	tokenFault := fs.String("token-fault", "", "make the OAuth token endpoint refuse every grant with this AADSTS code: 50076, 50079, 53000, 53001, 53003, 65001, 70043, 700082, 50173, 50105, 700016, 50126 or 7000218")
	exchangeAbsent := fs.Bool("exchange-absent", false, "SP.OAuth.NativeClient/Authenticate answers 404 [unc]")
	return func() (spemu.LoginConfig, error) {
		lc := spemu.LoginConfig{TokenTTL: *tokenTTL, STSTokenTTL: *stsTTL, RefreshTokenTTL: *refreshTTL, BearerOnDAV: *bearerOnDAV,
			OAuthAutoApprove: *autoApprove, DeviceCodeInterval: *interval, Tenant: *tenant}
		switch strings.ToLower(*legacy) {
		case "on", "true", "1":
		case "off", "false", "0":
			lc.LegacyAuthOff = true
		default:
			return lc, fmt.Errorf("--legacy-auth %q: want on or off", *legacy)
		}
		switch *stsFault {
		case "none", "":
		case "50126", "50053", "50076", "53003", "notoken", "notoken-body":
			lc.STSFault = *stsFault
		default:
			return lc, fmt.Errorf("--sts-fault %q: want none, 50126, 50053, 50076, 53003, notoken or notoken-body", *stsFault)
		}
		if *autoApprove < 0 {
			return lc, fmt.Errorf("--oauth-auto-approve %d: want 0 or more", *autoApprove)
		}
		for _, c := range strings.Split(*clientIDs, ",") {
			if c = strings.TrimSpace(c); c != "" {
				lc.ClientIDs = append(lc.ClientIDs, c)
			}
		}
		for _, c := range strings.Split(*exchangeIDs, ",") {
			if c = strings.TrimSpace(c); c != "" {
				lc.ExchangeClientIDs = append(lc.ExchangeClientIDs, c)
			}
		}
		lc.ExchangeAbsent = *exchangeAbsent
		if *tokenFault != "" {
			if !spemu.KnownTokenFault(*tokenFault) {
				return lc, fmt.Errorf("--token-fault %q: not a code spemu knows", *tokenFault)
			}
			lc.TokenFault = *tokenFault
		}
		return lc, nil
	}
}

// printLoginURLs writes the sign-in endpoints, one a line, after the
// library URL.
func printLoginURLs(w io.Writer, srv *spemu.Server) {
	base := srv.URL()
	lc := srv.Login()
	for _, p := range spemu.LoginPaths(srv.Config().Site, lc.Tenant) {
		fmt.Fprintf(w, "login:   %s%s\n", base, p)
	}
}
