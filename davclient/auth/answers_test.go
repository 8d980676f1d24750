package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

func TestThrottledRefusal(t *testing.T) {
	h := func(kv ...string) http.Header {
		x := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			x.Set(kv[i], kv[i+1])
		}
		return x
	}
	for _, c := range []struct {
		name   string
		status int
		hdr    http.Header
		body   string
		want   bool
	}{
		{"401 with the 429 text", 401, h(), "429 TOO MANY REQUESTS", true},
		{"401 lower case", 401, h(), "429 Too Many Requests\r\n", true},
		{"401 with Retry-After only", 401, h("Retry-After", "30"), "", true},
		{"401 json activityLimitReached", 401, h(), `{"error":{"code":"activityLimitReached","message":"throttled"}}`, true},
		{"plain 401", 401, h("WWW-Authenticate", "Bearer realm=x"), "", false},
		{"401 bearer refusal", 401, h("x-ms-diagnostics", `3000003;reason="Invalid audience Uri 'x'";category="invalid_client"`), `{"error_description":"Invalid issuer or signature."}`, false},
		{"403 forms auth", 403, h("X-MSDAVEXT_Error", "917656; Access+denied"), "403 FORBIDDEN", false},
		{"429 itself is not a refusal", 429, h("Retry-After", "1"), "429 TOO MANY REQUESTS", false},
	} {
		if got := ThrottledRefusal(c.status, c.hdr, []byte(c.body)); got != c.want {
			t.Errorf("%s: ThrottledRefusal = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRefusalReason(t *testing.T) {
	hdr := http.Header{}
	hdr.Set("x-ms-diagnostics", `3000003;reason="Invalid audience Uri 'https://contoso.sharepoint.com/'; token for another host";category="invalid_client"`)
	got := RefusalReason(hdr, []byte(`{"error_description":"Invalid issuer or signature."}`))
	for _, want := range []string{"3000003: Invalid audience Uri 'https://contoso.sharepoint.com/'; token for another host (invalid_client)", "error_description: Invalid issuer or signature."} {
		if !strings.Contains(got, want) {
			t.Errorf("reason %q lacks %q", got, want)
		}
	}
	if r := RefusalReason(http.Header{}, []byte("403 FORBIDDEN")); r != "" {
		t.Errorf("reason of a bare refusal = %q, want none", r)
	}
}

// TestSAMLThrottled401IsNotRetirement: SharePoint answers throttling
// with 401 "429 TOO MANY REQUESTS" right after a password login. The
// strategy's refresh must not log in again (a password login counts
// against the account) and must not conclude that legacy login is
// retired, which would refuse sign-in for the cooldown.
func TestSAMLThrottled401IsNotRetirement(t *testing.T) {
	const pw = "Thr0ttled-p4ss"
	srv := spemutest.Start(t, spemu.Config{Auth: "cookie", Password: pw, Faults: spemu.Faults{ThrottleAs401: true}})
	log, logs := newTestLogger()
	a, err := NewSAML(SAMLConfig{SiteURL: srv.LibraryURL(), Username: spemu.DefaultUser,
		Password: func(context.Context) (string, error) { return pw, nil }, STSURL: srv.URL() + "/extSTS.srf", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req, _ := http.NewRequestWithContext(ctx, "PROPFIND", srv.LibraryURL(), nil)
	if err := a.Authorize(ctx, req); err != nil {
		t.Fatal(err)
	}
	// The request that carried the fresh cookie was throttled (401), and
	// so is the probe the refresh sends.
	srv.ThrottleNext("PROPFIND", "", 1)
	if err := a.Refresh(ctx); err != nil {
		t.Fatalf("refresh after a throttled 401: %v", err)
	}
	if n := spemuSTSPOSTs(srv); n != 1 {
		t.Errorf("extSTS requests = %d, want 1 (no new password login for throttling)", n)
	}
	// The cookie is still good once the throttling ends.
	st, err := spemuPropfind(ctx, a, srv.LibraryURL())
	if err != nil || st != http.StatusMultiStatus {
		t.Fatalf("after throttling: status %d, %v", st, err)
	}
	if strings.Contains(logs.String(), "retired") {
		t.Errorf("log mentions retirement:\n%s", logs.String())
	}
	assertNoSecrets(t, []string{pw}, logs.String())
}

// TestSAMLNoTokenStatusInBody runs spemu's "success without a token"
// both ways: psf:pp in S:Header and inside the body's RSTR. The user
// sees the status code either way.
func TestSAMLNoTokenStatusInBody(t *testing.T) {
	const pw = "NoT0ken-p4ss"
	for _, fault := range []string{"notoken", "notoken-body"} {
		t.Run(fault, func(t *testing.T) {
			srv := spemutest.Start(t, spemu.Config{Auth: "cookie", Password: pw})
			srv.SetLogin(spemu.LoginConfig{STSFault: fault})
			a, err := NewSAML(SAMLConfig{SiteURL: srv.LibraryURL(), Username: spemu.DefaultUser,
				Password: func(context.Context) (string, error) { return pw, nil }, STSURL: srv.URL() + "/extSTS.srf"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = spemuPropfind(context.Background(), a, srv.LibraryURL())
			if err == nil {
				t.Fatal("sign-in without a token succeeded")
			}
			for _, want := range []string{"psf:reqstatus 0x8004882c", "psf:errorstatus 0x80045b00"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

// TestSAMLThrottledSignIn: wsignin1.0 (or the STS) throttles the login
// itself, as a 401 "429 TOO MANY REQUESTS" that sets no cookie. That is
// ErrSignInThrottled, not the retirement, and nothing is remembered: the
// next login goes through.
func TestSAMLThrottledSignIn(t *testing.T) {
	const pw = "Thr0ttled-s1gnin"
	for _, path := range []string{"/_forms/default.aspx", "/extSTS.srf"} {
		t.Run(path, func(t *testing.T) {
			srv := spemutest.Start(t, spemu.Config{Auth: "cookie", Password: pw, Faults: spemu.Faults{ThrottleAs401: true, NoRetryAfter: true}})
			a, err := NewSAML(SAMLConfig{SiteURL: srv.LibraryURL(), Username: spemu.DefaultUser,
				Password: func(context.Context) (string, error) { return pw, nil }, STSURL: srv.URL() + "/extSTS.srf"})
			if err != nil {
				t.Fatal(err)
			}
			srv.ThrottleNext("POST", path, 1)
			ctx := context.Background()
			req, _ := http.NewRequestWithContext(ctx, "PROPFIND", srv.LibraryURL(), nil)
			err = a.Authorize(ctx, req)
			if !errors.Is(err, ErrSignInThrottled) || errors.Is(err, ErrLegacyRetired) || errors.Is(err, ErrPasswordRefused) {
				t.Fatalf("throttled sign-in: %v", err)
			}
			if st, err := spemuPropfind(ctx, a, srv.LibraryURL()); err != nil || st != http.StatusMultiStatus {
				t.Fatalf("the next sign-in: %d %v", st, err)
			}
		})
	}
}
