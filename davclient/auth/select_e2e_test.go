package auth_test

// End-to-end tests of every login strategy: davclient against spemu, with
// credentials that expire several times during a run of operations. They
// count logins in spemu's request log (one per expiry, never a storm) and
// check that no secret spemu issued appears in logs, errors, the request
// log or a spawned command's argv.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
)

const e2ePassword = `Tr0ub4dor&3 "x" <y>`

// e2e is one spemu plus everything the secret check gathers.
type e2e struct {
	t      *testing.T
	srv    *spemu.Server
	reqlog *testenv.Buffer
	logs   *testenv.Buffer
	log    *slog.Logger
	rec    *secretRecorder
	errs   []string
	mu     sync.Mutex
	base   string // scheme://host:port of the emulator
	lib    string // the library URL
}

func startE2E(t *testing.T, lc spemu.LoginConfig, cookieTTL time.Duration) *e2e {
	t.Helper()
	e := &e2e{t: t, reqlog: &testenv.Buffer{}, logs: &testenv.Buffer{}, rec: &secretRecorder{rt: http.DefaultTransport}}
	e.log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := spemu.New(spemu.Config{Auth: "cookie", Password: e2ePassword, RequestLog: e.reqlog, Site: "/sites/team", Library: "Shared Documents", CookieTTL: cookieTTL})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetLogin(lc)
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e.srv = srv
	e.base = ts.URL
	e.lib = ts.URL + "/sites/team/Shared%20Documents"
	return e
}

// client returns a davclient with the strategy a, sending through the
// recorder so every Set-Cookie and token spemu hands out is known.
func (e *e2e) client(a auth.Authenticator) *davclient.Client {
	e.t.Helper()
	c, err := davclient.New(davclient.Options{URL: e.lib, Auth: a, Logger: e.log, MaxConcurrent: 4,
		Transport: e.rec, MaxRetries: 2, BackoffBase: time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *e2e) httpClient() *http.Client { return &http.Client{Transport: e.rec, Timeout: time.Minute} }

func (e *e2e) noteErr(err error) {
	if err != nil {
		e.mu.Lock()
		e.errs = append(e.errs, err.Error())
		e.mu.Unlock()
	}
}

// count returns how many logged requests match method and path suffix.
func (e *e2e) count(method, suffix string) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Method == method && strings.HasSuffix(strings.ToLower(r.Path), strings.ToLower(suffix)) {
			n++
		}
	}
	return n
}

// workload runs a burst of mixed operations concurrently and fails the
// test on any error.
func (e *e2e) workload(ctx context.Context, c *davclient.Client, round int) {
	e.t.Helper()
	rng := rand.New(rand.NewPCG(uint64(round), 7))
	dir := fmt.Sprintf("round-%d", round)
	if err := c.Mkdir(ctx, dir); err != nil {
		e.noteErr(err)
		e.t.Fatalf("round %d: mkdir: %v", round, err)
	}
	sizes := make([]int, 6)
	for i := range sizes {
		sizes[i] = 1000 + rng.IntN(5000)
	}
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			data := make([]byte, sizes[i])
			for j := range data {
				data[j] = byte(i + j)
			}
			p := fmt.Sprintf("%s/f%d.bin", dir, i)
			if _, err := c.Put(ctx, p, bytes.NewReader(data), int64(len(data)), remote.PutOptions{}); err != nil {
				e.noteErr(err)
				e.t.Errorf("round %d: put %s: %v", round, p, err)
				return
			}
			rc, _, err := c.Get(ctx, p, 0, -1)
			if err != nil {
				e.noteErr(err)
				e.t.Errorf("round %d: get %s: %v", round, p, err)
				return
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, data) {
				e.t.Errorf("round %d: %s: content differs", round, p)
			}
			if _, err := c.Stat(ctx, p); err != nil {
				e.noteErr(err)
				e.t.Errorf("round %d: stat %s: %v", round, p, err)
			}
		}(i)
	}
	wg.Wait()
	if _, kids, err := c.List(ctx, dir); err != nil || len(kids) != 6 {
		e.noteErr(err)
		e.t.Fatalf("round %d: list: %d entries, %v", round, len(kids), err)
	}
	// One chunked upload through the REST API, which must take the same
	// credentials as WebDAV.
	chunk := bytes.Repeat([]byte{byte(round)}, 64<<10)
	p := dir + "/chunked.bin"
	id := fmt.Sprintf("8d0a2b6e-0000-4000-8000-%012d", round)
	off, err := c.StartUpload(ctx, p, id, bytes.NewReader(chunk), int64(len(chunk)))
	if err == nil {
		_, err = c.FinishUpload(ctx, p, id, off, bytes.NewReader(chunk), int64(len(chunk)))
	}
	if err != nil {
		e.noteErr(err)
		e.t.Fatalf("round %d: chunked upload: %v", round, err)
	}
	if st, err := c.Stat(ctx, p); err != nil || st.Size != int64(2*len(chunk)) {
		e.noteErr(err)
		e.t.Fatalf("round %d: chunked upload stat: %+v %v", round, st, err)
	}
}

// assertNoSecrets checks the gathered texts for every secret seen.
func (e *e2e) assertNoSecrets(extra ...string) {
	e.t.Helper()
	secrets := append(e.rec.all(), e2ePassword)
	e.mu.Lock()
	texts := append([]string{e.logs.String(), e.reqlog.String()}, e.errs...)
	e.mu.Unlock()
	texts = append(texts, extra...)
	for _, s := range secrets {
		for i, txt := range texts {
			if strings.Contains(txt, s) {
				e.t.Errorf("secret %.6s… (%d chars) found in text %d", s, len(s), i)
			}
		}
	}
	if len(e.rec.all()) == 0 {
		e.t.Error("the recorder saw no secrets: the check would prove nothing")
	}
}

// secretRecorder is a RoundTripper that remembers every cookie value and
// token in responses (and in request bodies of the STS).
type secretRecorder struct {
	rt      http.RoundTripper
	mu      sync.Mutex
	secrets map[string]bool
}

var tokenJSON = regexp.MustCompile(`"(access_token|refresh_token|device_code)"\s*:\s*"([^"]+)"`)
var bstRE = regexp.MustCompile(`(t=[^<&]+)`)

func (s *secretRecorder) add(v string) {
	if len(v) < 8 {
		return
	}
	s.mu.Lock()
	if s.secrets == nil {
		s.secrets = map[string]bool{}
	}
	s.secrets[v] = true
	s.mu.Unlock()
}

func (s *secretRecorder) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.secrets {
		out = append(out, k)
	}
	return out
}

func (s *secretRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	for _, c := range resp.Cookies() {
		s.add(c.Value)
	}
	p := strings.ToLower(req.URL.Path)
	if strings.HasSuffix(p, "/token") || strings.HasSuffix(p, "/devicecode") || strings.HasSuffix(p, "extsts.srf") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range tokenJSON.FindAllStringSubmatch(string(b), -1) {
			s.add(m[2])
		}
		for _, m := range bstRE.FindAllStringSubmatch(string(b), -1) {
			s.add(m[1])
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, nil
}

func TestE2EOAuthExpiringCredentials(t *testing.T) {
	e := startE2E(t, spemu.LoginConfig{OAuthAutoApprove: 2}, 0)
	ctx := context.Background()
	creds := filepath.Join(t.TempDir(), "odfb", "credentials.json")
	cfg := auth.OAuthConfig{SiteURL: e.lib, Authority: e.base, ClientID: auth.DefaultClientID,
		Credentials: creds, HTTPClient: e.httpClient(), Logger: e.log}
	var shown auth.DeviceCode
	if _, err := auth.DeviceLogin(ctx, cfg, func(d auth.DeviceCode) { shown = d }); err != nil {
		t.Fatal(err)
	}
	if shown.UserCode == "" {
		t.Fatal("no user code shown")
	}
	a, err := auth.NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(a)
	base := e.count("POST", "/oauth2/v2.0/token")
	baseAuth := e.count("POST", "/_api/SP.OAuth.NativeClient/Authenticate")
	const expiries = 3
	for round := 0; round <= expiries; round++ {
		e.workload(ctx, c, round)
		if round < expiries {
			// Cookies and access tokens die at once: the next burst needs
			// a refresh grant and a cookie exchange, exactly one each.
			e.srv.ExpireSessions()
			e.srv.ExpireTokens(false)
		}
	}
	if got := e.count("POST", "/oauth2/v2.0/token") - base; got != expiries+1 {
		t.Errorf("token requests = %d, want %d (first use + one per expiry)", got, expiries+1)
	}
	if got := e.count("POST", "/_api/SP.OAuth.NativeClient/Authenticate") - baseAuth; got < expiries+1 || got > 2*(expiries+1) {
		t.Errorf("cookie exchanges = %d, want between %d and %d", got, expiries+1, 2*(expiries+1))
	}
	// The refresh token rolled at every refresh and the file kept up.
	raw, _ := os.ReadFile(creds)
	if !strings.Contains(string(raw), `"refresh_token"`) {
		t.Fatalf("credentials file: %s", raw)
	}
	// A dead grant: the error says to log in again; one token request.
	e.srv.ExpireSessions()
	e.srv.ExpireTokens(true)
	before := e.count("POST", "/oauth2/v2.0/token")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = c.Stat(ctx, "round-0")
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		e.noteErr(err)
		if err == nil || !errors.Is(err, remote.ErrAuth) || !strings.Contains(err.Error(), "odfb login") {
			t.Errorf("dead grant: %v (want an auth error naming odfb login)", err)
		}
	}
	if got := e.count("POST", "/oauth2/v2.0/token") - before; got != 1 {
		t.Errorf("token requests for a dead grant burst = %d, want 1", got)
	}
	e.assertNoSecrets(a.String())
}

func TestE2EOAuthTTLExpiry(t *testing.T) {
	// Lifetimes of 2 s: over about 7 s of work every credential expires
	// several times. No operation may fail, and the logins stay near one
	// per lifetime.
	e := startE2E(t, spemu.LoginConfig{OAuthAutoApprove: 1, TokenTTL: 2 * time.Second}, 2*time.Second)
	ctx := context.Background()
	creds := filepath.Join(t.TempDir(), "credentials.json")
	cfg := auth.OAuthConfig{SiteURL: e.lib, Authority: e.base, ClientID: "my-app",
		Credentials: creds, HTTPClient: e.httpClient(), Logger: e.log}
	if _, err := auth.DeviceLogin(ctx, cfg, func(auth.DeviceCode) {}); err != nil {
		t.Fatal(err)
	}
	a, err := auth.NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(a)
	start := time.Now()
	round := 0
	for time.Since(start) < 7*time.Second {
		e.workload(ctx, c, round)
		round++
	}
	elapsed := time.Since(start)
	tokens := e.count("POST", "/oauth2/v2.0/token") - 1 // minus the device-code poll
	limit := int(elapsed/(1500*time.Millisecond)) + 3
	if tokens < 2 || tokens > limit {
		t.Errorf("token requests = %d over %s, want between 2 and %d (one per lifetime)", tokens, elapsed.Round(time.Millisecond), limit)
	}
	e.assertNoSecrets()
}

func samlFor(t *testing.T, e *e2e, pw string) *auth.SAML {
	t.Helper()
	a, err := auth.NewSAML(auth.SAMLConfig{SiteURL: e.lib, Username: spemu.DefaultUser,
		Password: func(context.Context) (string, error) { return pw, nil }, STSURL: e.base + "/extSTS.srf",
		HTTPClient: e.httpClient(), Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestE2ESAMLExpiringCredentials(t *testing.T) {
	e := startE2E(t, spemu.LoginConfig{}, 0)
	ctx := context.Background()
	a := samlFor(t, e, e2ePassword)
	c := e.client(a)
	const expiries = 3
	for round := 0; round <= expiries; round++ {
		e.workload(ctx, c, round)
		if round < expiries {
			e.srv.ExpireSessions()
		}
	}
	if got := e.count("POST", "/extSTS.srf"); got != expiries+1 {
		t.Errorf("extSTS requests = %d, want %d (one per expiry)", got, expiries+1)
	}
	if got := e.count("POST", "/_forms/default.aspx"); got != expiries+1 {
		t.Errorf("wsignin1.0 requests = %d, want %d", got, expiries+1)
	}
	e.assertNoSecrets(a.String())
}

func TestE2ESAMLTokenLifetime(t *testing.T) {
	// The STS token lives 2 s: the client renews before it ends.
	e := startE2E(t, spemu.LoginConfig{STSTokenTTL: 2 * time.Second}, 0)
	ctx := context.Background()
	a := samlFor(t, e, e2ePassword)
	c := e.client(a)
	start := time.Now()
	round := 0
	for time.Since(start) < 6*time.Second {
		e.workload(ctx, c, round)
		round++
	}
	elapsed := time.Since(start)
	logins := e.count("POST", "/extSTS.srf")
	limit := int(elapsed/(1500*time.Millisecond)) + 3
	if logins < 2 || logins > limit {
		t.Errorf("extSTS requests = %d over %s, want between 2 and %d", logins, elapsed.Round(time.Millisecond), limit)
	}
	e.assertNoSecrets()
}

func TestE2ESAMLWrongPasswordOnePerBurst(t *testing.T) {
	e := startE2E(t, spemu.LoginConfig{}, 0)
	ctx := context.Background()
	wrong := "not-the-password-42"
	a := samlFor(t, e, wrong)
	c := e.client(a)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = c.Stat(ctx, "")
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		e.noteErr(err)
		if err == nil || !errors.Is(err, remote.ErrAuth) || !strings.Contains(err.Error(), "AADSTS50126") {
			t.Errorf("op %d: %v (want an auth error with AADSTS50126)", i, err)
		}
	}
	if got := e.count("POST", "/extSTS.srf"); got != 1 {
		t.Errorf("extSTS requests = %d, want exactly 1 for the burst", got)
	}
	e.assertNoSecrets(wrong)
	for _, s := range e.errs {
		if strings.Contains(s, wrong) {
			t.Errorf("wrong password in error %q", s)
		}
	}
}

func TestE2ELegacyOffAndOAuthSameRun(t *testing.T) {
	e := startE2E(t, spemu.LoginConfig{LegacyAuthOff: true, OAuthAutoApprove: 1}, 0)
	ctx := context.Background()
	c := e.client(samlFor(t, e, e2ePassword))
	_, err := c.Stat(ctx, "")
	e.noteErr(err)
	if err == nil || !errors.Is(err, auth.ErrLegacyRetired) && !strings.Contains(err.Error(), "1 May 2026") || !strings.Contains(err.Error(), "odfb login") {
		t.Fatalf("legacy off: %v (want the retirement message)", err)
	}
	// A FedAuth the server issued (e.g. from an old cookie file) is refused too.
	ck, err := e.srv.IssueSessionCookie()
	if err != nil {
		t.Fatal(err)
	}
	e.rec.add(strings.TrimPrefix(strings.SplitN(ck, ";", 2)[0], "FedAuth="))
	req, _ := http.NewRequest("PROPFIND", e.lib, nil)
	req.Header.Set("Cookie", ck)
	req.Header.Set("Depth", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("X-MSDAVEXT_Error"), "917656") {
		t.Errorf("FedAuth with legacy off: %d %q", resp.StatusCode, resp.Header.Get("X-MSDAVEXT_Error"))
	}
	// OAuth works on the same server.
	cfg := auth.OAuthConfig{SiteURL: e.lib, Authority: e.base, Credentials: filepath.Join(t.TempDir(), "c.json"),
		HTTPClient: e.httpClient(), Logger: e.log}
	if _, err := auth.DeviceLogin(ctx, cfg, func(auth.DeviceCode) {}); err != nil {
		t.Fatal(err)
	}
	a, err := auth.NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.workload(ctx, e.client(a), 0)
	e.assertNoSecrets()
}

// brokerToken performs a device-code flow by hand (as an outside token
// broker would) and returns the access and refresh tokens.
func brokerToken(t *testing.T, e *e2e, refresh string) (string, string) {
	t.Helper()
	hc := e.httpClient()
	tokURL := e.base + "/organizations/oauth2/v2.0/token"
	scope := e.base + "/.default offline_access"
	var form url.Values
	if refresh == "" {
		resp, err := hc.PostForm(e.base+"/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {"broker"}, "scope": {scope}})
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			DeviceCode string `json:"device_code"`
		}
		json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		form = url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {"broker"}, "device_code": {d.DeviceCode}}
	} else {
		form = url.Values{"grant_type": {"refresh_token"}, "client_id": {"broker"}, "refresh_token": {refresh}, "scope": {scope}}
	}
	resp, err := hc.PostForm(tokURL, form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("broker got no token (HTTP %d)", resp.StatusCode)
	}
	return tok.AccessToken, tok.RefreshToken
}

func TestE2EBearerCommand(t *testing.T) {
	for _, onDAV := range []bool{false, true} {
		t.Run(fmt.Sprintf("onDAV=%v", onDAV), func(t *testing.T) {
			e := startE2E(t, spemu.LoginConfig{OAuthAutoApprove: 1, BearerOnDAV: onDAV}, 0)
			ctx := context.Background()
			dir := t.TempDir()
			tokFile, runs := filepath.Join(dir, "token"), filepath.Join(dir, "runs")
			at, rt := brokerToken(t, e, "")
			os.WriteFile(tokFile, []byte(at), 0o600)
			cmd := fmt.Sprintf("echo run >> %s; cat %s", runs, tokFile)
			a, err := auth.NewBearerCommand(auth.BearerCommandConfig{Command: cmd, SiteURL: e.lib, OnDAV: onDAV,
				HTTPClient: e.httpClient(), Logger: e.log})
			if err != nil {
				t.Fatal(err)
			}
			c := e.client(a)
			const expiries = 3
			for round := 0; round <= expiries; round++ {
				e.workload(ctx, c, round)
				if round < expiries {
					e.srv.ExpireSessions()
					e.srv.ExpireTokens(false)
					at, rt = brokerToken(t, e, rt)
					os.WriteFile(tokFile, []byte(at), 0o600)
				}
			}
			b, _ := os.ReadFile(runs)
			if got := strings.Count(string(b), "run"); got != expiries+1 {
				t.Errorf("command runs = %d, want %d (one per expiry)", got, expiries+1)
			}
			wantExchanges := expiries + 1
			if onDAV {
				wantExchanges = 0
			}
			if got := e.count("POST", "/_api/SP.OAuth.NativeClient/Authenticate"); got != wantExchanges {
				t.Errorf("cookie exchanges = %d, want %d", got, wantExchanges)
			}
			// The argv of the spawned command is the command text only.
			e.assertNoSecrets(cmd)
		})
	}
}

func TestE2ECookiesForOtherTools(t *testing.T) {
	// What `odfb cookies` does: any strategy's Authorize gives a Cookie
	// header that another client (here plain net/http) can use.
	e := startE2E(t, spemu.LoginConfig{}, 0)
	a := samlFor(t, e, e2ePassword)
	req, _ := http.NewRequest("PROPFIND", e.lib, nil)
	if err := a.Authorize(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	ck := req.Header.Get("Cookie")
	if !strings.Contains(ck, "FedAuth=") || !strings.Contains(ck, "rtFa=") {
		t.Fatalf("cookie header %q", ck)
	}
	plain, _ := http.NewRequest("PROPFIND", e.lib, nil)
	plain.Header.Set("Depth", "0")
	plain.Header.Set("Cookie", ck)
	resp, err := http.DefaultClient.Do(plain)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 207 {
		t.Errorf("PROPFIND with the printed cookie: %d", resp.StatusCode)
	}
}

func TestE2ECookieFileAndCommand(t *testing.T) {
	for _, method := range []string{auth.MethodCookieFile, auth.MethodCookieCommand} {
		t.Run(method, func(t *testing.T) {
			e := startE2E(t, spemu.LoginConfig{}, 0)
			// These strategies log through the default logger: catch it too.
			old := slog.Default()
			slog.SetDefault(e.log)
			t.Cleanup(func() { slog.SetDefault(old) })
			ctx := context.Background()
			dir := t.TempDir()
			ckFile, runs := filepath.Join(dir, "cookie"), filepath.Join(dir, "runs")
			fresh := func() {
				ck, err := e.srv.IssueSessionCookie()
				if err != nil {
					t.Fatal(err)
				}
				for _, part := range strings.Split(ck, "; ") {
					e.rec.add(part[strings.IndexByte(part, '=')+1:])
				}
				if err := os.WriteFile(ckFile, []byte(ck+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			fresh()
			o := auth.Options{Method: method, SiteURL: e.lib, Logger: e.log}
			cmd := fmt.Sprintf("echo run >> %s; cat %s", runs, ckFile)
			if method == auth.MethodCookieFile {
				o.CookieFile = ckFile
			} else {
				o.CookieCommand = cmd
			}
			a, err := auth.Select(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			c := e.client(a)
			const expiries = 3
			for round := 0; round <= expiries; round++ {
				e.workload(ctx, c, round)
				if round < expiries {
					e.srv.ExpireSessions()
					fresh()
				}
			}
			if method == auth.MethodCookieCommand {
				b, _ := os.ReadFile(runs)
				if got := strings.Count(string(b), "run"); got != expiries+1 {
					t.Errorf("command runs = %d, want %d (one per expiry)", got, expiries+1)
				}
			}
			// The cookie file is re-read when it changes, so it may need no
			// refresh at all; the command runs only on refusals.
			if got := c.Refreshes(); got > expiries || (method == auth.MethodCookieCommand && got != expiries) {
				t.Errorf("refreshes = %d, want %d at most (one per expiry)", got, expiries)
			}
			e.assertNoSecrets(cmd)
		})
	}
}
