package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

func newTestSAML(t *testing.T, f *fakeSPO, pw func(context.Context) (string, error)) (*SAML, *testenv.Buffer) {
	t.Helper()
	log, buf := newTestLogger()
	if pw == nil {
		pw = func(context.Context) (string, error) { return f.pw, nil }
	}
	a, err := NewSAML(SAMLConfig{SiteURL: f.srv.URL + "/sites/x/Shared%20Documents", Username: f.user, Password: pw,
		STSURL: f.srv.URL + "/extSTS.srf", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return a, buf
}

func TestSAMLLoginOncePerBurst(t *testing.T) {
	f := newFakeSPO(t)
	a, logs := newTestSAML(t, f, nil)
	ctx := context.Background()
	lib := f.srv.URL + "/sites/x/Shared%20Documents/"
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := doWithRefresh(ctx, t, a, lib)
			if err == nil && st != 207 {
				err = fmt.Errorf("status %d", st)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count("sts"); n != 1 {
		t.Errorf("extSTS requests = %d, want 1", n)
	}
	if n := f.count("wsignin"); n != 1 {
		t.Errorf("wsignin1.0 requests = %d, want 1", n)
	}
	// The envelope carried the escaped password and parsed back exactly.
	if !strings.Contains(string(f.lastRST), "pa&lt;ss&amp;") {
		t.Errorf("password not XML-escaped in the RST")
	}
	// Expire every cookie: the next burst makes exactly one more login.
	f.expireAll()
	for i := 0; i < 5; i++ {
		if st, err := doWithRefresh(ctx, t, a, lib); err != nil || st != 207 {
			t.Fatalf("after expiry: %d %v", st, err)
		}
	}
	if n := f.count("sts"); n != 2 {
		t.Errorf("extSTS requests after one expiry = %d, want 2", n)
	}
	assertNoSecrets(t, f.allSecrets(), logs.String(), a.String())
}

func TestSAMLWrongPasswordOneRequestPerBurst(t *testing.T) {
	f := newFakeSPO(t)
	wrong := "Wrong-Passw0rd!"
	a, logs := newTestSAML(t, f, func(context.Context) (string, error) { return wrong, nil })
	ctx := context.Background()
	var errTexts []string
	for i := 0; i < 10; i++ {
		_, err := doWithRefresh(ctx, t, a, f.srv.URL+"/lib/")
		if err == nil {
			t.Fatal("wrong password accepted")
		}
		if !errors.Is(err, ErrPasswordRefused) || !strings.Contains(err.Error(), "AADSTS50126") {
			t.Fatalf("error %q: want ErrPasswordRefused with AADSTS50126", err)
		}
		errTexts = append(errTexts, err.Error())
		if err := a.Refresh(ctx); err == nil {
			t.Fatal("refresh after refusal succeeded")
		}
	}
	if n := f.count("sts"); n != 1 {
		t.Errorf("extSTS requests = %d, want exactly 1 for the burst", n)
	}
	// Correcting the password allows one new attempt at once.
	wrong = f.pw
	if st, err := doWithRefresh(ctx, t, a, f.srv.URL+"/lib/"); err != nil || st != 207 {
		t.Fatalf("after fixing the password: %d %v", st, err)
	}
	if n := f.count("sts"); n != 2 {
		t.Errorf("extSTS requests = %d, want 2", n)
	}
	assertNoSecrets(t, append(f.allSecrets(), "Wrong-Passw0rd!"), append(errTexts, logs.String())...)
}

func TestSAMLFaultsAndRetirement(t *testing.T) {
	cases := []struct {
		name      string
		setup     func(*fakeSPO)
		want      []string
		retired   bool
		wantSTS   int
		wantCalls int
	}{
		{"mfa", func(f *fakeSPO) { f.fault = "50076" }, []string{"AADSTS50076", "odfb login"}, false, 1, 3},
		{"notoken", func(f *fakeSPO) { f.fault = "notoken" }, []string{"without a security token", "0x8004882c", "1 May 2026"}, true, 1, 3},
		{"notoken in body", func(f *fakeSPO) { f.fault = "notoken-body" }, []string{"without a security token", "psf:reqstatus 0x8004882c", "psf:errorstatus 0x80045b00", "1 May 2026"}, true, 1, 3},
		{"nocookies", func(f *fakeSPO) { f.legacyOff = true }, []string{"set no FedAuth", "retired", "odfb login"}, true, 1, 3},
		{"cookie refused", func(f *fakeSPO) { f.refuseAll = true }, []string{"917656", "retired", "odfb login"}, true, 2, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSPO(t)
			tc.setup(f)
			a, logs := newTestSAML(t, f, nil)
			var last error
			for i := 0; i < tc.wantCalls; i++ {
				_, last = doWithRefresh(context.Background(), t, a, f.srv.URL+"/lib/")
				if last == nil {
					t.Fatal("no error")
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(last.Error(), w) {
					t.Errorf("error %q lacks %q", last, w)
				}
			}
			if errors.Is(last, ErrLegacyRetired) != tc.retired {
				t.Errorf("errors.Is(ErrLegacyRetired) = %v, want %v", !tc.retired, tc.retired)
			}
			if n := f.count("sts"); n != tc.wantSTS {
				t.Errorf("extSTS requests = %d, want %d", n, tc.wantSTS)
			}
			assertNoSecrets(t, f.allSecrets(), last.Error(), logs.String())
		})
	}
}

func TestSAMLRenewsBeforeExpiry(t *testing.T) {
	f := newFakeSPO(t)
	f.tokenTTL = time.Hour
	a, _ := newTestSAML(t, f, nil)
	now := time.Now()
	a.sess.now = func() time.Time { return now }
	ctx := context.Background()
	if st, err := doWithRefresh(ctx, t, a, f.srv.URL+"/lib/"); err != nil || st != 207 {
		t.Fatal(st, err)
	}
	now = now.Add(30 * time.Minute)
	doWithRefresh(ctx, t, a, f.srv.URL+"/lib/")
	if n := f.count("sts"); n != 1 {
		t.Fatalf("renewed at half-life: %d logins", n)
	}
	now = now.Add(26 * time.Minute) // 56 min: inside the last fifth
	if st, err := doWithRefresh(ctx, t, a, f.srv.URL+"/lib/"); err != nil || st != 207 {
		t.Fatal(st, err)
	}
	if n := f.count("sts"); n != 2 {
		t.Fatalf("extSTS = %d, want a renewal before expiry (2)", n)
	}
	if n := f.count("dav"); n != 3 {
		t.Errorf("DAV requests = %d, want 3 (no refused request)", n)
	}
}

func TestPasswordFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	if err := os.WriteFile(p, []byte("s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PasswordFile(p)(context.Background()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("0644 password file accepted: %v", err)
	}
	os.Chmod(p, 0o600)
	pw, err := PasswordFile(p)(context.Background())
	if err != nil || pw != "s3cret" {
		t.Fatalf("got %q %v", pw, err)
	}
}

func TestParseRSTRNamespaces(t *testing.T) {
	// Prefixes differ from ours and the token element declares its own
	// namespace, as newer responses do.
	x := `<?xml version="1.0"?><X:Envelope xmlns:X="` + nsSOAP12 + `" xmlns:q="` + nsWST + `" xmlns:z="` + nsWSU + `"><X:Body><q:RequestSecurityTokenResponse><q:Lifetime><z:Created>2024-04-04T03:42:08Z</z:Created><z:Expires>2024-04-05T03:42:08Z</z:Expires></q:Lifetime><q:RequestedSecurityToken><B:BinarySecurityToken xmlns:B="` + nsWSSE + `" Id="Compact0">t=AAA&amp;p=</B:BinarySecurityToken></q:RequestedSecurityToken></q:RequestSecurityTokenResponse></X:Body></X:Envelope>`
	r, err := parseRSTR([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	if r.token != "t=AAA&p=" || r.expires.Sub(r.created) != 24*time.Hour {
		t.Fatalf("got %+v", r)
	}
	// An element with the right local name in the wrong namespace is ignored.
	bad := strings.ReplaceAll(x, `xmlns:B="`+nsWSSE+`"`, `xmlns:B="urn:other"`)
	r, err = parseRSTR([]byte(bad))
	if err != nil || r.token != "" {
		t.Fatalf("token read from the wrong namespace: %+v %v", r, err)
	}
	if _, err := parseRSTR([]byte("<html>nope</html>")); err == nil {
		t.Fatal("HTML accepted as an STS answer")
	}
}

func FuzzParseRSTR(f *testing.F) {
	f.Add([]byte(`<S:Envelope xmlns:S="` + nsSOAP12 + `"><S:Body><S:Fault/></S:Body></S:Envelope>`))
	f.Add([]byte("<a/>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRSTR(b)
		if err == nil && r == nil {
			t.Fatal("nil result without error")
		}
	})
}

func TestSAMLFederatedAccountRefusedBeforeSTS(t *testing.T) {
	f := newFakeSPO(t)
	f.federated = true
	a, _ := newTestSAML(t, f, nil)
	for i := 0; i < 3; i++ {
		_, err := doWithRefresh(context.Background(), t, a, f.srv.URL+"/lib/")
		if err == nil || !strings.Contains(err.Error(), "federated") || !strings.Contains(err.Error(), "adfs.contoso.com") {
			t.Fatalf("got %v", err)
		}
	}
	if f.count("sts") != 0 || f.count("realm") != 1 {
		t.Errorf("sts=%d realm=%d, want 0 and 1", f.count("sts"), f.count("realm"))
	}
}

// spemuSTSPOSTs counts the sign-in requests spemu saw at extSTS.srf.
func spemuSTSPOSTs(srv *spemu.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "POST" && strings.EqualFold(r.Path, "/extSTS.srf") {
			n++
		}
	}
	return n
}

// spemuPropfind is doWithRefresh with the Depth: 0 spemu insists on.
func spemuPropfind(ctx context.Context, a Authenticator, url string) (int, error) {
	send := func() (int, error) {
		req, _ := http.NewRequestWithContext(ctx, "PROPFIND", url, nil)
		req.Header.Set("Depth", "0")
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

// TestSAMLLockedAndConditionalAccess runs the SAML strategy against
// spemu's extSTS switched to AADSTS50053 (account locked) and AADSTS53003
// (Conditional Access). The error names the AADSTS code, the STS's own
// text, the psf code and what to do; a locked account counts as a refused
// password (no second attempt that could keep it locked); either way one
// burst makes one STS request.
func TestSAMLLockedAndConditionalAccess(t *testing.T) {
	const pw = "Locked-Or-CA-p4ss"
	for _, c := range []struct {
		fault, text, code, advice string
		refused                   bool // must be ErrPasswordRefused
	}{
		{"50053", "The account is locked", "code 0x80048821", "wait for it to unlock", true},
		// The STS tags 53003 wst:FailedAuthentication too, but the
		// password was right: it must not be reported as refused.
		{"53003", "Access has been blocked by Conditional Access policies", "code 0x80048823", "policy blocks this login: use `odfb login`", false},
	} {
		t.Run(c.fault, func(t *testing.T) {
			srv := spemutest.Start(t, spemu.Config{Auth: "cookie", Password: pw})
			srv.SetLogin(spemu.LoginConfig{STSFault: c.fault})
			log, logs := newTestLogger()
			a, err := NewSAML(SAMLConfig{SiteURL: srv.LibraryURL(), Username: spemu.DefaultUser,
				Password: func(context.Context) (string, error) { return pw, nil }, STSURL: srv.URL() + "/extSTS.srf", Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			var last error
			for i := 0; i < 3; i++ {
				if _, last = spemuPropfind(context.Background(), a, srv.LibraryURL()); last == nil {
					t.Fatal("sign-in succeeded")
				}
			}
			for _, want := range []string{"AADSTS" + c.fault, c.text, c.code, c.advice, spemu.DefaultUser} {
				if !strings.Contains(last.Error(), want) {
					t.Errorf("error %q lacks %q", last, want)
				}
			}
			if refused := errors.Is(last, ErrPasswordRefused); refused != c.refused {
				t.Errorf("error %q: ErrPasswordRefused = %v, want %v", last, refused, c.refused)
			}
			if errors.Is(last, ErrLegacyRetired) {
				t.Error("a refused account is reported as the retirement of legacy sign-in")
			}
			if n := spemuSTSPOSTs(srv); n != 1 {
				t.Errorf("extSTS requests = %d for 3 attempts, want 1", n)
			}
			assertNoSecrets(t, []string{pw}, last.Error(), logs.String())
		})
	}
}

// TestSAMLPasswordFromEnv: with PasswordEnv("ODFB_PASSWORD") the password
// comes from the environment at each login: set, the sign-in works; unset,
// the error names the variable and no request reaches the STS; changed,
// the next login uses the new value.
func TestSAMLPasswordFromEnv(t *testing.T) {
	const pw = "env-Passw0rd;with spaces "
	srv := spemutest.Start(t, spemu.Config{Auth: "cookie", Password: pw})
	ctx := context.Background()
	log, logs := newTestLogger()
	newA := func() *SAML {
		a, err := NewSAML(SAMLConfig{SiteURL: srv.LibraryURL(), Username: spemu.DefaultUser, Password: PasswordEnv("ODFB_PASSWORD"),
			STSURL: srv.URL() + "/extSTS.srf", Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	t.Setenv("ODFB_PASSWORD", "") // restored after the test
	os.Unsetenv("ODFB_PASSWORD")
	if _, err := spemuPropfind(ctx, newA(), srv.LibraryURL()); err == nil || !strings.Contains(err.Error(), "ODFB_PASSWORD is not set") {
		t.Fatalf("unset ODFB_PASSWORD: %v", err)
	}
	if n := spemuSTSPOSTs(srv); n != 0 {
		t.Errorf("extSTS requests without a password = %d, want 0", n)
	}
	t.Setenv("ODFB_PASSWORD", pw)
	a := newA()
	if st, err := spemuPropfind(ctx, a, srv.LibraryURL()); err != nil || st != 207 {
		t.Fatalf("with ODFB_PASSWORD: %d %v", st, err)
	}
	if n := spemuSTSPOSTs(srv); n != 1 {
		t.Errorf("extSTS requests = %d, want 1", n)
	}
	// The variable is read again at the next login: a wrong value now is
	// refused with 50126.
	t.Setenv("ODFB_PASSWORD", "not-"+pw)
	srv.ExpireSessions()
	_, err := spemuPropfind(ctx, a, srv.LibraryURL())
	if !errors.Is(err, ErrPasswordRefused) || !strings.Contains(err.Error(), "AADSTS50126") {
		t.Fatalf("changed ODFB_PASSWORD: %v", err)
	}
	assertNoSecrets(t, []string{pw, "not-" + pw}, err.Error(), logs.String(), a.String())
}
