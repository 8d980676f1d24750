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

// ErrExchangeRefused is wrapped by errors where SharePoint refused the
// token exchange itself (SP.OAuth.NativeClient/Authenticate answered 403
// for a valid token, or 404: the endpoint is not there): the token is
// fine, this route to a cookie is closed. Which client ids the endpoint
// takes is not documented (custom app registrations are reported refused,
// SharePoint/sp-dev-docs#7743).
var ErrExchangeRefused = errors.New("SharePoint refused the token exchange")

// remainingRoutes names what a person can still do when neither the token
// exchange nor Bearer on WebDAV works.
const remainingRoutes = "routes that remain: (1) sign in with another client id your organisation allows: " +
	"`odfb login --client-id ID URL` (an app registration with public client flows and delegated SharePoint AllSites.Write); " +
	"(2) cookies from a browser you signed in with: `--cookies-from-browser firefox|chromium[:PROFILE]`, or a `--cookie-file`; " +
	"(3) a `--cookie-command` or `--bearer-command` around a token or cookie source your organisation provides"

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
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	reason := RefusalReason(resp.Header, body)
	if reason != "" {
		reason = ": " + reason
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("%w (HTTP %d at %s%s)", errTokenRefused, resp.StatusCode, req.URL.Path, reason)
	case resp.StatusCode == http.StatusForbidden:
		if reason == "" && len(body) > 0 {
			if re := jsonErrorMessage(body); re != "" {
				reason = ": " + re
			}
		}
		return nil, fmt.Errorf("%w: %s answered HTTP 403 for a valid token%s", ErrExchangeRefused, req.URL.Path, reason)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s answered 404: this server has no SP.OAuth.NativeClient endpoint", ErrExchangeRefused, req.URL.Redacted())
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("cookie exchange at %s: HTTP %d", req.URL.Redacted(), resp.StatusCode)
	}
	v, exp := cookiesNamed(resp, "SPOIDCRL")
	if v == "" {
		return nil, fmt.Errorf("cookie exchange at %s: HTTP %d but no SPOIDCRL cookie in the answer", req.URL.Redacted(), resp.StatusCode)
	}
	return &loginCredential{header: "Cookie", value: v, issued: time.Now(), expires: exp}, nil
}

// jsonErrorMessage returns error.message.value (or a string message) of
// SharePoint's JSON error body; "" when there is none.
func jsonErrorMessage(body []byte) string {
	var j map[string]struct {
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &j) != nil {
		return ""
	}
	for _, k := range []string{"error", "odata.error"} {
		e, ok := j[k]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(e.Message, &s) == nil {
			return oneLine(s, 200)
		}
		var m struct {
			Value string `json:"value"`
		}
		if json.Unmarshal(e.Message, &m) == nil {
			return oneLine(m.Value, 200)
		}
	}
	return ""
}

// bearerOnDAVWorks asks the library with the token as Authorization:
// Bearer (PROPFIND Depth 0) and reports nil when SharePoint takes it (a
// 207), else an error naming the answer and its reason.
func bearerOnDAVWorks(ctx context.Context, client *http.Client, target, token string) error {
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Depth", "0")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("PROPFIND %s with Bearer: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusMultiStatus {
		return nil
	}
	reason := RefusalReason(resp.Header, body)
	if reason != "" {
		reason = ": " + reason
	}
	return fmt.Errorf("PROPFIND with Bearer answered HTTP %d%s", resp.StatusCode, reason)
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
