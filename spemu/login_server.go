package spemu

import (
	"net/http"
	"strings"
	"time"
)

// Wiring of the sign-in endpoints into the server: one public route for
// all of them, and an auth hook for Bearer requests and for the
// legacy-auth-off refusal of FedAuth cookies. The per-server state lives
// in Server.extState under loginKey, so it goes away with the server.

// loginKey names the sign-in state in Server.extState.
type loginKey struct{}

// loginSvc returns the server's sign-in state, creating it with the zero
// LoginConfig on first use.
func (s *Server) loginSvc() *loginService {
	return s.extState(loginKey{}, func() any {
		sessions := s.sessions
		return newLoginService(LoginConfig{}, s.cfg.User, s.cfg.Password, s.cfg.Site, s.cfg.CookieTTL,
			func(kind, user string, ttl time.Duration) string {
				v, err := sessions.Issue(kind, user, ttl)
				if err != nil {
					panic(err) // crypto/rand failed: nothing sensible to answer
				}
				return v
			})
	}).(*loginService)
}

// SetLogin sets the sign-in switches (LoginConfig); it may be called while
// serving, e.g. to turn legacy auth off in the middle of a test.
func (s *Server) SetLogin(c LoginConfig) { s.loginSvc().setConfig(c) }

// Login returns the sign-in switches in effect (defaults filled in).
func (s *Server) Login() LoginConfig { return s.loginSvc().config() }

// ApproveDeviceCode approves the pending device code with userCode (all
// pending codes when userCode is ""), as the person would in a browser.
// It returns how many codes it approved.
func (s *Server) ApproveDeviceCode(userCode string) int { return s.loginSvc().approve(userCode, false) }

// DenyDeviceCode declines pending device codes the same way.
func (s *Server) DenyDeviceCode(userCode string) int { return s.loginSvc().approve(userCode, true) }

// ExpireTokens makes every STS token and OAuth access token invalid now;
// with refreshTokens also every refresh token (the next refresh then gets
// invalid_grant, as after a password reset or 90 days of inactivity).
func (s *Server) ExpireTokens(refreshTokens bool) { s.loginSvc().expireTokens(refreshTokens) }

// loginRouteMatch reports whether p is one of the sign-in endpoints.
func loginRouteMatch(s *Server, p string) bool {
	lp := strings.ToLower(p)
	switch {
	case lp == "/getuserrealm.srf", lp == "/extsts.srf", lp == "/_forms/default.aspx":
		return true
	case strings.HasSuffix(lp, "/_api/sp.oauth.nativeclient/authenticate"):
		return lp == "/_api/sp.oauth.nativeclient/authenticate" || lp == strings.ToLower(s.cfg.Site)+"/_api/sp.oauth.nativeclient/authenticate"
	case strings.Count(p, "/") == 4 && (strings.HasSuffix(p, "/oauth2/v2.0/devicecode") || strings.HasSuffix(p, "/oauth2/v2.0/token")):
		return true
	}
	return false
}

func init() {
	registerRoute(Route{
		Name:   "login",
		Match:  loginRouteMatch,
		Public: true,
		Handler: func(s *Server, w http.ResponseWriter, r *http.Request) {
			if !s.loginSvc().serve(w, r) {
				// e.g. a browser's GET of the sign-in form.
				http.Error(w, "404 NOT FOUND", http.StatusNotFound)
			}
		},
	})
	registerAuthHook(loginAuthHook)
}

// loginAuthHook decides requests carrying Authorization: Bearer, and with
// legacy auth off refuses requests whose only session is FedAuth/rtFa.
func loginAuthHook(s *Server, w http.ResponseWriter, r *http.Request) (kind string, ok, decided bool) {
	if s.cfg.Auth != "cookie" {
		return "", false, false
	}
	l := s.loginSvc()
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer") {
		if _, ok := l.authorizeBearer(w, r); ok {
			return "bearer", true, true
		}
		return "denied", false, true
	}
	if !l.config().LegacyAuthOff {
		return "", false, false
	}
	for _, c := range r.CookiesNamed(CookieSPOIDCRL) {
		if _, ok := s.sessions.Validate(CookieSPOIDCRL, c.Value); ok {
			return "", false, false // the core accepts it
		}
	}
	s.denyCookie(w, r)
	return "denied", false, true
}
