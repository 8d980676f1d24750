package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strings"

	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/davclient/auth"
)

// authFlags are the authentication options of commands that talk to a
// library. No flag carries a secret: cookies come from a file (0600), a
// command, or the AUTH_COOKIES environment variable; passwords from a file
// (0600), ODFB_PASSWORD, or a prompt.
type authFlags struct {
	method, cookieFile, cookieCommand, username, passwordFile *string
	cookiesFromBrowser                                        *string
	// caFile is here, not with the mount's flags, because sign-in
	// endpoints need the same trust as WebDAV (a TLS-inspecting proxy).
	caFile *string
	modern *modernAuthFlags
}

// addAuthFlags registers the authentication flags on fs.
func addAuthFlags(fs *flag.FlagSet) *authFlags {
	return &authFlags{
		method:             fs.String("auth", "", "authentication strategy: "+strings.Join(auth.Methods, "|")+" (default: chosen from what is configured)"),
		cookieFile:         fs.String("cookie-file", "", "file with a Cookie header line or Netscape cookies.txt, mode 0600; re-read when the server refuses it"),
		cookieCommand:      fs.String("cookie-command", "", "command printing a Cookie header value; run again when the server refuses it"),
		cookiesFromBrowser: fs.String("cookies-from-browser", "", "read the SharePoint session cookies (FedAuth, rtFa, SPOIDCRL) from a browser you signed in with: firefox[:PROFILE], chromium[:PROFILE] or chrome[:PROFILE]; read again when the server refuses them"),
		username:           fs.String("username", "", "user name for legacy SAML (SharePoint Online) or basic auth (other WebDAV servers)"),
		passwordFile:       fs.String("password-file", "", "file holding the password, mode 0600 (else ODFB_PASSWORD, else a prompt)"),
		caFile:             fs.String("ca-file", "", "extra PEM CA certificates to trust, for WebDAV and sign-in alike (TLS verification stays on)"),
		modern:             addModernAuthFlags(fs),
	}
}

// options turns the flags (and AUTH_COOKIES) into auth.Options for url.
func (f *authFlags) options(url string, log *slog.Logger) (auth.Options, error) {
	o := auth.Options{Method: *f.method, SiteURL: url, CookieFile: *f.cookieFile, CookieCommand: *f.cookieCommand, CookiesFromBrowser: *f.cookiesFromBrowser,
		Username: *f.username, Cookies: os.Getenv("AUTH_COOKIES"), Logger: log}
	f.modern.apply(&o)
	if o.Username != "" {
		o.Password = modernPasswordSource(*f.passwordFile, o.Username)
	}
	if *f.caFile != "" {
		hc, err := davclient.NewHTTPClient(*f.caFile)
		if err != nil {
			return o, err
		}
		o.HTTPClient = hc
	}
	return o, nil
}

// authenticator builds the strategy the flags describe.
func (f *authFlags) authenticator(ctx context.Context, url string, log *slog.Logger) (auth.Authenticator, error) {
	o, err := f.options(url, log)
	if err != nil {
		return nil, err
	}
	return auth.Select(ctx, o)
}
