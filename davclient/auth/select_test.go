package auth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChooseMethod(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials.json")
	if err := (CredentialsStore{Path: creds}).Put(CredentialsEntry{Host: "contoso.sharepoint.com", ClientID: DefaultClientID, RefreshToken: "rt"}); err != nil {
		t.Fatal(err)
	}
	spo := "https://contoso.sharepoint.com/sites/a/Shared%20Documents"
	cases := []struct {
		o    Options
		want string
	}{
		{Options{SiteURL: spo, Credentials: creds}, MethodOAuth},
		{Options{SiteURL: "https://other.sharepoint.com/x", Credentials: creds, Username: "u"}, MethodSAML},
		{Options{SiteURL: "https://dav.example.org/x", Credentials: creds, Username: "u"}, MethodBasic},
		{Options{SiteURL: "http://127.0.0.1:8080/x", Credentials: creds, Username: "u", STSURL: "http://127.0.0.1:8080/extSTS.srf"}, MethodSAML},
		{Options{SiteURL: spo, Credentials: creds, CookieFile: "/f"}, MethodCookieFile},
		{Options{SiteURL: spo, Credentials: creds, Cookies: "FedAuth=x"}, MethodCookies},
		{Options{SiteURL: spo, Credentials: creds, CookieCommand: "c", CookieFile: "/f"}, MethodCookieCommand},
		{Options{SiteURL: spo, Credentials: creds, BearerCommand: "b", CookieCommand: "c"}, MethodBearerCommand},
		{Options{SiteURL: "https://x.example/", Credentials: creds}, MethodNone},
		{Options{SiteURL: spo, Credentials: creds, Method: "SAML", Username: "u"}, MethodSAML},
	}
	for i, c := range cases {
		got, why, err := ChooseMethod(c.o)
		if err != nil || got != c.want || why == "" {
			t.Errorf("case %d: got %q (%s) %v, want %q", i, got, why, err, c.want)
		}
	}
	if _, _, err := ChooseMethod(Options{Method: "kerberos"}); err == nil || !strings.Contains(err.Error(), "oauth") {
		t.Errorf("unknown method: %v", err)
	}
	// An unsafe credentials file is an error, not a silent fallback.
	os.Chmod(creds, 0o644)
	if _, _, err := ChooseMethod(Options{SiteURL: spo, Credentials: creds, Username: "u"}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("0644 credentials file: %v", err)
	}
	os.Chmod(creds, 0o600)
	// Select reports missing inputs by flag name.
	if _, err := Select(context.Background(), Options{Method: MethodBearerCommand, SiteURL: spo}); err == nil || !strings.Contains(err.Error(), "--bearer-command") {
		t.Errorf("missing bearer command: %v", err)
	}
	if _, err := Select(context.Background(), Options{Method: MethodSAML, SiteURL: spo, Username: "u"}); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("missing password: %v", err)
	}
}
