package spemu

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"
)

// LoginConfig switches the emulated sign-in services (legacy SAML and the
// OAuth authority); the zero value is a healthy tenant with both logins
// working.
type LoginConfig struct {
	// LegacyAuthOff models Microsoft's 2026 retirement of IDCRL
	// (sharepoint-protocol.md §1.7): extSTS still issues tokens, but
	// wsignin1.0 sets no cookies and every request carrying a FedAuth or
	// rtFa cookie is refused with 403 + X-MSDAVEXT_Error 917656. OAuth
	// (SPOIDCRL cookies, bearer tokens) keeps working.
	LegacyAuthOff bool
	// STSFault makes extSTS.srf answer with a fault instead of a token:
	// "50126" (bad password), "50053" (locked), "50076" (MFA required),
	// "53003" (Conditional Access), "notoken" (a success envelope
	// without a token, its psf:pp status codes in S:Header) or
	// "notoken-body" (the same with psf:pp inside the body's
	// RequestSecurityTokenResponse). "" or "none": normal behaviour (a
	// wrong password still gets 50126).
	STSFault string
	// TokenTTL is the lifetime of OAuth access tokens (default 1h, as
	// Entra ID's 60–90 minutes). Cookies follow Config.CookieTTL.
	TokenTTL time.Duration
	// STSTokenTTL is the lifetime of extSTS security tokens (default 24h,
	// as in the 2024 capture of a real answer, reference §1.4). The legacy
	// cookies live no longer than the token they came from.
	STSTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of a refresh token (default 90
	// days, rolling: every redemption returns a new one and retires the
	// old).
	RefreshTokenTTL time.Duration
	// BearerOnDAV makes WebDAV and REST accept Authorization: Bearer with
	// a delegated access token for the host (§2.4 [unc]); off, such
	// requests get the 401 Bearer challenge.
	BearerOnDAV bool
	// OAuthAutoApprove approves a device code by itself on its Nth poll
	// of the token endpoint (N >= 1); 0 leaves approval to
	// Server.ApproveDeviceCode (tests) — codes then stay pending.
	OAuthAutoApprove int
	// DeviceCodeInterval is the polling interval announced with a device
	// code, in seconds (default 1; the real service says 5).
	DeviceCodeInterval int
	// Tenant is the tenant path segment the authority answers under
	// ("organizations", "common", a domain or a GUID are all accepted when
	// empty).
	Tenant string
	// ClientIDs, when non-empty, is the list of public client ids the
	// authority accepts; others get invalid_client (AADSTS700016).
	ClientIDs []string
	// ExchangeClientIDs, when non-empty, is the list of client ids whose
	// access tokens SP.OAuth.NativeClient/Authenticate turns into an
	// SPOIDCRL cookie; a valid token of another client gets 403. Which
	// clients the real endpoint accepts is [unc]: Microsoft's own (Teams,
	// OneDrive) are seen working, custom registrations reported refused
	// (SharePoint/sp-dev-docs#7743), the Office client id unknown. Empty
	// (the default): any client id.
	ExchangeClientIDs []string
	// TokenFault makes the OAuth token endpoint refuse every grant
	// (device code and refresh token) with an Entra ID error: one of the
	// codes of loginTokenFaults ("50076", "53003", "65001", "70043",
	// "7000218", …). "" (the default): normal behaviour.
	TokenFault string
	// ExchangeAbsent makes SP.OAuth.NativeClient/Authenticate answer 404,
	// as a server without the endpoint would [unc].
	ExchangeAbsent bool
}

func (c *LoginConfig) fill() {
	if c.TokenTTL <= 0 {
		c.TokenTTL = time.Hour
	}
	if c.STSTokenTTL <= 0 {
		c.STSTokenTTL = 24 * time.Hour
	}
	if c.RefreshTokenTTL <= 0 {
		c.RefreshTokenTTL = 90 * 24 * time.Hour
	}
	if c.DeviceCodeInterval <= 0 {
		c.DeviceCodeInterval = 1
	}
	if c.STSFault == "none" {
		c.STSFault = ""
	}
}

// LoginPaths are the sign-in endpoints relative to the server's base URL
// (printed by cmd/spemu after the library URL).
func LoginPaths(site, tenant string) []string {
	if tenant == "" {
		tenant = "organizations"
	}
	return []string{
		"/GetUserRealm.srf",
		"/extSTS.srf",
		"/_forms/default.aspx?wa=wsignin1.0",
		"/" + tenant + "/oauth2/v2.0/devicecode",
		"/" + tenant + "/oauth2/v2.0/token",
		site + "/_api/SP.OAuth.NativeClient/Authenticate",
	}
}

// loginService holds the state of the sign-in endpoints: STS tokens,
// device codes, access and refresh tokens. Session cookies themselves
// live in the core's session store (issueCookie).
type loginService struct {
	mu  sync.Mutex
	cfg LoginConfig

	user, password string
	cookieTTL      time.Duration
	site           string
	// issueCookie asks the core for a session cookie value of the given
	// name (FedAuth, rtFa, SPOIDCRL) for user, valid for ttl.
	issueCookie func(name, user string, ttl time.Duration) string
	now         func() time.Time

	sts     map[string]loginGrant // STS binary tokens
	devices map[string]*loginDeviceGrant
	access  map[string]loginGrant
	refresh map[string]loginGrant
	// legacyCookies are the FedAuth/rtFa values issued, refused while
	// LegacyAuthOff is set.
	legacyCookies map[string]bool
}

// loginGrant is one issued token.
type loginGrant struct {
	user     string
	audience string // host[:port] the token is for
	clientID string
	scope    string
	expires  time.Time
}

type loginDeviceGrant struct {
	userCode string
	clientID string
	scope    string
	polls    int
	approved bool
	denied   bool
	expires  time.Time
}

func newLoginService(cfg LoginConfig, user, password, site string, cookieTTL time.Duration,
	issue func(name, user string, ttl time.Duration) string) *loginService {
	cfg.fill()
	return &loginService{
		cfg: cfg, user: user, password: password, site: site, cookieTTL: cookieTTL, issueCookie: issue,
		now: time.Now, sts: map[string]loginGrant{}, devices: map[string]*loginDeviceGrant{},
		access: map[string]loginGrant{}, refresh: map[string]loginGrant{}, legacyCookies: map[string]bool{},
	}
}

// secret returns a random URL-safe value with a recognisable prefix.
func loginSecret(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// serve handles the sign-in endpoints; it returns false for any other
// request. These endpoints never require authentication.
func (l *loginService) serve(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	switch {
	case strings.EqualFold(p, "/GetUserRealm.srf"):
		l.serveUserRealm(w, r)
	case strings.EqualFold(p, "/extSTS.srf"):
		l.serveExtSTS(w, r)
	case strings.HasSuffix(strings.ToLower(p), "/_forms/default.aspx") && r.URL.Query().Get("wa") == "wsignin1.0" && r.Method == http.MethodPost:
		l.serveWSignIn(w, r)
	case strings.HasSuffix(p, "/oauth2/v2.0/devicecode") && strings.Count(p, "/") == 4:
		l.serveDeviceCode(w, r)
	case strings.HasSuffix(p, "/oauth2/v2.0/token") && strings.Count(p, "/") == 4:
		l.serveToken(w, r)
	case strings.EqualFold(p, "/_api/SP.OAuth.NativeClient/Authenticate") ||
		(l.site != "" && strings.EqualFold(p, l.site+"/_api/SP.OAuth.NativeClient/Authenticate")):
		l.serveNativeAuthenticate(w, r)
	default:
		return false
	}
	return true
}

// cookieAllowed reports whether a session cookie with this name and value
// may authenticate a request: with legacy auth off, FedAuth and rtFa
// never do.
func (l *loginService) cookieAllowed(name, value string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.cfg.LegacyAuthOff {
		return true
	}
	return name != "FedAuth" && name != "rtFa" && !l.legacyCookies[value]
}

// setConfig replaces the switches while serving (tests flip them).
func (l *loginService) setConfig(c LoginConfig) {
	c.fill()
	l.mu.Lock()
	l.cfg = c
	l.mu.Unlock()
}

func (l *loginService) config() LoginConfig {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

// approve marks device codes approved: the one with userCode, or all
// pending ones when userCode is "". It reports how many it approved.
func (l *loginService) approve(userCode string, deny bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, d := range l.devices {
		if d.approved || d.denied || (userCode != "" && d.userCode != userCode) {
			continue
		}
		if deny {
			d.denied = true
		} else {
			d.approved = true
		}
		n++
	}
	return n
}

// expireTokens makes every STS and access token (and, with refresh, every
// refresh token) invalid at once.
func (l *loginService) expireTokens(refresh bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sts = map[string]loginGrant{}
	l.access = map[string]loginGrant{}
	if refresh {
		l.refresh = map[string]loginGrant{}
	}
}

// hostOf returns the request's host[:port], lower case: the audience.
func loginHost(r *http.Request) string { return strings.ToLower(r.Host) }
