package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Defaults of the OAuth strategy.
const (
	// DefaultClientID is the public client odfb presents when --client-id
	// is not given: Microsoft Office's well-known public client
	// (d3590ed6-52b3-4102-aeff-aad2292ab01c), which Entra ID lets use the
	// device code flow and which is pre-authorised for SharePoint's
	// delegated permissions in every tenant. Organisations that block it
	// (or want their own consent screen and audit trail) register an app
	// with "Allow public client flows" and delegated SharePoint
	// AllSites.Write, and pass its id with --client-id.
	DefaultClientID = "d3590ed6-52b3-4102-aeff-aad2292ab01c"
	// DefaultAuthority is Entra ID's global endpoint (see §1.1 of the
	// protocol notes for national clouds).
	DefaultAuthority = "https://login.microsoftonline.com"
	// DefaultTenant lets any work or school account sign in.
	DefaultTenant = "organizations"
)

// ErrLoginExpired is wrapped by errors meaning the stored OAuth login can
// no longer be renewed; the person must run `odfb login` again.
var ErrLoginExpired = errors.New("the stored login can no longer be renewed")

// OAuthConfig configures the OAuth device-code strategy and `odfb login`.
type OAuthConfig struct {
	SiteURL     string // library or site URL; its host is the audience
	Authority   string // default AuthorityFor(SiteURL): the library's cloud
	Tenant      string // default DefaultTenant
	ClientID    string // default DefaultClientID
	Credentials string // credentials file; default DefaultCredentialsPath()
	// OnDAV sends the access token as Authorization: Bearer on every
	// request instead of exchanging it for an SPOIDCRL cookie.
	OnDAV      bool
	HTTPClient *http.Client
	Logger     *slog.Logger
}

func (c *OAuthConfig) fill() (*oauth2.Config, string, error) {
	b, err := siteBase(c.SiteURL)
	if err != nil {
		return nil, "", fmt.Errorf("oauth: %w", err)
	}
	if c.Authority == "" {
		c.Authority = AuthorityFor(c.SiteURL)
	}
	if c.Tenant == "" {
		c.Tenant = DefaultTenant
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Credentials == "" {
		c.Credentials = DefaultCredentialsPath()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	ep := strings.TrimRight(c.Authority, "/") + "/" + c.Tenant + "/oauth2/v2.0"
	oc := &oauth2.Config{
		ClientID: c.ClientID,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: ep + "/devicecode",
			TokenURL:      ep + "/token",
			AuthStyle:     oauth2.AuthStyleInParams, // public client; no probing with two styles
		},
		Scopes: []string{b.String() + "/.default", "offline_access"},
	}
	return oc, b.String(), nil
}

// DeviceCode is what `odfb login` shows the person.
type DeviceCode struct {
	VerificationURI         string
	VerificationURIComplete string
	UserCode                string
	Expires                 time.Time
}

// DeviceLogin runs the device code flow: it asks the authority for a
// code, calls show with it, polls until the person has signed in (or
// ctx ends, or the code expires), stores the refresh token in the
// credentials file and, unless OnDAV is set, checks that SharePoint
// turns the access token into a cookie. It returns the stored entry's
// description (no secret) for display.
func DeviceLogin(ctx context.Context, cfg OAuthConfig, show func(DeviceCode)) (string, error) {
	oc, base, err := cfg.fill()
	if err != nil {
		return "", err
	}
	client := loginHTTPClient(cfg.HTTPClient)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	da, err := oc.DeviceAuth(ctx)
	if err != nil {
		return "", classifyTokenError("device code request", oc.Endpoint.DeviceAuthURL, cfg, err)
	}
	show(DeviceCode{VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete, UserCode: da.UserCode, Expires: da.Expiry})
	tok, err := oc.DeviceAccessToken(ctx, da)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			switch re.ErrorCode {
			case "authorization_declined", "access_denied":
				return "", errors.New("oauth: the sign-in was declined")
			case "expired_token":
				return "", errors.New("oauth: the code expired before the sign-in finished; run `odfb login` again")
			}
		}
		if errors.Is(err, context.DeadlineExceeded) && !da.Expiry.IsZero() && time.Now().After(da.Expiry) {
			return "", errors.New("oauth: the code expired before the sign-in finished; run `odfb login` again")
		}
		return "", classifyTokenError("device code sign-in", oc.Endpoint.TokenURL, cfg, err)
	}
	if tok.RefreshToken == "" {
		return "", fmt.Errorf("oauth: %s gave no refresh token (is offline_access allowed for client %s?)", oc.Endpoint.TokenURL, cfg.ClientID)
	}
	host := strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
	entry := CredentialsEntry{
		Host: host, ClientID: cfg.ClientID, Authority: cfg.Authority, Tenant: cfg.Tenant,
		Account: idTokenAccount(tok), RefreshToken: tok.RefreshToken,
	}
	store := CredentialsStore{Path: cfg.Credentials}
	if err := store.Put(entry); err != nil {
		return "", fmt.Errorf("oauth: signed in, but could not store the login: %w", err)
	}
	cfg.Logger.Info("auth: oauth login stored", "host", host, "client_id", cfg.ClientID, "credentials", cfg.Credentials, "account", entry.Account)
	desc := describeEntry(entry)
	if !cfg.OnDAV {
		_, err := exchangeBearer(ctx, client, base, tok.AccessToken)
		if err != nil && errors.Is(err, ErrExchangeRefused) {
			perr := bearerOnDAVWorks(ctx, client, cfg.SiteURL, tok.AccessToken)
			if perr != nil {
				return desc, &StepError{Step: "exchange", Err: fmt.Errorf("oauth: signed in and stored the login, but %w (client id %s), and SharePoint did not take the token directly on WebDAV either (%v)", err, cfg.ClientID, perr),
					Next: remainingRoutes}
			}
			cfg.Logger.Info("auth: SharePoint refused the token exchange but takes the token on WebDAV", "host", host, "client_id", cfg.ClientID)
			return desc + "; SharePoint refused the token exchange for this client id but takes the token directly on WebDAV, which mounts will use", nil
		}
		if err != nil {
			return desc, fmt.Errorf("oauth: signed in and stored the login, but SharePoint did not give a cookie for the token: %w", err)
		}
	}
	return desc, nil
}

func describeEntry(e CredentialsEntry) string {
	who := e.Account
	if who == "" {
		who = "(account unknown)"
	}
	return fmt.Sprintf("%s on %s (client id %s, tenant %s)", who, e.Host, e.ClientID, e.Tenant)
}

// idTokenAccount reads preferred_username (or upn, email) from the id
// token for display; empty when absent.
func idTokenAccount(tok *oauth2.Token) string {
	s, _ := tok.Extra("id_token").(string)
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var c map[string]any
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return firstString(c, "preferred_username", "upn", "email")
}

// OAuth is the Authenticator of the OAuth strategy: stored refresh token
// → access token for https://<host>/.default → SPOIDCRL cookie.
type OAuth struct {
	cfg    OAuthConfig
	oc     *oauth2.Config
	base   string
	host   string
	store  CredentialsStore
	client *http.Client
	sess   *loginSession

	mu     sync.Mutex // guards access, unsaved, unsavedFrom
	access *oauth2.Token
	desc   string
	// unsaved is a rolled refresh token the file could not take yet;
	// unsavedFrom is the token it replaced (still in the file).
	unsaved, unsavedFrom string
	// dead remembers a refresh token the authority refused for good
	// (ErrLoginExpired), so that it is not sent again and again; see
	// deadLogin.
	dead *deadLogin
	// bearerOnDAV is set once SharePoint refused the token exchange and
	// took the token as Bearer on WebDAV: from then on the session sends
	// the token itself (no exchange is tried again in this process).
	bearerOnDAV atomic.Bool
	// noRoute remembers, for deadRetry, that neither the exchange nor
	// Bearer on WebDAV worked, so that every request does not ask again.
	noRoute   error
	noRouteAt time.Time
}

// deadLogin is a refresh token the authority refused with invalid_grant
// (or interaction_required…): sending it again cannot work, so redeem
// answers err without asking the token endpoint until the credentials
// file holds another token (odfb login ran) or deadRetry has passed.
type deadLogin struct {
	rt    string // the refused refresh token (never logged)
	err   error
	at    time.Time
	stamp credStamp // the credentials file when the token was refused
	tried credStamp // the file version Authorize last logged in with
}

// deadRetry is how long a refused refresh token is not sent again. A new
// login (another token in the file) is tried at once.
const deadRetry = 10 * time.Minute

// credStamp identifies one version of the credentials file: odfb login
// writes a new file and renames it over the old one.
type credStamp struct {
	fi os.FileInfo // nil when the file could not be read
}

func statCreds(path string) credStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return credStamp{}
	}
	return credStamp{fi}
}

func (s credStamp) same(o credStamp) bool {
	if s.fi == nil || o.fi == nil {
		return s.fi == nil && o.fi == nil
	}
	return os.SameFile(s.fi, o.fi) && s.fi.Size() == o.fi.Size() && s.fi.ModTime().Equal(o.fi.ModTime())
}

var _ Authenticator = (*OAuth)(nil)

// NewOAuth returns the strategy for cfg. It fails at once when the
// credentials file is unreadable or holds no login for the host.
func NewOAuth(cfg OAuthConfig) (*OAuth, error) {
	oc, base, err := cfg.fill()
	if err != nil {
		return nil, err
	}
	a := &OAuth{cfg: cfg, oc: oc, base: base, store: CredentialsStore{Path: cfg.Credentials}, client: loginHTTPClient(cfg.HTTPClient)}
	a.host = strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
	e, err := a.store.Get(a.host, cfg.ClientID)
	if errors.Is(err, ErrNoLogin) {
		// One login for the host under another client id (odfb login
		// --client-id X, mount without it): use that one.
		if only, ok := a.store.onlyEntryFor(a.host); ok {
			cfg.Logger.Info("auth: using the host's only stored login", "host", a.host, "client_id", only.ClientID, "credentials", cfg.Credentials)
			e, err = only, nil
		}
	}
	if err != nil {
		if errors.Is(err, ErrNoLogin) {
			return nil, fmt.Errorf("oauth: %w; run `odfb login %s` first", err, cfg.SiteURL)
		}
		return nil, fmt.Errorf("oauth: %w", err)
	}
	// A refresh token is only good at the authority and tenant that issued
	// it, and for its client id: take them from the login.
	if e.Authority != "" {
		a.cfg.Authority = e.Authority
	}
	if e.Tenant != "" {
		a.cfg.Tenant = e.Tenant
	}
	a.cfg.ClientID = e.ClientID
	if a.oc, _, err = a.cfg.fill(); err != nil {
		return nil, err
	}
	a.desc = describeEntry(e)
	a.sess = newLoginSession("oauth", a.cfg.Logger, a.login)
	if !cfg.OnDAV {
		a.sess.probe = probeWith(a.client, cfg.SiteURL)
	}
	return a, nil
}

// String names the strategy and account without secrets.
func (a *OAuth) String() string { return "oauth " + a.desc }

// Authorize adds the SPOIDCRL cookie (or the bearer header with OnDAV),
// logging in first when needed. While the stored login is known dead, a
// new credentials file (odfb login ran again) is noticed here: the
// session logs in with it before the request goes out, so the request
// after a new login works without a refusal first (and without waiting
// for any cooldown of failed renewals).
func (a *OAuth) Authorize(ctx context.Context, req *http.Request) error {
	if a.newLoginStored() {
		if err := a.adoptNewLogin(ctx); err != nil {
			return err
		}
	}
	return a.sess.authorize(ctx, req)
}

// newLoginStored reports whether the stored login is dead and the
// credentials file changed since (and since the last try with it).
func (a *OAuth) newLoginStored() bool {
	a.mu.Lock()
	d := a.dead
	a.mu.Unlock()
	if d == nil {
		return false
	}
	st := statCreds(a.store.Path)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead != d || st.same(d.stamp) || st.same(d.tried) {
		return false
	}
	d.tried = st
	return true
}

// adoptNewLogin logs in anew with what the credentials file holds now.
func (a *OAuth) adoptNewLogin(ctx context.Context) error {
	if err := a.sess.acquire(ctx); err != nil {
		return err
	}
	defer a.sess.release()
	a.mu.Lock()
	d := a.dead
	a.mu.Unlock()
	if d == nil {
		return nil // another request got there first
	}
	a.cfg.Logger.Info("auth: the credentials file changed since the stored login was refused; signing in with it", "host", a.host, "credentials", a.store.Path)
	c, err := a.login(ctx, a.sess.current(), true)
	if err != nil {
		return err
	}
	a.sess.set(c)
	return nil
}

// Refresh gets a new cookie: from the access token still held when it is
// valid, else after redeeming the refresh token.
func (a *OAuth) Refresh(ctx context.Context) error { return a.sess.refresh(ctx) }

func (a *OAuth) login(ctx context.Context, _ *loginCredential, refused bool) (*loginCredential, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, a.client)
	if a.cfg.OnDAV || a.bearerOnDAV.Load() {
		tok := a.heldAccess()
		if tok == nil || refused {
			t, err := a.redeem(ctx)
			if err != nil {
				return nil, err
			}
			tok = t
		}
		return &loginCredential{header: "Authorization", value: "Bearer " + tok.AccessToken, issued: time.Now(), expires: tok.Expiry}, nil
	}
	a.mu.Lock()
	if a.noRoute != nil && time.Since(a.noRouteAt) < deadRetry {
		err := a.noRoute
		a.mu.Unlock()
		return nil, err
	}
	a.mu.Unlock()
	tok := a.heldAccess()
	fresh := false
	if tok == nil {
		t, err := a.redeem(ctx)
		if err != nil {
			return nil, err
		}
		tok, fresh = t, true
	}
	c, err := exchangeBearer(ctx, a.client, a.base, tok.AccessToken)
	if err != nil && errors.Is(err, errTokenRefused) && !fresh {
		// The held access token was revoked or is not accepted any
		// more: redeem the refresh token once and try again.
		a.cfg.Logger.Info("auth: SharePoint refused the held access token; redeeming the refresh token", "host", a.host)
		a.mu.Lock()
		if a.access == tok {
			a.access = nil
		}
		a.mu.Unlock()
		t, rerr := a.redeem(ctx)
		if rerr != nil {
			return nil, rerr
		}
		tok = t
		c, err = exchangeBearer(ctx, a.client, a.base, t.AccessToken)
	}
	if err != nil && errors.Is(err, ErrExchangeRefused) {
		return a.tryBearerOnDAV(ctx, tok, err)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	a.cfg.Logger.Info("auth: got a SharePoint cookie from the access token", "strategy", "oauth", "host", a.host, "after_refusal", refused, "cookie_expires", fmtTime(c.expires))
	return c, nil
}

// tryBearerOnDAV runs when SharePoint refused the token exchange: it
// sends the token as Bearer on one WebDAV request (whether SharePoint
// takes delegated tokens there is not documented) and keeps doing so if
// it works; otherwise it stops with the routes that remain.
func (a *OAuth) tryBearerOnDAV(ctx context.Context, tok *oauth2.Token, exErr error) (*loginCredential, error) {
	a.cfg.Logger.Warn("auth: SharePoint refused the token exchange; trying the token directly on WebDAV", "host", a.host, "client_id", a.cfg.ClientID, "err", exErr)
	perr := bearerOnDAVWorks(ctx, a.client, a.cfg.SiteURL, tok.AccessToken)
	if perr == nil {
		a.bearerOnDAV.Store(true)
		a.cfg.Logger.Info("auth: SharePoint takes the token on WebDAV; using Bearer instead of a cookie", "host", a.host, "client_id", a.cfg.ClientID)
		return &loginCredential{header: "Authorization", value: "Bearer " + tok.AccessToken, issued: time.Now(), expires: tok.Expiry}, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	err := &StepError{Step: "exchange", Err: fmt.Errorf("oauth: %w (client id %s), and SharePoint did not take the token directly on WebDAV either (%v)", exErr, a.cfg.ClientID, perr),
		Next: remainingRoutes}
	a.mu.Lock()
	a.noRoute, a.noRouteAt = err, time.Now()
	a.mu.Unlock()
	a.cfg.Logger.Error("auth: no way to use the token", "host", a.host, "err", err)
	return nil, err
}

// heldAccess returns the access token held when it has more than a
// minute (or a fifth of its lifetime) left.
func (a *OAuth) heldAccess() *oauth2.Token {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.access
	if t == nil || t.AccessToken == "" {
		return nil
	}
	if !t.Expiry.IsZero() {
		margin := tokenLife(t) / 5
		if margin > time.Minute {
			margin = time.Minute
		}
		if time.Until(t.Expiry) <= margin {
			return nil
		}
	}
	return t
}

func tokenLife(t *oauth2.Token) time.Duration {
	if v, ok := t.Extra("expires_in").(float64); ok && v > 0 {
		return time.Duration(v) * time.Second
	}
	return time.Hour
}

// redeem trades the stored refresh token for an access token under the
// credentials file's lock and stores the rolled refresh token.
func (a *OAuth) redeem(ctx context.Context) (*oauth2.Token, error) {
	var tok *oauth2.Token
	err := a.store.Update(a.host, a.cfg.ClientID, func(e CredentialsEntry) (CredentialsEntry, error) {
		rt := e.RefreshToken
		a.mu.Lock()
		if a.unsaved != "" && a.unsavedFrom == rt {
			rt = a.unsaved // the file still holds the one we already redeemed
		}
		if d := a.dead; d != nil && d.rt == rt && time.Since(d.at) < deadRetry {
			a.mu.Unlock()
			return e, d.err // refused for good; odfb login must run
		}
		a.mu.Unlock()
		t, err := refreshGrant(ctx, a.client, a.oc, rt)
		if err != nil {
			err = classifyTokenError("token refresh", a.oc.Endpoint.TokenURL, a.cfg, err)
			if errors.Is(err, ErrLoginExpired) {
				a.mu.Lock()
				again := a.dead != nil && a.dead.rt == rt
				a.dead = &deadLogin{rt: rt, err: err, at: time.Now(), stamp: statCreds(a.store.Path)}
				a.mu.Unlock()
				if !again {
					// Said once per refused login, not per request.
					a.cfg.Logger.Error("auth: the stored login was refused; files stay queued until you sign in again with odfb login (no remount needed)",
						"host", a.host, "credentials", a.store.Path, "err", err)
				}
			}
			return e, err
		}
		a.mu.Lock()
		if a.dead != nil {
			a.cfg.Logger.Info("auth: signed in again with the new stored login", "host", a.host)
		}
		a.dead = nil
		a.mu.Unlock()
		tok = t
		rolled := t.RefreshToken != "" && t.RefreshToken != rt
		a.mu.Lock()
		a.unsaved, a.unsavedFrom = "", ""
		if rolled {
			// Remembered until the file write below is known to succeed.
			a.unsaved, a.unsavedFrom = t.RefreshToken, e.RefreshToken
		}
		a.mu.Unlock()
		if rolled {
			e.RefreshToken = t.RefreshToken
		}
		if acct := idTokenAccount(t); acct != "" {
			e.Account = acct
		}
		a.cfg.Logger.Info("auth: redeemed the refresh token", "strategy", "oauth", "host", a.host, "rolled", rolled, "access_expires", fmtTime(t.Expiry), "credentials", a.store.Path)
		return e, nil
	})
	if err != nil && tok != nil {
		// The grant worked but the rolled refresh token could not be
		// stored: keep going with it in memory and try to store it at
		// the next renewal.
		a.cfg.Logger.Error("auth: could not store the rolled refresh token; keeping it in memory until the file can be written",
			"credentials", a.store.Path, "err", err)
		err = nil
	} else if err == nil {
		a.mu.Lock()
		a.unsaved, a.unsavedFrom = "", ""
		a.mu.Unlock()
	}
	if err != nil {
		if errors.Is(err, ErrNoLogin) {
			return nil, fmt.Errorf("oauth: %w; run `odfb login %s`", err, a.cfg.SiteURL)
		}
		return nil, err
	}
	a.mu.Lock()
	a.access = tok
	a.mu.Unlock()
	return tok, nil
}

// classifyTokenError turns an oauth2 error into one a person can act on,
// never quoting a response body (it could hold a token). An AADSTS code
// odfb knows becomes a StepError (step "token") whose Next says what to
// do (aadsts.go); others are shown as they came.
func classifyTokenError(what, endpoint string, cfg OAuthConfig, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return classifyTokenErrorText(what, endpoint, cfg.SiteURL, err, false)
	}
	code := aadstsCode(re.ErrorDescription)
	meaning, next, ok := AADSTSAdvice(code, cfg.ClientID, cfg.Tenant, cfg.Authority, cfg.SiteURL)
	if !ok {
		return classifyTokenErrorText(what, endpoint, cfg.SiteURL, err, false)
	}
	e := classifyTokenErrorText(what, endpoint, cfg.SiteURL, err, true)
	return &StepError{Step: "token", Err: fmt.Errorf("%w: %s", e, meaning), Next: next}
}

// classifyTokenErrorText words the error; with advised, the advice comes
// from the AADSTS table instead of the generic one.
func classifyTokenErrorText(what, endpoint, siteURL string, err error, advised bool) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("oauth: %s at %s: %w", what, endpoint, err)
	}
	desc := strings.TrimSpace(strings.SplitN(strings.ReplaceAll(re.ErrorDescription, "\r", ""), "\n", 2)[0])
	detail := re.ErrorCode
	if desc != "" {
		detail += ": " + oneLine(desc, 300)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	if detail == "" {
		detail = fmt.Sprintf("HTTP %d", status)
	}
	switch {
	case (re.ErrorCode == "invalid_grant" || re.ErrorCode == "interaction_required" || re.ErrorCode == "consent_required") && advised:
		return fmt.Errorf("oauth: %w (%s from %s)", ErrLoginExpired, detail, endpoint)
	case re.ErrorCode == "invalid_grant" || re.ErrorCode == "interaction_required" || re.ErrorCode == "consent_required":
		return fmt.Errorf("oauth: %w (%s from %s); run `odfb login %s` again to sign in", ErrLoginExpired, detail, endpoint, siteURL)
	case (re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client") && advised:
		return fmt.Errorf("oauth: %s refused the client id (%s)", endpoint, detail)
	case re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client":
		return fmt.Errorf("oauth: %s refused the client id (%s); your organisation may require its own app registration: pass it with --client-id", endpoint, detail)
	}
	return fmt.Errorf("oauth: %s at %s failed: %s", what, endpoint, detail)
}

// refreshGrant redeems a refresh token. oauth2's own refresher sends no
// scope, but the v2 endpoint wants the same scope string as the original
// request (https://<host>/.default offline_access), so the request is
// made here; errors come back as *oauth2.RetrieveError like oauth2's.
func refreshGrant(ctx context.Context, client *http.Client, oc *oauth2.Config, rt string) (*oauth2.Token, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {rt},
		"client_id":     {oc.ClientID},
		"scope":         {strings.Join(oc.Scopes, " ")},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, oc.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var j struct {
		AccessToken      string      `json:"access_token"`
		TokenType        string      `json:"token_type"`
		RefreshToken     string      `json:"refresh_token"`
		ExpiresIn        json.Number `json:"expires_in"`
		Error            string      `json:"error"`
		ErrorDescription string      `json:"error_description"`
		ErrorURI         string      `json:"error_uri"`
		IDToken          string      `json:"id_token"`
	}
	jerr := json.Unmarshal(body, &j)
	if resp.StatusCode/100 != 2 || j.Error != "" || jerr != nil || j.AccessToken == "" {
		return nil, &oauth2.RetrieveError{Response: resp, Body: nil, ErrorCode: j.Error, ErrorDescription: j.ErrorDescription, ErrorURI: j.ErrorURI}
	}
	tok := &oauth2.Token{AccessToken: j.AccessToken, TokenType: j.TokenType, RefreshToken: j.RefreshToken}
	extra := map[string]any{}
	if n, err := j.ExpiresIn.Int64(); err == nil && n > 0 {
		tok.Expiry = time.Now().Add(time.Duration(n) * time.Second)
		tok.ExpiresIn = n
		extra["expires_in"] = float64(n)
	}
	if j.IDToken != "" {
		extra["id_token"] = j.IDToken
	}
	return tok.WithExtra(extra), nil
}
