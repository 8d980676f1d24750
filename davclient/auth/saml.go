package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	"time"
)

// DefaultSTSURL is Entra ID's legacy security token service.
const DefaultSTSURL = "https://login.microsoftonline.com/extSTS.srf"

// DefaultSAMLCooldown is how long a refused password is not tried again
// (unless the password itself changes).
const DefaultSAMLCooldown = 30 * time.Minute

// ErrLegacyRetired is wrapped by errors that look like Microsoft's
// retirement of legacy (IDCRL) SharePoint logins.
var ErrLegacyRetired = errors.New("Microsoft retired legacy SharePoint logins (IDCRL, the username/password login) for SharePoint Online on 1 May 2026; sign in with `odfb login` (OAuth device code) and mount with --auth oauth")

// ErrSignInThrottled is wrapped by errors where a sign-in endpoint
// answered with throttling (429, 503, or a 401 that says throttled): not
// a verdict on the account, the password or legacy login.
var ErrSignInThrottled = errors.New("the sign-in service is throttling")

// throttledAnswer reports a throttling answer of a sign-in endpoint.
func throttledAnswer(resp *http.Response, body []byte) bool {
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable ||
		ThrottledRefusal(resp.StatusCode, resp.Header, body)
}

// ErrPasswordRefused is wrapped by errors where the STS refused the
// account or its password.
var ErrPasswordRefused = errors.New("the sign-in service refused the account or password")

// SAMLConfig configures the legacy SAML strategy (extSTS.srf →
// wsignin1.0 → FedAuth/rtFa).
type SAMLConfig struct {
	SiteURL  string // library or site URL; its host gets the cookies
	Username string
	// Password returns the password; it is called before every login, so
	// a corrected password file is picked up without a remount. Use
	// PasswordFile, PasswordEnv or a prompt that remembers its answer.
	Password func(ctx context.Context) (string, error)
	STSURL   string // default STSURLFor(SiteURL): the library's cloud
	// Cooldown is how long, after the STS refused the password, no
	// request goes to it again unless the password changes (default
	// DefaultSAMLCooldown). Repeated wrong passwords lock accounts.
	Cooldown   time.Duration
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// SAML is the legacy SAML Authenticator.
type SAML struct {
	cfg    SAMLConfig
	base   string
	client *http.Client
	sess   *loginSession
	log    *slog.Logger

	mu     sync.Mutex // guards failed
	failed *samlFailure

	realmOnce sync.Once
	realmErr  error
}

// samlFailure remembers a refusal so a burst of requests makes one login.
type samlFailure struct {
	err    error
	until  time.Time
	pwHash [32]byte
}

var _ Authenticator = (*SAML)(nil)

// NewSAML checks cfg and returns the strategy; nothing is sent until the
// first request.
func NewSAML(cfg SAMLConfig) (*SAML, error) {
	b, err := siteBase(cfg.SiteURL)
	if err != nil {
		return nil, fmt.Errorf("saml: %w", err)
	}
	if strings.TrimSpace(cfg.Username) == "" {
		return nil, errors.New("saml: no user name (--username)")
	}
	if cfg.Password == nil {
		return nil, errors.New("saml: no password source (--password-file, ODFB_PASSWORD or a terminal to prompt on)")
	}
	if cfg.STSURL == "" {
		cfg.STSURL = STSURLFor(cfg.SiteURL)
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = DefaultSAMLCooldown
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &SAML{cfg: cfg, base: b.String(), client: loginHTTPClient(cfg.HTTPClient), log: log}
	a.sess = newLoginSession(a.String(), log, a.login)
	a.sess.probe = probeWith(a.client, cfg.SiteURL)
	a.sess.freshRefused = func(context.Context, *loginCredential) error {
		err := fmt.Errorf("saml: SharePoint refused the FedAuth cookie it had just issued to %s (403, X-MSDAVEXT_Error 917656): %w", a.cfg.Username, ErrLegacyRetired)
		a.remember(err, nil)
		return err
	}
	return a, nil
}

// String names the strategy and account without secrets.
func (a *SAML) String() string { return "saml " + a.cfg.Username + " on " + a.base }

// Authorize adds FedAuth and rtFa, logging in first when none are held or
// the token they came from is about to expire.
func (a *SAML) Authorize(ctx context.Context, req *http.Request) error {
	return a.sess.authorize(ctx, req)
}

// Refresh logs in again, unless a refusal of the same password is being
// remembered, in which case it returns that refusal without a request.
func (a *SAML) Refresh(ctx context.Context) error { return a.sess.refresh(ctx) }

func (a *SAML) remember(err error, pw *string) {
	f := &samlFailure{err: err, until: time.Now().Add(a.cfg.Cooldown)}
	if pw != nil {
		f.pwHash = sha256.Sum256([]byte(*pw))
	}
	a.mu.Lock()
	a.failed = f
	a.mu.Unlock()
}

// remembered returns the remembered refusal that still applies to pw.
func (a *SAML) remembered(pw string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failed
	if f == nil || time.Now().After(f.until) {
		return nil
	}
	if f.pwHash != ([32]byte{}) && f.pwHash != sha256.Sum256([]byte(pw)) {
		return nil // the password changed: one new attempt is fine
	}
	return f.err
}

func (a *SAML) login(ctx context.Context, _ *loginCredential, refused bool) (*loginCredential, error) {
	pw, err := a.cfg.Password(ctx)
	if err != nil {
		return nil, fmt.Errorf("saml: password: %w", err)
	}
	if err := a.remembered(pw); err != nil {
		return nil, err
	}
	a.realmOnce.Do(func() { a.realmErr = a.checkRealm(ctx) })
	if a.realmErr != nil {
		return nil, a.realmErr
	}
	tok, expires, err := a.token(ctx, pw)
	if err != nil {
		return nil, err
	}
	c, err := a.signIn(ctx, tok)
	if err != nil {
		if !errors.Is(err, ErrSignInThrottled) {
			a.remember(err, nil)
		}
		return nil, err
	}
	if !expires.IsZero() && (c.expires.IsZero() || expires.Before(c.expires)) {
		c.expires = expires
	}
	a.mu.Lock()
	a.failed = nil
	a.mu.Unlock()
	a.log.Info("auth: signed in with the legacy SAML login", "strategy", "saml", "user", a.cfg.Username, "host", a.base, "after_refusal", refused, "expires", fmtTime(c.expires))
	return c, nil
}

// token asks extSTS for a security token.
func (a *SAML) token(ctx context.Context, pw string) (string, time.Time, error) {
	appliesTo := a.base + "/_forms/default.aspx?wa=wsignin1.0"
	body, err := buildRST(a.cfg.STSURL, appliesTo, a.cfg.Username, pw)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("saml: building the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.STSURL, bytes.NewReader(body))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("saml: STS URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("saml: STS %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("saml: STS %s: reading the answer: %w", req.URL.Redacted(), err)
	}
	if throttledAnswer(resp, rb) {
		return "", time.Time{}, fmt.Errorf("saml: STS %s throttled the sign-in (HTTP %d); trying again later: %w", req.URL.Redacted(), resp.StatusCode, ErrSignInThrottled)
	}
	r, perr := parseRSTR(rb)
	if perr != nil {
		return "", time.Time{}, fmt.Errorf("saml: STS %s answered HTTP %d: %v", req.URL.Redacted(), resp.StatusCode, perr)
	}
	if f := r.fault; f != nil {
		f.HTTPCode = resp.StatusCode
		if f.credentialRefused() {
			err := fmt.Errorf("saml: %w for %s: %s; not trying again until the password changes or %s pass",
				ErrPasswordRefused, a.cfg.Username, f.String(), a.cfg.Cooldown)
			a.remember(err, &pw)
			a.log.Warn("auth: legacy sign-in refused", "strategy", "saml", "user", a.cfg.Username, "sts", req.URL.Redacted(), "aadsts", f.AADSTS, "code", f.Code)
			return "", time.Time{}, err
		}
		err := fmt.Errorf("saml: the STS refused the sign-in for %s: %s", a.cfg.Username, f.String())
		a.remember(err, &pw)
		return "", time.Time{}, err
	}
	if r.token == "" {
		var codes []string
		if r.reqStatus != "" {
			codes = append(codes, "psf:reqstatus "+oneLine(r.reqStatus, 40))
		}
		if r.errStatus != "" {
			codes = append(codes, "psf:errorstatus "+oneLine(r.errStatus, 40))
		}
		st := ""
		if len(codes) > 0 {
			st = " (" + strings.Join(codes, ", ") + ")"
		}
		err := fmt.Errorf("saml: the STS answered HTTP %d without a security token%s: the tenant issues no token for this login (a policy, or %w)", resp.StatusCode, st, ErrLegacyRetired)
		a.remember(err, &pw)
		return "", time.Time{}, err
	}
	return r.token, r.expires, nil
}

// signIn posts the token to wsignin1.0 and takes FedAuth and rtFa from
// that response itself (it is a redirect that must not be followed).
func (a *SAML) signIn(ctx context.Context, tok string) (*loginCredential, error) {
	u := a.base + "/_forms/default.aspx?wa=wsignin1.0"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(tok))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("saml: sign-in at %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if throttledAnswer(resp, body) {
		// Not the retirement: SharePoint is throttling (possibly as a 401
		// "429 TOO MANY REQUESTS"). Nothing is remembered against the login.
		return nil, fmt.Errorf("saml: the sign-in at %s was throttled (HTTP %d); trying again later: %w", u, resp.StatusCode, ErrSignInThrottled)
	}
	v, exp := cookiesNamed(resp, "FedAuth", "rtFa")
	if !strings.Contains(v, "FedAuth=") {
		return nil, fmt.Errorf("saml: the sign-in at %s (HTTP %d) set no FedAuth cookie: %w", u, resp.StatusCode, ErrLegacyRetired)
	}
	return &loginCredential{header: "Cookie", value: v, issued: time.Now(), expires: exp}, nil
}

// PasswordFile returns a password source reading path (which must be
// 0600 and owned by the user) on every login; one trailing newline is
// removed.
func PasswordFile(path string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		if err := CheckPrivateFile(path); err != nil {
			return "", fmt.Errorf("password file refused: %w", err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s == "" {
			return "", fmt.Errorf("password file %s is empty", path)
		}
		return s, nil
	}
}

// PasswordEnv returns a password source reading the environment variable
// name (ODFB_PASSWORD) on every login.
func PasswordEnv(name string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		s, ok := os.LookupEnv(name)
		if !ok || s == "" {
			return "", fmt.Errorf("%s is not set", name)
		}
		return s, nil
	}
}

// checkRealm asks GetUserRealm.srf (next to the STS) once per process
// whether the account is managed. A federated (ADFS) account cannot use
// this login: sending its password to extSTS would only fail (and count
// against the lockout). Any other outcome, including an unreachable or
// unreadable realm service, lets the login go on.
func (a *SAML) checkRealm(ctx context.Context) error {
	u, err := url.Parse(a.cfg.STSURL)
	if err != nil || u.Host == "" {
		return nil
	}
	realm := u.Scheme + "://" + u.Host + "/GetUserRealm.srf"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, realm, strings.NewReader(url.Values{"login": {a.cfg.Username}}.Encode()))
	if err != nil {
		return nil
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := a.client.Do(req)
	if err != nil {
		a.log.Info("auth: home realm discovery failed; trying the login anyway", "url", realm, "err", err)
		return nil
	}
	defer resp.Body.Close()
	var j struct {
		NameSpaceType string `json:"NameSpaceType"`
		AuthURL       string `json:"AuthURL"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&j) != nil {
		return nil
	}
	if strings.EqualFold(j.NameSpaceType, "Federated") {
		host := ""
		if au, err := url.Parse(j.AuthURL); err == nil {
			host = " (" + au.Host + ")"
		}
		return fmt.Errorf("saml: %s is a federated account%s; the legacy password login does not support federation: use `odfb login` (OAuth device code)", a.cfg.Username, host)
	}
	return nil
}
