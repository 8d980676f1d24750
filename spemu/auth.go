package spemu

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Cookie kinds SharePoint issues. FedAuth (per site host) or SPOIDCRL
// authenticates a request; rtFa is the tenant-wide companion of FedAuth
// and alone is not enough (a real server would redirect to obtain FedAuth).
const (
	CookieFedAuth  = "FedAuth"
	CookieRtFa     = "rtFa"
	CookieSPOIDCRL = "SPOIDCRL"
)

// SessionStore holds the session cookies issued so far. Login endpoints
// call Issue; the DAV/REST auth check calls Validate. Sessions live in
// memory only: a restarted spemu knows none (like cookies that expired).
type SessionStore struct {
	mu       sync.Mutex
	ttl      time.Duration
	sessions map[string]session // value → session
}

type session struct {
	kind    string
	user    string
	expires time.Time
}

func newSessionStore(ttl time.Duration) *SessionStore {
	return &SessionStore{ttl: ttl, sessions: map[string]session{}}
}

// TTL is the default lifetime (Config.CookieTTL).
func (ss *SessionStore) TTL() time.Duration { return ss.ttl }

// Issue creates a new cookie value of the given kind for user, valid for
// ttl (ttl <= 0: the store's TTL). The value looks like SharePoint's:
// FedAuth is base64 of a BOM and an <SP> XML blob ("77u/PD94bWwg…").
func (ss *SessionStore) Issue(kind, user string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = ss.ttl
	}
	var rnd [32]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	now := time.Now()
	var value string
	switch kind {
	case CookieFedAuth:
		blob := fmt.Sprintf("\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?><SP>V14,0h.f|membership|10033fff84e7cb2b@live.com,0#.f|membership|%s,%d,%d,%d,127.0.0.1,3,%s,,%s</SP>",
			user, fileTime(now), fileTime(now.Add(ttl)), fileTime(now.Add(ttl/2)), strings.ToLower(newGUID()), hex.EncodeToString(rnd[:]))
		value = base64.StdEncoding.EncodeToString([]byte(blob))
	case CookieRtFa, CookieSPOIDCRL:
		value = base64.StdEncoding.EncodeToString(append(rnd[:], make([]byte, 8)...))
	default:
		return "", fmt.Errorf("spemu: unknown cookie kind %q", kind)
	}
	ss.mu.Lock()
	ss.sessions[value] = session{kind: kind, user: user, expires: now.Add(ttl)}
	ss.mu.Unlock()
	return value, nil
}

func fileTime(t time.Time) int64 { return t.UnixNano()/100 + 116444736000000000 }

// Validate reports the user of a live cookie value of the given kind.
func (ss *SessionStore) Validate(kind, value string) (string, bool) {
	if value == "" {
		return "", false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se, ok := ss.sessions[value]
	if !ok || se.kind != kind {
		return "", false
	}
	if !time.Now().Before(se.expires) {
		delete(ss.sessions, value)
		return "", false
	}
	return se.user, true
}

// ExpireAll makes every issued session stop working now.
func (ss *SessionStore) ExpireAll() {
	ss.mu.Lock()
	ss.sessions = map[string]session{}
	ss.mu.Unlock()
}

// ErrNoCookie is returned by IssueSessionCookie when the server does not
// use cookie authentication (there is no cookie to give).
var ErrNoCookie = errors.New("spemu: no session cookie in this auth mode")

// IssueSessionCookie issues a FedAuth + rtFa pair for Config.User, valid
// for CookieTTL, as a Cookie header value "FedAuth=…; rtFa=…".
func (s *Server) IssueSessionCookie() (string, error) {
	if s.cfg.Auth != "cookie" {
		return "", ErrNoCookie
	}
	fed, err := s.sessions.Issue(CookieFedAuth, s.cfg.User, 0)
	if err != nil {
		return "", err
	}
	rt, err := s.sessions.Issue(CookieRtFa, s.cfg.User, 0)
	if err != nil {
		return "", err
	}
	return CookieFedAuth + "=" + fed + "; " + CookieRtFa + "=" + rt, nil
}

// ExpireSessions makes every issued session stop working now.
func (s *Server) ExpireSessions() { s.sessions.ExpireAll() }

// An authHook inspects a request before the configured mode's check (the
// login engineer adds Bearer this way). It returns decided=false to pass
// the request on. When decided, ok says whether the request may proceed;
// when !ok the hook has already written the refusal. kind goes to the
// request log ("bearer").
type authHook func(s *Server, w http.ResponseWriter, r *http.Request) (kind string, ok, decided bool)

var authHooks []authHook

// registerAuthHook adds an authentication scheme; call it from init.
func registerAuthHook(h authHook) { authHooks = append(authHooks, h) }

// authenticate checks a request that needs a user. On refusal it writes
// the response SharePoint would and returns ok=false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (kind string, ok bool) {
	for _, h := range authHooks {
		if kind, ok, decided := h(s, w, r); decided {
			if !ok && kind == "" {
				kind = "denied"
			}
			return kind, ok
		}
	}
	switch s.cfg.Auth {
	case "none":
		return "none", true
	case "basic":
		user, pass, has := r.BasicAuth()
		if has && subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.User)) == 1 &&
			subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password)) == 1 {
			return "basic", true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="spemu"`)
		http.Error(w, "401 UNAUTHORIZED", http.StatusUnauthorized)
		return "denied", false
	}
	if s.validCookie(r) {
		return "cookie", true
	}
	s.denyCookie(w, r)
	return "denied", false
}

// validCookie reports whether r carries a live FedAuth or SPOIDCRL cookie.
func (s *Server) validCookie(r *http.Request) bool {
	for _, kind := range []string{CookieFedAuth, CookieSPOIDCRL} {
		for _, c := range r.CookiesNamed(kind) {
			if _, ok := s.sessions.Validate(kind, c.Value); ok {
				return true
			}
		}
	}
	return false
}

const accessDeniedText = "Access denied. Before opening files in this location, you must first browse to the web site and select the option to login automatically."

// denyCookie answers a request without a valid session the way SharePoint
// does: 403 with the forms-auth headers, or for a browser a 302 to login.
func (s *Server) denyCookie(w http.ResponseWriter, r *http.Request) {
	base := s.baseFor(r)
	h := w.Header()
	if strings.Contains(r.UserAgent(), "Mozilla/") {
		loc := base + "/_forms/default.aspx?ReturnUrl=" + url.QueryEscape(r.URL.Path) + "&Source=" + url.QueryEscape(base+r.URL.Path)
		h.Set("Location", loc)
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusFound)
		fmt.Fprintf(w, "<html><head><title>Object moved</title></head><body><h2>Object moved to <a href=\"%s\">here</a>.</h2></body></html>\r\n", html.EscapeString(loc))
		return
	}
	// Exact header spelling as SharePoint sends it (not Go's canonical form).
	h["X-Forms_Based_Auth_Required"] = []string{base + "/_forms/default.aspx?ReturnUrl=/_layouts/15/error.aspx&Source=" + url.QueryEscape(r.URL.Path)}
	h["X-Forms_Based_Auth_Return_Url"] = []string{base + "/_layouts/15/error.aspx"}
	h["X-MSDAVEXT_Error"] = []string{fmt.Sprintf("%d; %s", codeAccessDenied, url.QueryEscape(accessDeniedText))}
	h["X-IDCRL_AUTH_PARAMS_V1"] = []string{`IDCRL Type="BPOSIDCRL", EndPoint="/_vti_bin/idcrl.svc/", RootDomain="sharepoint.com", Policy="MBI"`}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	w.Write([]byte("403 FORBIDDEN"))
}
