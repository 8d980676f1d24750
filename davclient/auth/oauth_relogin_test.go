package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// A refresh token refused with invalid_grant is not sent again request
// after request; once odfb login has stored a new one, the next Authorize
// signs in with it, so the request carries a working cookie without being
// refused first.
func TestOAuthDeadGrantUntilNewLogin(t *testing.T) {
	f := newFakeSPO(t)
	cfg, logs := oauthConfig(t, f)
	deviceLogin(t, f, cfg)
	a, err := NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lib := cfg.SiteURL + "/"
	if st, err := doWithRefresh(ctx, t, a, lib); err != nil || st != 207 {
		t.Fatal(st, err)
	}

	f.mu.Lock()
	f.deadGrant = true
	f.mu.Unlock()
	f.expireAll()
	before := f.count("token")
	for i := 0; i < 5; i++ {
		if _, err := doWithRefresh(ctx, t, a, lib); !errors.Is(err, ErrLoginExpired) || !strings.Contains(err.Error(), "odfb login") {
			t.Fatalf("request %d with the grant dead: %v", i, err)
		}
	}
	if n := f.count("token") - before; n != 1 {
		t.Errorf("%d token requests for 5 requests with the grant dead, want 1", n)
	}
	if n := strings.Count(logs.String(), "auth: the stored login was refused"); n != 1 {
		t.Errorf("'login was refused' logged %d times, want once:\n%s", n, logs.String())
	}
	// An unchanged credentials file is not read as a new login.
	req, _ := http.NewRequestWithContext(ctx, "PROPFIND", lib, nil)
	a.Authorize(ctx, req)
	if n := f.count("token") - before; n != 1 {
		t.Errorf("Authorize with the same dead login asked the token endpoint (%d requests)", n)
	}

	// odfb login again, same file.
	f.mu.Lock()
	f.deadGrant = false
	f.mu.Unlock()
	deviceLogin(t, f, cfg)
	req, _ = http.NewRequestWithContext(ctx, "PROPFIND", lib, nil)
	if err := a.Authorize(ctx, req); err != nil {
		t.Fatalf("Authorize after the new login: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 207 {
		t.Errorf("first request after the new login: %d, want 207 without a refusal", resp.StatusCode)
	}
	if st, err := doWithRefresh(ctx, t, a, lib); err != nil || st != 207 {
		t.Errorf("next request: %d %v", st, err)
	}
	assertNoSecrets(t, f.allSecrets(), logs.String())
}
