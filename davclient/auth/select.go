package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Strategy names accepted by --auth (and the auth= mount option).
const (
	MethodOAuth         = "oauth"
	MethodSAML          = "saml"
	MethodCookies       = "cookies" // static AUTH_COOKIES / --cookies
	MethodCookieFile    = "cookie-file"
	MethodCookieCommand = "cookie-command"
	MethodBrowser       = "cookies-from-browser"
	MethodBearerCommand = "bearer-command"
	MethodBasic         = "basic"
	MethodNone          = "none"
)

// Methods lists every strategy name, recommended first.
var Methods = []string{MethodOAuth, MethodBearerCommand, MethodCookieCommand, MethodBrowser, MethodCookieFile, MethodCookies, MethodSAML, MethodBasic, MethodNone}

// Options is everything the command line (or fstab options) can say about
// authentication. Select turns it into an Authenticator.
type Options struct {
	Method  string // one of Methods; "" or "auto" chooses (see ChooseMethod)
	SiteURL string // the library URL being mounted

	Cookies       string // Cookie header value (AUTH_COOKIES)
	CookieFile    string
	CookieCommand string
	// CookiesFromBrowser is firefox[:PROFILE], chromium[:PROFILE] or
	// chrome[:PROFILE] (--cookies-from-browser).
	CookiesFromBrowser string

	Username string
	// Password is the SAML/basic password source (file, environment or
	// prompt); never a command-line value.
	Password     func(ctx context.Context) (string, error)
	STSURL       string
	SAMLCooldown time.Duration

	Authority   string
	Tenant      string
	ClientID    string
	Credentials string

	BearerCommand string
	BearerOnDAV   bool

	HTTPClient *http.Client
	Logger     *slog.Logger
}

// ChooseMethod returns the strategy Options asks for and why. When Method
// is empty or "auto" the first that applies wins: a bearer command, a
// cookie command, cookies from a browser, a cookie file, static cookies, a stored OAuth login for
// the URL's host, a user name (SAML for SharePoint Online hosts or when
// --sts-url is given, basic otherwise), and finally none.
func ChooseMethod(o Options) (method, reason string, err error) {
	m := strings.ToLower(strings.TrimSpace(o.Method))
	if m != "" && m != "auto" {
		for _, k := range Methods {
			if k == m {
				return m, "--auth " + m, nil
			}
		}
		return "", "", fmt.Errorf("unknown --auth %q (want one of %s)", o.Method, strings.Join(Methods, ", "))
	}
	switch {
	case o.BearerCommand != "":
		return MethodBearerCommand, "--bearer-command is set", nil
	case o.CookieCommand != "":
		return MethodCookieCommand, "--cookie-command is set", nil
	case o.CookiesFromBrowser != "":
		return MethodBrowser, "--cookies-from-browser is set", nil
	case o.CookieFile != "":
		return MethodCookieFile, "--cookie-file is set", nil
	case o.Cookies != "":
		return MethodCookies, "cookies given (AUTH_COOKIES)", nil
	}
	host := ""
	if u, err := url.Parse(o.SiteURL); err == nil {
		host = u.Host
	}
	creds := o.Credentials
	if creds == "" {
		creds = DefaultCredentialsPath()
	}
	if host != "" {
		has, err := CredentialsStore{Path: creds}.HasHost(host)
		if err != nil {
			return "", "", err
		}
		if has {
			return MethodOAuth, "a login for " + host + " is stored in " + creds, nil
		}
	}
	if o.Username != "" {
		if o.STSURL != "" || isSharePointOnlineHost(host) {
			return MethodSAML, "--username is set for a SharePoint Online host", nil
		}
		return MethodBasic, "--username is set for a server that is not SharePoint Online", nil
	}
	return MethodNone, "no credentials configured", nil
}

func isSharePointOnlineHost(host string) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	for _, s := range []string{".sharepoint.com", ".sharepoint.cn", ".sharepoint.us", ".sharepoint-mil.us", ".sharepoint.de"} {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// Select builds the Authenticator Options describe and logs which one and
// why (without secrets).
func Select(ctx context.Context, o Options) (Authenticator, error) {
	m, why, err := ChooseMethod(o)
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a, err := build(ctx, m, o)
	if err != nil {
		return nil, err
	}
	log.Info("auth: strategy chosen", "strategy", a.String(), "because", why)
	return a, nil
}

func build(ctx context.Context, m string, o Options) (Authenticator, error) {
	need := func(v, flag string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("--auth %s needs %s", m, flag)
		}
		return nil
	}
	switch m {
	case MethodOAuth:
		return NewOAuth(OAuthConfig{SiteURL: o.SiteURL, Authority: o.Authority, Tenant: o.Tenant, ClientID: o.ClientID,
			Credentials: o.Credentials, OnDAV: o.BearerOnDAV, HTTPClient: o.HTTPClient, Logger: o.Logger})
	case MethodSAML:
		return NewSAML(SAMLConfig{SiteURL: o.SiteURL, Username: o.Username, Password: o.Password, STSURL: o.STSURL,
			Cooldown: o.SAMLCooldown, HTTPClient: o.HTTPClient, Logger: o.Logger})
	case MethodBearerCommand:
		if err := need(o.BearerCommand, "--bearer-command"); err != nil {
			return nil, err
		}
		return NewBearerCommand(BearerCommandConfig{Command: o.BearerCommand, SiteURL: o.SiteURL, OnDAV: o.BearerOnDAV,
			HTTPClient: o.HTTPClient, Logger: o.Logger})
	case MethodCookieCommand:
		if err := need(o.CookieCommand, "--cookie-command"); err != nil {
			return nil, err
		}
		return CookieCommand(o.CookieCommand)
	case MethodBrowser:
		if err := need(o.CookiesFromBrowser, "--cookies-from-browser"); err != nil {
			return nil, err
		}
		return NewBrowserCookies(ctx, BrowserCookiesConfig{Spec: o.CookiesFromBrowser, SiteURL: o.SiteURL, Logger: o.Logger})
	case MethodCookieFile:
		if err := need(o.CookieFile, "--cookie-file"); err != nil {
			return nil, err
		}
		return CookieFile(o.CookieFile)
	case MethodCookies:
		if err := need(o.Cookies, "cookies (AUTH_COOKIES)"); err != nil {
			return nil, err
		}
		return StaticCookies(o.Cookies)
	case MethodBasic:
		if err := need(o.Username, "--username"); err != nil {
			return nil, err
		}
		if o.Password == nil {
			return nil, errors.New("--auth basic needs a password (--password-file, ODFB_PASSWORD or a terminal)")
		}
		pw, err := o.Password(ctx)
		if err != nil {
			return nil, fmt.Errorf("basic: password: %w", err)
		}
		return Basic(o.Username, pw), nil
	case MethodNone:
		return None(), nil
	}
	return nil, fmt.Errorf("unknown --auth %q", m)
}
