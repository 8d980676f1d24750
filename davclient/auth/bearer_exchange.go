package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// NativeClientAuthenticatePath is where SharePoint turns a bearer token for
// its host into an SPOIDCRL session cookie (sharepoint-protocol.md §2.5).
const NativeClientAuthenticatePath = "/_api/SP.OAuth.NativeClient/Authenticate"

// errTokenRefused means the exchange endpoint refused the access token (401).
var errTokenRefused = errors.New("SharePoint refused the access token")

// exchangeBearer POSTs the access token to base+NativeClientAuthenticatePath
// and returns the SPOIDCRL cookie as a credential. Neither the token nor
// the cookie ever reaches an error text.
func exchangeBearer(ctx context.Context, client *http.Client, base, token string) (*loginCredential, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+NativeClientAuthenticatePath, http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json;odata=nometadata")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cookie exchange at %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		diag := resp.Header.Get("x-ms-diagnostics")
		if diag != "" {
			diag = ": " + oneLine(diag, 200)
		}
		return nil, fmt.Errorf("%w (HTTP %d at %s%s)", errTokenRefused, resp.StatusCode, req.URL.Path, diag)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("cookie exchange: %s answered 404: this server has no SP.OAuth.NativeClient endpoint (not SharePoint Online?); use --bearer-on-dav if it takes bearer tokens directly", req.URL.Redacted())
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("cookie exchange at %s: HTTP %d", req.URL.Redacted(), resp.StatusCode)
	}
	v, exp := cookiesNamed(resp, "SPOIDCRL")
	if v == "" {
		return nil, fmt.Errorf("cookie exchange at %s: HTTP %d but no SPOIDCRL cookie in the answer", req.URL.Redacted(), resp.StatusCode)
	}
	return &loginCredential{header: "Cookie", value: v, issued: time.Now(), expires: exp}, nil
}

// jwtExpiry reads the exp claim of a JWT without verifying it (the
// server verifies; we only want to renew in time). Zero if unreadable.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return time.Time{}
	}
	n, err := claims.Exp.Int64()
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// oneLine shortens server-provided text for an error message.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
