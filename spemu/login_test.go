package spemu

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/davclient/auth"
)

// loginHarness serves a loginService with a minimal session store and a
// "library" that accepts its cookies, so the endpoints are tested without
// the rest of the emulator.
type loginHarness struct {
	l   *loginService
	srv *httptest.Server

	mu       sync.Mutex
	sessions map[string]time.Time
	hits     map[string]int
}

func newLoginHarness(t *testing.T, cfg LoginConfig, cookieTTL time.Duration) *loginHarness {
	t.Helper()
	h := &loginHarness{sessions: map[string]time.Time{}, hits: map[string]int{}}
	h.l = newLoginService(cfg, "alice@contoso.com", `p&ss<w"rd`, "/sites/team", cookieTTL,
		func(name, user string, ttl time.Duration) string {
			v := loginSecret(name+"-", 16)
			h.mu.Lock()
			h.sessions[name+"="+v] = time.Now().Add(ttl)
			h.mu.Unlock()
			return v
		})
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits[r.URL.Path]++
		h.mu.Unlock()
		if h.l.serve(w, r) {
			return
		}
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer") {
			if _, ok := h.l.authorizeBearer(w, r); ok {
				w.WriteHeader(207)
			}
			return
		}
		for _, c := range r.Cookies() {
			h.mu.Lock()
			exp, ok := h.sessions[c.Name+"="+c.Value]
			h.mu.Unlock()
			if ok && time.Now().Before(exp) && h.l.cookieAllowed(c.Name, c.Value) {
				w.WriteHeader(207)
				return
			}
		}
		w.Header().Set("X-MSDAVEXT_Error", "917656; Access+denied.")
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *loginHarness) hit(p string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[p]
}

func loginRoundTrip(ctx context.Context, t *testing.T, a auth.Authenticator, u string) int {
	t.Helper()
	send := func() int {
		req, _ := http.NewRequestWithContext(ctx, "PROPFIND", u, nil)
		req.Header.Set("Depth", "0")
		if err := a.Authorize(ctx, req); err != nil {
			t.Fatalf("authorize: %v", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	st := send()
	if st == 401 || st == 403 {
		if err := a.Refresh(ctx); err != nil {
			t.Fatalf("refresh: %v", err)
		}
		st = send()
	}
	return st
}

func TestLoginSAMLAgainstEmulator(t *testing.T) {
	h := newLoginHarness(t, LoginConfig{}, time.Hour)
	a, err := auth.NewSAML(auth.SAMLConfig{SiteURL: h.srv.URL + "/sites/team/Shared%20Documents", Username: "alice@contoso.com",
		Password: func(context.Context) (string, error) { return `p&ss<w"rd`, nil }, STSURL: h.srv.URL + "/extSTS.srf"})
	if err != nil {
		t.Fatal(err)
	}
	if st := loginRoundTrip(context.Background(), t, a, h.srv.URL+"/sites/team/Shared%20Documents/"); st != 207 {
		t.Fatalf("status %d", st)
	}
	if h.hit("/extSTS.srf") != 1 || h.hit("/_forms/default.aspx") != 1 {
		t.Errorf("extSTS=%d wsignin=%d", h.hit("/extSTS.srf"), h.hit("/_forms/default.aspx"))
	}
}

func TestLoginSTSFaultsAndRetirement(t *testing.T) {
	for _, code := range []string{"50126", "50053", "50076", "53003", "notoken"} {
		t.Run(code, func(t *testing.T) {
			h := newLoginHarness(t, LoginConfig{STSFault: code}, time.Hour)
			a, _ := auth.NewSAML(auth.SAMLConfig{SiteURL: h.srv.URL + "/lib", Username: "alice@contoso.com",
				Password: func(context.Context) (string, error) { return `p&ss<w"rd`, nil }, STSURL: h.srv.URL + "/extSTS.srf"})
			req, _ := http.NewRequest("PROPFIND", h.srv.URL+"/lib", nil)
			err := a.Authorize(context.Background(), req)
			if err == nil {
				t.Fatal("no error")
			}
			want := "AADSTS" + code
			if code == "notoken" {
				want = "without a security token"
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
			if strings.Contains(err.Error(), "p&ss") {
				t.Error("password in error")
			}
		})
	}
	h := newLoginHarness(t, LoginConfig{LegacyAuthOff: true}, time.Hour)
	a, _ := auth.NewSAML(auth.SAMLConfig{SiteURL: h.srv.URL + "/lib", Username: "alice@contoso.com",
		Password: func(context.Context) (string, error) { return `p&ss<w"rd`, nil }, STSURL: h.srv.URL + "/extSTS.srf"})
	req, _ := http.NewRequest("PROPFIND", h.srv.URL+"/lib", nil)
	if err := a.Authorize(context.Background(), req); err == nil || !strings.Contains(err.Error(), "1 May 2026") {
		t.Fatalf("legacy off: %v", err)
	}
	// A FedAuth issued before the switch is refused after it.
	h.l.setConfig(LoginConfig{})
	b, _ := auth.NewSAML(auth.SAMLConfig{SiteURL: h.srv.URL + "/lib", Username: "alice@contoso.com",
		Password: func(context.Context) (string, error) { return `p&ss<w"rd`, nil }, STSURL: h.srv.URL + "/extSTS.srf"})
	if st := loginRoundTrip(context.Background(), t, b, h.srv.URL+"/lib"); st != 207 {
		t.Fatalf("legacy on: %d", st)
	}
	h.l.setConfig(LoginConfig{LegacyAuthOff: true})
	req, _ = http.NewRequest("PROPFIND", h.srv.URL+"/lib", nil)
	b.Authorize(context.Background(), req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("X-MSDAVEXT_Error"), "917656") {
		t.Errorf("FedAuth with legacy off: %d %q", resp.StatusCode, resp.Header.Get("X-MSDAVEXT_Error"))
	}
}

func TestLoginWSignInCookies(t *testing.T) {
	h := newLoginHarness(t, LoginConfig{}, time.Hour)
	env := `<s:Envelope xmlns:s="` + nsS12 + `" xmlns:a="` + nsWSA5 + `"><s:Header><a:Action>` + rstIssu + `</a:Action><o:Security xmlns:o="` + nsWSSEc + `"><o:UsernameToken><o:Username>alice@contoso.com</o:Username><o:Password>p&amp;ss&lt;w"rd</o:Password></o:UsernameToken></o:Security></s:Header><s:Body><t:RequestSecurityToken xmlns:t="` + nsWST5 + `"><wsp:AppliesTo xmlns:wsp="` + nsWSP4 + `"><a:EndpointReference><a:Address>` + h.srv.URL + `/_forms/default.aspx?wa=wsignin1.0</a:Address></a:EndpointReference></wsp:AppliesTo></t:RequestSecurityToken></s:Body></s:Envelope>`
	resp, err := http.Post(h.srv.URL+"/extSTS.srf", "", strings.NewReader(env))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`Id="Compact0" xmlns:wsse=`)) || !bytes.Contains(body, []byte("<S:Envelope")) {
		t.Fatalf("RSTR %d %s", resp.StatusCode, body)
	}
	i := bytes.Index(body, []byte("t=EwD"))
	j := bytes.Index(body[i:], []byte("&amp;p="))
	tok := string(body[i:i+j]) + "&p="
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = c.Post(h.srv.URL+"/_forms/default.aspx?wa=wsignin1.0", "application/x-www-form-urlencoded", strings.NewReader(tok))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Values("Set-Cookie")
	if resp.StatusCode != 302 || len(sc) != 2 {
		t.Fatalf("wsignin: %d %q", resp.StatusCode, sc)
	}
	for _, s := range sc {
		if strings.HasPrefix(s, "FedAuth=") && strings.Contains(strings.ToLower(s), "domain=") {
			t.Errorf("FedAuth must be host-only: %q", s)
		}
	}
	// The same token on another host is refused (the audience is the host).
	u, _ := url.Parse(h.srv.URL)
	req, _ := http.NewRequest("POST", h.srv.URL+"/_forms/default.aspx?wa=wsignin1.0", strings.NewReader(tok))
	req.Host = "other.example:" + u.Port()
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("token used on another host: %d", resp.StatusCode)
	}
}

func TestLoginOAuthDeviceCodeRotationAndChallenge(t *testing.T) {
	h := newLoginHarness(t, LoginConfig{OAuthAutoApprove: 2, Tenant: "contoso.onmicrosoft.com"}, time.Hour)
	creds := filepath.Join(t.TempDir(), "credentials.json")
	cfg := auth.OAuthConfig{SiteURL: h.srv.URL + "/sites/team/Shared%20Documents", Authority: h.srv.URL,
		Tenant: "contoso.onmicrosoft.com", ClientID: "cid", Credentials: creds}
	if _, err := auth.DeviceLogin(context.Background(), cfg, func(auth.DeviceCode) {}); err != nil {
		t.Fatal(err)
	}
	tokPath := "/contoso.onmicrosoft.com/oauth2/v2.0/token"
	if n := h.hit(tokPath); n != 2 {
		t.Errorf("token polls = %d, want 2 (auto-approve on the 2nd)", n)
	}
	a, err := auth.NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st := loginRoundTrip(context.Background(), t, a, h.srv.URL+"/sites/team/Shared%20Documents/"); st != 207 {
		t.Fatalf("status %d", st)
	}
	// The refresh token rotated: the one stored at login is dead now.
	e, _ := auth.CredentialsStore{Path: creds}.Get(strings.TrimPrefix(h.srv.URL, "http://"), "cid")
	h.l.mu.Lock()
	_, live := h.l.refresh[e.RefreshToken]
	n := len(h.l.refresh)
	h.l.mu.Unlock()
	if !live || n != 1 {
		t.Errorf("stored refresh token live=%v, live tokens=%d (want the rotated one only)", live, n)
	}
	// Empty bearer: the §2.1 challenge.
	req, _ := http.NewRequest("GET", h.srv.URL+"/sites/team/_vti_bin/client.svc", nil)
	req.Header.Set("Authorization", "Bearer")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wa := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != 401 || !strings.Contains(wa, `client_id="00000003-0000-0ff1-ce00-000000000000"`) || !strings.Contains(wa, "realm=") {
		t.Errorf("challenge: %d %q", resp.StatusCode, wa)
	}
	// A dead grant says invalid_grant.
	h.l.expireTokens(true)
	resp, err = http.PostForm(h.srv.URL+tokPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {e.RefreshToken}, "client_id": {"cid"}})
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	if resp.StatusCode != 400 || j["error"] != "invalid_grant" {
		t.Errorf("dead grant: %d %v", resp.StatusCode, j)
	}
	// Another tenant is refused.
	resp, _ = http.PostForm(h.srv.URL+"/fabrikam.com/oauth2/v2.0/devicecode", url.Values{"client_id": {"cid"}, "scope": {h.srv.URL + "/.default"}})
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("foreign tenant: %d", resp.StatusCode)
	}
}

func TestLoginBearerOnDAV(t *testing.T) {
	h := newLoginHarness(t, LoginConfig{OAuthAutoApprove: 1, BearerOnDAV: true}, time.Hour)
	cfg := auth.OAuthConfig{SiteURL: h.srv.URL + "/lib", Authority: h.srv.URL, ClientID: "cid",
		Credentials: filepath.Join(t.TempDir(), "c.json"), OnDAV: true}
	if _, err := auth.DeviceLogin(context.Background(), cfg, func(auth.DeviceCode) {}); err != nil {
		t.Fatal(err)
	}
	a, _ := auth.NewOAuth(cfg)
	if st := loginRoundTrip(context.Background(), t, a, h.srv.URL+"/lib/"); st != 207 {
		t.Fatalf("bearer on DAV: %d", st)
	}
	h.l.setConfig(LoginConfig{BearerOnDAV: false})
	req, _ := http.NewRequest("PROPFIND", h.srv.URL+"/lib/", nil)
	a.Authorize(context.Background(), req)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("bearer with BearerOnDAV off: %d", resp.StatusCode)
	}
}

func TestLoginGetUserRealm(t *testing.T) {
	h := newLoginHarness(t, LoginConfig{}, time.Hour)
	resp, err := http.PostForm(h.srv.URL+"/GetUserRealm.srf", url.Values{"login": {"bob@contoso.com"}})
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	if j["NameSpaceType"] != "Managed" || j["CloudInstanceName"] != "microsoftonline.com" {
		t.Errorf("JSON realm: %v", j)
	}
	resp, err = http.Get(h.srv.URL + "/GetUserRealm.srf?login=eve@fabrikam.com&xml=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte(`<RealmInfo Success="true">`)) || !bytes.Contains(b, []byte("<NameSpaceType>Unknown</NameSpaceType>")) {
		t.Errorf("XML realm: %s", b)
	}
}

// TestLoginRoutesOnServer checks the wiring into the real server: the
// sign-in endpoints are public, Bearer requests get the §2.1 challenge,
// and the request log records no secret.
func TestLoginRoutesOnServer(t *testing.T) {
	var reqlog bytes.Buffer
	srv, err := New(Config{Auth: "cookie", Password: "pw-on-server", RequestLog: &reqlog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.SetLogin(LoginConfig{OAuthAutoApprove: 1})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	lib := ts.URL + DefaultSite + "/" + DefaultLibrary
	// Empty bearer on the library: 401 with the challenge naming the exchange endpoint.
	req, _ := http.NewRequest("PROPFIND", lib, nil)
	req.Header.Set("Authorization", "Bearer ")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wa := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != 401 || !strings.Contains(wa, `realm="`) || !strings.Contains(wa, "cookie_uri=") {
		t.Fatalf("empty bearer: %d %q", resp.StatusCode, wa)
	}
	// The whole OAuth chain through the real routes.
	cfg := auth.OAuthConfig{SiteURL: lib, Authority: ts.URL, Credentials: filepath.Join(t.TempDir(), "c.json")}
	if _, err := auth.DeviceLogin(context.Background(), cfg, func(auth.DeviceCode) {}); err != nil {
		t.Fatal(err)
	}
	a, err := auth.NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st := loginRoundTrip(context.Background(), t, a, lib); st != 207 {
		t.Fatalf("OAuth through the server: %d", st)
	}
	req, _ = http.NewRequest("PROPFIND", lib, nil)
	a.Authorize(context.Background(), req)
	ck := strings.TrimPrefix(req.Header.Get("Cookie"), "SPOIDCRL=")
	var kinds []string
	for _, r := range srv.Requests() {
		kinds = append(kinds, r.Path+":"+r.Auth)
	}
	joined := strings.Join(kinds, " ")
	if !strings.Contains(joined, "/oauth2/v2.0/token:none") || !strings.Contains(joined, "/_api/SP.OAuth.NativeClient/Authenticate:none") {
		t.Errorf("sign-in requests not logged as unauthenticated: %s", joined)
	}
	if len(ck) < 8 || strings.Contains(reqlog.String(), ck) || strings.Contains(reqlog.String(), "pw-on-server") {
		t.Errorf("secret in the request log (cookie %d chars)", len(ck))
	}
}

func TestLoginApproveAndDenyFromTest(t *testing.T) {
	srv, err := New(Config{Auth: "cookie"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	lib := ts.URL + DefaultSite + "/" + DefaultLibrary
	cfg := auth.OAuthConfig{SiteURL: lib, Authority: ts.URL, Credentials: filepath.Join(t.TempDir(), "c.json")}
	// Approved through the Go API, as the person would in the browser.
	_, err = auth.DeviceLogin(context.Background(), cfg, func(d auth.DeviceCode) {
		if n := srv.ApproveDeviceCode(d.UserCode); n != 1 {
			t.Errorf("ApproveDeviceCode(%s) = %d", d.UserCode, n)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = auth.DeviceLogin(context.Background(), cfg, func(d auth.DeviceCode) { srv.DenyDeviceCode("") })
	if err == nil || !strings.Contains(err.Error(), "declined") {
		t.Fatalf("denied code: %v", err)
	}
	// Without approval the code stays pending until the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if _, err := auth.DeviceLogin(ctx, cfg, func(auth.DeviceCode) {}); err == nil {
		t.Fatal("unapproved code signed in")
	}
	polls := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") && r.Status == 400 {
			polls++
		}
	}
	if polls < 2 {
		t.Errorf("pending polls answered 400 = %d, want at least 2", polls)
	}
}

// Both OAuth endpoints refuse, the same way, what comes before the grant
// itself: another method, an unknown tenant, a missing or unknown client id.
func TestLoginOAuthEndpointsCheckMethodTenantClient(t *testing.T) {
	h := newLoginHarness(t, LoginConfig{Tenant: "contoso.onmicrosoft.com", ClientIDs: []string{"cid"}}, time.Hour)
	for _, ep := range []string{"devicecode", "token"} {
		good := h.srv.URL + "/contoso.onmicrosoft.com/oauth2/v2.0/" + ep
		check := func(what string, resp *http.Response, err error, status int, aadsts string) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			var j map[string]any
			json.NewDecoder(resp.Body).Decode(&j)
			resp.Body.Close()
			desc, _ := j["error_description"].(string)
			if resp.StatusCode != status || !strings.HasPrefix(desc, aadsts) {
				t.Errorf("%s %s: %d %v, want %d %s", ep, what, resp.StatusCode, j, status, aadsts)
			}
		}
		resp, err := http.Get(good)
		check("GET", resp, err, 405, "AADSTS900561")
		resp, err = http.PostForm(h.srv.URL+"/fabrikam.com/oauth2/v2.0/"+ep, url.Values{"client_id": {"cid"}})
		check("foreign tenant", resp, err, 400, "AADSTS90002")
		resp, err = http.PostForm(good, url.Values{"scope": {h.srv.URL + "/.default"}})
		check("no client id", resp, err, 400, "AADSTS900144")
		resp, err = http.PostForm(good, url.Values{"client_id": {"other"}, "scope": {h.srv.URL + "/.default"}})
		check("unknown client id", resp, err, 400, "AADSTS700016")
	}
}

// stsEnvelope builds an RST for extSTS; an empty part is left out.
func stsEnvelope(envNS, action, user, password, appliesTo string) string {
	esc := func(s string) string {
		var b strings.Builder
		xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	var b strings.Builder
	b.WriteString(`<s:Envelope xmlns:s="` + envNS + `" xmlns:a="` + nsWSA5 + `"><s:Header>`)
	if action != "" {
		b.WriteString(`<a:Action>` + esc(action) + `</a:Action>`)
	}
	b.WriteString(`<o:Security xmlns:o="` + nsWSSEc + `"><o:UsernameToken><o:Username>` + esc(user) + `</o:Username>`)
	if password != "" {
		b.WriteString(`<o:Password>` + esc(password) + `</o:Password>`)
	}
	b.WriteString(`</o:UsernameToken></o:Security></s:Header><s:Body><t:RequestSecurityToken xmlns:t="` + nsWST5 + `">`)
	if appliesTo != "" {
		b.WriteString(`<wsp:AppliesTo xmlns:wsp="` + nsWSP4 + `"><a:EndpointReference><a:Address>` + esc(appliesTo) + `</a:Address></a:EndpointReference></wsp:AppliesTo>`)
	}
	b.WriteString(`</t:RequestSecurityToken></s:Body></s:Envelope>`)
	return b.String()
}

// TestLoginExtSTSRefusals: extSTS answers a malformed envelope, a wrong
// user or password and an AppliesTo on another host with the SOAP fault
// of §1.4 (HTTP 500, psf:text with the AADSTS code) and issues no token;
// the one good request among them gets a token.
func TestLoginExtSTSRefusals(t *testing.T) {
	h := newLoginHarness(t, LoginConfig{}, time.Hour)
	const pw = `p&ss<w"rd`
	site := h.srv.URL + "/_forms/default.aspx?wa=wsignin1.0"
	u, _ := url.Parse(h.srv.URL)
	other := "http://other.example:" + u.Port() + "/_forms/default.aspx?wa=wsignin1.0"
	for _, c := range []struct {
		name, body, want string
	}{
		{"not XML", "t=hello&p=", "AADSTS90014"},
		{"empty body", "", "AADSTS90014"},
		{"SOAP 1.1 envelope", stsEnvelope("http://schemas.xmlsoap.org/soap/envelope/", rstIssu, "alice@contoso.com", pw, site), "AADSTS90014"},
		{"no Action", stsEnvelope(nsS12, "", "alice@contoso.com", pw, site), "AADSTS90014"},
		{"other Action", stsEnvelope(nsS12, "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Renew", "alice@contoso.com", pw, site), "AADSTS90014"},
		{"no Password element", stsEnvelope(nsS12, rstIssu, "alice@contoso.com", "", site), "AADSTS90014"},
		{"no AppliesTo", stsEnvelope(nsS12, rstIssu, "alice@contoso.com", pw, ""), "AADSTS90014"},
		{"AppliesTo without a host", stsEnvelope(nsS12, rstIssu, "alice@contoso.com", pw, "urn:federation:MicrosoftOnline"), "AADSTS90014"},
		{"AppliesTo on another host", stsEnvelope(nsS12, rstIssu, "alice@contoso.com", pw, other), "AADSTS500011"},
		{"wrong user", stsEnvelope(nsS12, rstIssu, "bob@contoso.com", pw, site), "AADSTS50126"},
		{"user of another tenant", stsEnvelope(nsS12, rstIssu, "alice@fabrikam.com", pw, site), "AADSTS50126"},
		{"wrong password", stsEnvelope(nsS12, rstIssu, "alice@contoso.com", pw+"x", site), "AADSTS50126"},
		{"password with a space added", stsEnvelope(nsS12, rstIssu, "alice@contoso.com", " "+pw, site), "AADSTS50126"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.l.mu.Lock()
			before := len(h.l.sts)
			h.l.mu.Unlock()
			resp, err := http.Post(h.srv.URL+"/extSTS.srf", "application/soap+xml; charset=utf-8", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 500 || !bytes.Contains(body, []byte("<S:Fault>")) || !bytes.Contains(body, []byte("wst:FailedAuthentication")) ||
				!bytes.Contains(body, []byte("<psf:text>"+c.want)) {
				t.Errorf("HTTP %d, want 500 with a fault naming %s:\n%s", resp.StatusCode, c.want, body)
			}
			if bytes.Contains(body, []byte("BinarySecurityToken")) || bytes.Contains(body, []byte("p&amp;ss")) {
				t.Errorf("fault carries a token or the password:\n%s", body)
			}
			h.l.mu.Lock()
			n := len(h.l.sts) - before
			h.l.mu.Unlock()
			if n != 0 {
				t.Errorf("%d STS token(s) issued", n)
			}
		})
	}
	// The user name is matched without regard to case, as UPNs are.
	resp, err := http.Post(h.srv.URL+"/extSTS.srf", "", strings.NewReader(stsEnvelope(nsS12, rstIssu, "Alice@Contoso.COM", pw, site)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("t=EwD")) {
		t.Errorf("good request: HTTP %d\n%s", resp.StatusCode, body)
	}
	// GET is not a sign-in.
	resp, err = http.Get(h.srv.URL + "/extSTS.srf")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
