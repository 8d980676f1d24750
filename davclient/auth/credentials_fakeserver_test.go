package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/odfb/odfb/internal/testenv"
)

// fakeSPO is a small stand-in for the STS, the OAuth authority and a
// SharePoint host, enough to test the strategies without spemu. It counts
// requests per endpoint and records every issued secret so tests can
// check that none leaks.
type fakeSPO struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	user, pw   string
	fault      string // "" | "50126" | "50076" | "notoken" | "notoken-body"
	legacyOff  bool   // wsignin1.0 sets no cookies
	refuseAll  bool   // every cookie is refused on the library
	federated  bool   // GetUserRealm says Federated
	tokenTTL   time.Duration
	cookieTTL  time.Duration // Max-Age on issued cookies, 0 = session cookie
	pending    int           // device-code polls answered authorization_pending
	deadGrant  bool          // refresh grant answers invalid_grant
	counts     map[string]int
	cookies    map[string]bool
	access     map[string]bool
	refresh    map[string]bool
	secrets    []string
	lastRST    []byte
	seq        int
	deviceCode string
}

func newFakeSPO(t *testing.T) *fakeSPO {
	t.Helper()
	f := &fakeSPO{t: t, user: "alice@contoso.com", pw: `pa<ss&"w'rd>`, tokenTTL: time.Hour,
		counts: map[string]int{}, cookies: map[string]bool{}, access: map[string]bool{}, refresh: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSPO) count(k string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[k]
}

func (f *fakeSPO) issue(prefix string) string {
	f.seq++
	s := fmt.Sprintf("%s-%d-%x", prefix, f.seq, time.Now().UnixNano())
	f.secrets = append(f.secrets, s)
	return s
}

func (f *fakeSPO) allSecrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{f.pw}, f.secrets...)
}

// expireAll forgets every cookie and access token (not refresh tokens).
func (f *fakeSPO) expireAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cookies = map[string]bool{}
	f.access = map[string]bool{}
}

func (f *fakeSPO) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.URL.Path == "/GetUserRealm.srf":
		f.counts["realm"]++
		ns := "Managed"
		if f.federated {
			ns = "Federated"
		}
		json.NewEncoder(w).Encode(map[string]any{"NameSpaceType": ns, "AuthURL": "https://adfs.contoso.com/adfs/ls/"})
	case r.URL.Path == "/extSTS.srf":
		f.counts["sts"]++
		f.lastRST = body
		f.sts(w, body)
	case r.URL.Path == "/_forms/default.aspx" && r.URL.Query().Get("wa") == "wsignin1.0":
		f.counts["wsignin"]++
		if !strings.HasPrefix(string(body), "t=") || !f.cookies["sts:"+string(body)] {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if !f.legacyOff {
			fa, rt := f.issue("FedAuth"), f.issue("rtFa")
			f.cookies["FedAuth="+fa+"; rtFa="+rt] = true
			ma := ""
			if f.cookieTTL > 0 {
				ma = fmt.Sprintf("; Max-Age=%d", int(f.cookieTTL.Seconds()))
			}
			w.Header().Add("Set-Cookie", "FedAuth="+fa+"; path=/; secure; HttpOnly"+ma)
			w.Header().Add("Set-Cookie", "rtFa="+rt+"; domain=127.0.0.1; path=/; secure; HttpOnly"+ma)
		}
		w.Header().Set("Location", "/")
		w.WriteHeader(http.StatusFound)
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/devicecode"):
		f.counts["devicecode"]++
		f.deviceCode = f.issue("dc")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"device_code": f.deviceCode, "user_code": "ABCD-EFGH",
			"verification_uri": f.srv.URL + "/devicelogin", "expires_in": 60, "interval": 1})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		f.counts["token"]++
		f.token(w, r, body)
	case r.URL.Path == NativeClientAuthenticatePath:
		f.counts["authenticate"]++
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !f.access[tok] {
			w.Header().Set("WWW-Authenticate", `Bearer realm="x"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		c := f.issue("SPOIDCRL")
		f.cookies["SPOIDCRL="+c] = true
		ma := ""
		if f.cookieTTL > 0 {
			ma = fmt.Sprintf("; Max-Age=%d", int(f.cookieTTL.Seconds()))
		}
		w.Header().Add("Set-Cookie", "SPOIDCRL="+c+"; path=/; secure; HttpOnly"+ma)
		w.WriteHeader(http.StatusOK)
	default:
		f.counts["dav"]++
		ok := f.cookies[r.Header.Get("Cookie")] && !f.refuseAll
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			ok = f.access[strings.TrimPrefix(a, "Bearer ")]
		}
		if !ok {
			w.Header().Set("X-MSDAVEXT_Error", "917656; Access+denied.")
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(207)
	}
}

func (f *fakeSPO) sts(w http.ResponseWriter, body []byte) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		http.Error(w, "bad xml", 400)
		return
	}
	env := doc.Root()
	user := soapText(soapPath(env, [2]string{nsSOAP12, "Header"}, [2]string{nsWSSE, "Security"}, [2]string{nsWSSE, "UsernameToken"}, [2]string{nsWSSE, "Username"}))
	pw := soapText(soapPath(env, [2]string{nsSOAP12, "Header"}, [2]string{nsWSSE, "Security"}, [2]string{nsWSSE, "UsernameToken"}, [2]string{nsWSSE, "Password"}))
	applies := soapText(soapPath(env, [2]string{nsSOAP12, "Body"}, [2]string{nsWST, "RequestSecurityToken"}, [2]string{nsWSP, "AppliesTo"}, [2]string{nsWSA, "EndpointReference"}, [2]string{nsWSA, "Address"}))
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	code := f.fault
	if code == "" && (user != f.user || pw != f.pw) {
		code = "50126"
	}
	if !strings.HasPrefix(applies, f.srv.URL+"/") {
		code = "50126"
	}
	switch code {
	case "":
		tok := "t=" + f.issue("tok") + "&p="
		f.cookies["sts:"+tok] = true
		now := time.Now().UTC()
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><S:Envelope xmlns:S="%s" xmlns:wsse="%s" xmlns:wsu="%s" xmlns:wst="%s"><S:Body><wst:RequestSecurityTokenResponse><wst:Lifetime><wsu:Created>%s</wsu:Created><wsu:Expires>%s</wsu:Expires></wst:Lifetime><wst:RequestedSecurityToken><wsse:BinarySecurityToken Id="Compact0" xmlns:wsse="%s">%s</wsse:BinarySecurityToken></wst:RequestedSecurityToken></wst:RequestSecurityTokenResponse></S:Body></S:Envelope>`,
			nsSOAP12, nsWSSE, nsWSU, nsWST, now.Format(time.RFC3339), now.Add(f.tokenTTL).Format(time.RFC3339), nsWSSE, strings.ReplaceAll(tok, "&", "&amp;"))
	case "notoken-body":
		// psf:pp inside the body's RSTR, as the real STS has sent it.
		fmt.Fprintf(w, `<S:Envelope xmlns:S="%s" xmlns:wst="%s" xmlns:psf="%s"><S:Header/><S:Body><wst:RequestSecurityTokenResponse><wst:TokenType>urn:passport:compact</wst:TokenType><psf:pp><psf:reqstatus>0x8004882c</psf:reqstatus><psf:errorstatus>0x80045b00</psf:errorstatus></psf:pp></wst:RequestSecurityTokenResponse></S:Body></S:Envelope>`, nsSOAP12, nsWST, nsPSF)
	case "notoken":
		fmt.Fprintf(w, `<S:Envelope xmlns:S="%s" xmlns:wst="%s" xmlns:psf="%s"><S:Header><psf:pp><psf:reqstatus>0x8004882c</psf:reqstatus></psf:pp></S:Header><S:Body><wst:RequestSecurityTokenResponse/></S:Body></S:Envelope>`, nsSOAP12, nsWST, nsPSF)
	default:
		text := map[string]string{
			"50126": "AADSTS50126: Error validating credentials due to invalid username or password.",
			"50076": "AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.",
		}[code]
		fmt.Fprintf(w, `<S:Envelope xmlns:S="%s" xmlns:wst="%s" xmlns:psf="%s"><S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value><S:Subcode><S:Value>wst:FailedAuthentication</S:Value></S:Subcode></S:Code><S:Reason><S:Text xml:lang="en-US">Authentication Failure</S:Text></S:Reason><S:Detail><psf:error><psf:value>0x80048821</psf:value><psf:internalerror><psf:code>0x80048821</psf:code><psf:text>%s</psf:text></psf:internalerror></psf:error></S:Detail></S:Fault></S:Body></S:Envelope>`, nsSOAP12, nsWST, nsPSF, text)
	}
}

func (f *fakeSPO) token(w http.ResponseWriter, r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	fail := func(code, desc string) {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": desc})
	}
	if want := f.srv.URL + "/.default offline_access"; r.PostForm.Get("scope") != want {
		fail("invalid_scope", "AADSTS70011: bad scope "+r.PostForm.Get("scope"))
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code":
		if r.PostForm.Get("device_code") != f.deviceCode {
			fail("bad_verification_code", "AADSTS70019: bad code")
			return
		}
		if f.pending > 0 {
			f.pending--
			fail("authorization_pending", "AADSTS70016: pending")
			return
		}
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if f.deadGrant || !f.refresh[rt] {
			fail("invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: x")
			return
		}
		delete(f.refresh, rt) // rotating
	default:
		fail("unsupported_grant_type", "")
		return
	}
	at, rt := f.issue("at"), f.issue("rt")
	f.access[at] = true
	f.refresh[rt] = true
	json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "access_token": at, "refresh_token": rt,
		"expires_in": int(f.tokenTTL.Seconds()), "scope": r.PostForm.Get("scope")})
}

func newTestLogger() (*slog.Logger, *testenv.Buffer) {
	b := &testenv.Buffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// assertNoSecrets fails when any secret occurs in any of texts.
func assertNoSecrets(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for i, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("secret %.8s… appears in text %d: %q", s, i, txt)
			}
		}
	}
}

// do sends one request through a like davclient does: Authorize, and on
// an auth refusal one Refresh and one replay.
func doWithRefresh(ctx context.Context, t *testing.T, a Authenticator, url string) (int, error) {
	t.Helper()
	send := func() (int, error) {
		req, _ := http.NewRequestWithContext(ctx, "PROPFIND", url, nil)
		if err := a.Authorize(ctx, req); err != nil {
			return 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	st, err := send()
	if err != nil || (st != 401 && st != 403) {
		return st, err
	}
	if err := a.Refresh(ctx); err != nil {
		return st, err
	}
	return send()
}
