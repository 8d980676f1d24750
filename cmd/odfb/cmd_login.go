package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	neturl "net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/internal/exitcodes"
)

const loginUsage = `usage: odfb login [options] URL

Signs in to SharePoint Online with the OAuth device code flow: odfb prints
an address and a code, you open the address in any browser (on any
device), enter the code and sign in. odfb then stores a refresh token in
the credentials file (mode 0600) and never asks again: mounts renew their
access by themselves. Run it again when a mount reports that the stored
login can no longer be renewed.

URL is the library (or site) URL you will mount; its host is what the
login is for (contoso-my.sharepoint.com and contoso.sharepoint.com need a
login each) and which cloud signs you in (*.sharepoint.us and
*.sharepoint-mil.us: login.microsoftonline.us; *.sharepoint.cn:
login.chinacloudapi.cn).

When sign-in fails, the error names the step (token, exchange) and what
to try next; docs/login.md ("When sign-in fails") lists every AADSTS code.

options:
`

// cmdLogin implements `odfb login`. It returns the exit status.
func cmdLogin(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("login", loginUsage, stderr)
	authority := fs.String("authority", "", "authority URL (default from the library's host: "+auth.DefaultAuthority+"; *.sharepoint.us and *.sharepoint-mil.us: "+auth.AuthorityUSGov+"; *.sharepoint.cn: "+auth.AuthorityChina+"; or spemu in tests)")
	clientID := fs.String("client-id", auth.DefaultClientID, "public client id (your organisation's app registration, if it requires one)")
	tenant := fs.String("tenant", auth.DefaultTenant, "tenant: organizations, a domain such as contoso.onmicrosoft.com, or a tenant id")
	creds := fs.String("credentials", "", "credentials file (default "+auth.DefaultCredentialsPath()+")")
	bearerOnDAV := fs.Bool("bearer-on-dav", false, "do not check that SharePoint turns the token into a cookie (the mount will send it as a bearer token)")
	logout := fs.Bool("logout", false, "remove the stored login for URL's host instead")
	timeout := fs.Duration("timeout", 15*time.Minute, "how long to wait for the sign-in")
	caFile := fs.String("ca-file", "", "extra PEM CA certificates to trust (TLS verification stays on)")
	verbose := fs.Bool("v", false, "log the steps to stderr")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitcodes.Usage
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitcodes.Usage
	}
	url := pos[0]
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := auth.OAuthConfig{SiteURL: url, Authority: *authority, Tenant: *tenant, ClientID: *clientID,
		Credentials: *creds, OnDAV: *bearerOnDAV, Logger: log}
	if cfg.Credentials == "" {
		cfg.Credentials = auth.DefaultCredentialsPath()
	}
	if *caFile != "" {
		hc, err := davclient.NewHTTPClient(*caFile)
		if err != nil {
			fmt.Fprintln(stderr, "odfb login:", err)
			return exitcodes.Usage
		}
		cfg.HTTPClient = hc
	}
	if *logout {
		host, err := loginHost(url)
		if err != nil {
			fmt.Fprintln(stderr, "odfb login:", err)
			return exitcodes.Usage
		}
		if err := (auth.CredentialsStore{Path: cfg.Credentials}).Delete(host, cfg.ClientID); err != nil {
			fmt.Fprintln(stderr, "odfb login:", err)
			return exitcodes.Other
		}
		fmt.Fprintf(stdout, "Removed the stored login for %s (client id %s) from %s.\n", host, cfg.ClientID, cfg.Credentials)
		return exitcodes.OK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	desc, err := auth.DeviceLogin(ctx, cfg, func(d auth.DeviceCode) {
		fmt.Fprintf(stdout, "To sign in, open %s in a browser and enter the code %s\n", d.VerificationURI, d.UserCode)
		if d.VerificationURIComplete != "" {
			fmt.Fprintf(stdout, "(or open %s)\n", d.VerificationURIComplete)
		}
		if !d.Expires.IsZero() {
			fmt.Fprintf(stdout, "The code is valid until %s. Waiting for the sign-in…\n", d.Expires.Local().Format("15:04:05"))
		}
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "odfb login: interrupted; nothing stored")
			return exitcodes.Other
		}
		fmt.Fprintln(stderr, "odfb login:", err)
		return exitcodes.Auth
	}
	mountArgs := url
	if cfg.Credentials != auth.DefaultCredentialsPath() {
		mountArgs = "--credentials " + cfg.Credentials + " " + url
	}
	fmt.Fprintf(stdout, "Signed in: %s.\nThe login is stored in %s; `odfb mount %s MOUNTPOINT` will use it.\n", desc, cfg.Credentials, mountArgs)
	return exitcodes.OK
}

// loginHost returns the host[:port] of a library URL, lower case.
func loginHost(raw string) (string, error) {
	u, err := neturl.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%q is not an https://host/… URL", raw)
	}
	return strings.ToLower(u.Host), nil
}
