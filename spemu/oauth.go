package spemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// A small OAuth 2.0 authority (sharepoint-protocol.md §2.2) and the
// SharePoint side of modern auth: the bearer → SPOIDCRL exchange (§2.5),
// the empty-Bearer 401 challenge (§2.1) and, when switched on, bearer
// tokens on WebDAV (§2.4).

const loginSPOAppID = "00000003-0000-0ff1-ce00-000000000000"

func loginJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func loginOAuthError(w http.ResponseWriter, status int, code, aadsts, text string) {
	n := 0
	fmt.Sscanf(strings.TrimPrefix(aadsts, "AADSTS"), "%d", &n)
	loginJSON(w, status, map[string]any{
		"error":             code,
		"error_description": aadsts + ": " + text + "\r\nTrace ID: " + loginSecret("", 8) + "\r\nTimestamp: " + time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"error_codes":       []int{n},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
	})
}

// tenantOK checks the tenant path segment of /<tenant>/oauth2/v2.0/….
func (l *loginService) tenantOK(w http.ResponseWriter, r *http.Request) bool {
	seg := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
	cfg := l.config()
	if cfg.Tenant != "" && !strings.EqualFold(seg, cfg.Tenant) && seg != "organizations" && seg != "common" {
		loginOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002", fmt.Sprintf("Tenant '%s' not found.", seg))
		return false
	}
	return true
}

func (l *loginService) clientOK(w http.ResponseWriter, id string) bool {
	cfg := l.config()
	if id == "" {
		loginOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144", "The request body must contain the following parameter: 'client_id'.")
		return false
	}
	if len(cfg.ClientIDs) == 0 {
		return true
	}
	for _, c := range cfg.ClientIDs {
		if strings.EqualFold(c, id) {
			return true
		}
	}
	loginOAuthError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016", fmt.Sprintf("Application with identifier '%s' was not found in the directory.", id))
	return false
}

// scopeAudience checks a scope string (https://host/.default or
// https://host/AllSites.Write, plus offline_access…) and returns the
// resource host it names.
func loginScopeAudience(scope string) (string, bool) {
	aud := ""
	for _, s := range strings.Fields(scope) {
		switch s {
		case "offline_access", "openid", "profile", "email":
			continue
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", false
		}
		h := strings.ToLower(u.Host)
		if aud != "" && aud != h {
			return "", false // one resource per token
		}
		aud = h
	}
	return aud, aud != ""
}

// oauthPost checks what every OAuth endpoint checks first: POST, a known
// tenant, a known client id (from the parsed form, left in r.PostForm).
// On false it has written the error.
func (l *loginService) oauthPost(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		loginOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "AADSTS900561", "The endpoint only accepts POST requests.")
		return false
	}
	if !l.tenantOK(w, r) {
		return false
	}
	_ = r.ParseForm()
	return l.clientOK(w, r.PostForm.Get("client_id"))
}

// serveDeviceCode starts a device code grant.
func (l *loginService) serveDeviceCode(w http.ResponseWriter, r *http.Request) {
	if !l.oauthPost(w, r) {
		return
	}
	scope := r.PostForm.Get("scope")
	if _, ok := loginScopeAudience(scope); !ok {
		loginOAuthError(w, http.StatusBadRequest, "invalid_scope", "AADSTS70011", "The provided value for the input parameter 'scope' is not valid.")
		return
	}
	cfg := l.config()
	dc := loginSecret("DAQABAAEAAA", 32)
	uc := loginUserCode()
	l.mu.Lock()
	l.devices[dc] = &loginDeviceGrant{userCode: uc, clientID: r.PostForm.Get("client_id"), scope: scope, expires: l.now().Add(15 * time.Minute)}
	l.mu.Unlock()
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	verify := base + "/devicelogin"
	loginJSON(w, http.StatusOK, map[string]any{
		"user_code": uc, "device_code": dc, "verification_uri": verify, "expires_in": 900,
		"interval": cfg.DeviceCodeInterval,
		"message":  fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, uc),
	})
}

// loginTokenFaults are the Entra ID refusals the token endpoint can be
// switched to (LoginConfig.TokenFault): the OAuth error code and the
// AADSTS text as Entra ID words them.
var loginTokenFaults = map[string]struct{ code, text string }{
	"50076":   {"invalid_grant", "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0ff1-ce00-000000000000'."},
	"50079":   {"invalid_grant", "Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '00000003-0000-0ff1-ce00-000000000000'."},
	"53000":   {"invalid_grant", "Device is not in required device state: compliant. Conditional Access policy requires a compliant device, and the device is not compliant."},
	"53001":   {"invalid_grant", "Device is not in required device state: domain_joined. Conditional Access policy requires a domain joined device, and the device is not domain joined."},
	"53003":   {"invalid_grant", "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."},
	"65001":   {"invalid_grant", "The user or administrator has not consented to use the application with ID '{client}'. Send an interactive authorization request for this user and resource."},
	"70043":   {"invalid_grant", "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access."},
	"700082":  {"invalid_grant", "The refresh token has expired due to inactivity."},
	"50173":   {"invalid_grant", "The provided grant has expired due to it being revoked, a fresh auth token is needed."},
	"50105":   {"invalid_grant", "Your administrator has configured the application ('{client}') to block users unless they are specifically granted ('assigned') access to the application."},
	"700016":  {"unauthorized_client", "Application with identifier '{client}' was not found in the directory."},
	"50126":   {"invalid_grant", "Error validating credentials due to invalid username or password."},
	"7000218": {"invalid_client", "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."},
}

// KnownTokenFault reports whether code is one LoginConfig.TokenFault takes.
func KnownTokenFault(code string) bool {
	_, ok := loginTokenFaults[code]
	return ok
}

// serveToken handles the device_code and refresh_token grants.
func (l *loginService) serveToken(w http.ResponseWriter, r *http.Request) {
	if !l.oauthPost(w, r) {
		return
	}
	f := r.PostForm
	cfg := l.config()
	if tf, ok := loginTokenFaults[cfg.TokenFault]; ok {
		status := http.StatusBadRequest
		if tf.code == "invalid_client" {
			status = http.StatusUnauthorized
		}
		loginOAuthError(w, status, tf.code, "AADSTS"+cfg.TokenFault, strings.ReplaceAll(tf.text, "{client}", f.Get("client_id")))
		return
	}
	now := l.now()
	var user, scope, clientID string
	switch f.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code":
		l.mu.Lock()
		d, ok := l.devices[f.Get("device_code")]
		if ok {
			d.polls++
			if !d.approved && !d.denied && cfg.OAuthAutoApprove > 0 && d.polls >= cfg.OAuthAutoApprove {
				d.approved = true
			}
		}
		l.mu.Unlock()
		switch {
		case !ok:
			loginOAuthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS70000", "The provided value for the 'device_code' is not valid.")
			return
		case now.After(d.expires):
			loginOAuthError(w, http.StatusBadRequest, "expired_token", "AADSTS70020", "The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
			return
		case d.denied:
			loginOAuthError(w, http.StatusBadRequest, "authorization_declined", "AADSTS70015", "The user has declined the authorization request.")
			return
		case !d.approved:
			loginOAuthError(w, http.StatusBadRequest, "authorization_pending", "AADSTS70016", "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
			return
		case d.clientID != f.Get("client_id"):
			loginOAuthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS70000", "The device code was issued to another client.")
			return
		}
		l.mu.Lock()
		delete(l.devices, f.Get("device_code"))
		l.mu.Unlock()
		user, scope, clientID = l.user, d.scope, d.clientID
	case "refresh_token":
		rt := f.Get("refresh_token")
		l.mu.Lock()
		g, ok := l.refresh[rt]
		if ok {
			delete(l.refresh, rt) // rotating: each refresh token is good once
		}
		l.mu.Unlock()
		if !ok {
			loginOAuthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS9002313", "Invalid request. Request is malformed or invalid.")
			return
		}
		if now.After(g.expires) {
			loginOAuthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS700082", "The refresh token has expired due to inactivity.")
			return
		}
		if g.clientID != f.Get("client_id") {
			loginOAuthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS70000", "The refresh token was issued to a different client id.")
			return
		}
		scope = g.scope
		if s := f.Get("scope"); s != "" {
			a1, _ := loginScopeAudience(s)
			a0, _ := loginScopeAudience(g.scope)
			if a1 != a0 {
				loginOAuthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS65001", "The refresh token was issued for another resource.")
				return
			}
			scope = s
		}
		user, clientID = g.user, g.clientID
	default:
		loginOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003", "The app requested an unsupported grant type '"+f.Get("grant_type")+"'.")
		return
	}
	aud, _ := loginScopeAudience(scope)
	at := "eyJ0eXAiOiJKV1QifQ." + loginSecret("", 40) + "." + loginSecret("", 16)
	rt := loginSecret("0.AAAA", 48)
	l.mu.Lock()
	l.access[at] = loginGrant{user: user, audience: aud, clientID: clientID, scope: scope, expires: now.Add(cfg.TokenTTL)}
	offline := strings.Contains(" "+scope+" ", " offline_access ")
	if offline {
		l.refresh[rt] = loginGrant{user: user, audience: aud, clientID: clientID, scope: scope, expires: now.Add(cfg.RefreshTokenTTL)}
	}
	l.mu.Unlock()
	resp := map[string]any{
		"token_type": "Bearer", "scope": scope, "expires_in": int(cfg.TokenTTL / time.Second),
		"ext_expires_in": int(cfg.TokenTTL / time.Second), "access_token": at,
	}
	if offline {
		resp["refresh_token"] = rt
	}
	resp["id_token"] = loginIDToken(user, clientID, now)
	loginJSON(w, http.StatusOK, resp)
}

// bearerUser validates "Bearer <token>" for this host. It returns the
// user, or "" when the token is unknown, expired or for another host.
func (l *loginService) bearerUser(r *http.Request, authz string) string {
	tok := strings.TrimSpace(authz[len("Bearer"):])
	if tok == "" {
		return ""
	}
	l.mu.Lock()
	g, ok := l.access[tok]
	l.mu.Unlock()
	if !ok || !l.now().Before(g.expires) || g.audience != loginHost(r) {
		return ""
	}
	return g.user
}

// writeBearerChallenge writes the 401 of §2.1 (with the cookie_uri hint
// of §2.5), with an error body for a token that was sent but refused.
func (l *loginService) writeBearerChallenge(w http.ResponseWriter, r *http.Request, refused bool) {
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s",client_id="%s",trusted_issuers="00000001-0000-0000-c000-000000000000@*,https://sts.windows.net/*/",authorization_uri="%s/common/oauth2/authorize",cookie_uri="%s%s/_api/SP.OAuth.NativeClient/Authenticate"`,
		loginTenantGUID, loginSPOAppID, base, base, l.site))
	if refused {
		w.Header().Set("x-ms-diagnostics", `3000003;reason="Invalid audience Uri or expired token.";category="invalid_client"`)
		loginJSON(w, http.StatusUnauthorized, map[string]any{"error_description": "Invalid issuer or signature."})
		return
	}
	w.WriteHeader(http.StatusUnauthorized)
}

// loginTenantGUID is the emulated tenant's id (the realm of the challenge).
const loginTenantGUID = "7a3e5c1d-0b6f-4e2a-9d8c-5f4b3a2e1d0c"

// serveNativeAuthenticate turns a valid bearer token for this host into
// an SPOIDCRL session cookie.
func (l *loginService) serveNativeAuthenticate(w http.ResponseWriter, r *http.Request) {
	cfg := l.config()
	if cfg.ExchangeAbsent {
		http.Error(w, "404 NOT FOUND", http.StatusNotFound)
		return
	}
	authz := r.Header.Get("Authorization")
	if !strings.HasPrefix(authz, "Bearer") {
		l.writeBearerChallenge(w, r, false)
		return
	}
	user := l.bearerUser(r, authz)
	if user == "" {
		l.writeBearerChallenge(w, r, strings.TrimSpace(authz[len("Bearer"):]) != "")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if len(cfg.ExchangeClientIDs) > 0 && !l.exchangeAllowed(authz, cfg.ExchangeClientIDs) {
		// The token is good; this client may not turn it into a cookie.
		// The body's exact words are [unc]; SharePoint's access-denied
		// error is the likeliest.
		loginJSON(w, http.StatusForbidden, map[string]any{"error": map[string]any{
			"code":    "-2147024891, System.UnauthorizedAccessException",
			"message": map[string]string{"lang": "en-US", "value": "Access denied. You do not have permission to perform this action or access this resource."},
		}})
		return
	}
	v := l.issueCookie("SPOIDCRL", user, l.cookieTTL)
	secure := ""
	if r.TLS != nil {
		secure = " secure;"
	}
	w.Header().Add("Set-Cookie", fmt.Sprintf("SPOIDCRL=%s; path=/;%s HttpOnly", v, secure))
	loginJSON(w, http.StatusOK, map[string]any{})
}

// exchangeAllowed reports whether the client id the token was issued to
// is in ids.
func (l *loginService) exchangeAllowed(authz string, ids []string) bool {
	tok := strings.TrimSpace(authz[len("Bearer"):])
	l.mu.Lock()
	g := l.access[tok]
	l.mu.Unlock()
	for _, id := range ids {
		if strings.EqualFold(id, g.clientID) {
			return true
		}
	}
	return false
}

// authorizeBearer is the hook for requests to the library that carry an
// Authorization: Bearer header. It returns (user, true) when the request
// may proceed; otherwise it has written the 401 challenge.
func (l *loginService) authorizeBearer(w http.ResponseWriter, r *http.Request) (string, bool) {
	authz := r.Header.Get("Authorization")
	sent := strings.TrimSpace(authz[len("Bearer"):]) != ""
	if !sent || !l.config().BearerOnDAV {
		l.writeBearerChallenge(w, r, sent)
		return "", false
	}
	user := l.bearerUser(r, authz)
	if user == "" {
		l.writeBearerChallenge(w, r, true)
		return "", false
	}
	return user, true
}

// loginUserCode returns a 9-character code like the real service's.
func loginUserCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := []byte(loginSecret("", 9))
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:9])
}

// loginIDToken is an unsigned id token naming the user (clients read
// preferred_username for display; nobody may trust it).
func loginIDToken(user, clientID string, now time.Time) string {
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"none"}`))
	claims, _ := json.Marshal(map[string]any{"aud": clientID, "iss": "https://login.microsoftonline.com/" + loginTenantGUID + "/v2.0",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "preferred_username": user, "tid": loginTenantGUID})
	return hdr + "." + base64.RawURLEncoding.EncodeToString(claims) + "."
}
