package auth

import (
	"context"
	"errors"
	"net/http"
)

// basicAuth sends HTTP basic credentials, for ordinary WebDAV servers
// (Apache mod_dav, Nextcloud). It has nothing to renew.
type basicAuth struct {
	user, password string
}

// Basic returns the basic-auth strategy. The password stays in memory; it
// never reaches a log, an error text or String.
func Basic(user, password string) Authenticator {
	return &basicAuth{user: user, password: password}
}

func (b *basicAuth) Authorize(_ context.Context, req *http.Request) error {
	req.SetBasicAuth(b.user, b.password)
	return nil
}

// Refresh cannot obtain anything new: the same password would be refused
// again (and repeated failures can lock the account).
func (b *basicAuth) Refresh(context.Context) error {
	return errors.New("basic auth: the server refused the user name and password for user " + quoteForLog(b.user) + "; check the password file")
}

func (b *basicAuth) String() string { return "basic " + quoteForLog(b.user) }

// noAuth adds nothing.
type noAuth struct{}

// None returns the strategy that sends no credentials.
func None() Authenticator { return noAuth{} }

func (noAuth) Authorize(context.Context, *http.Request) error { return nil }

func (noAuth) Refresh(context.Context) error {
	return errors.New("the server asks for credentials and none were configured (give a cookie file, a cookie command, AUTH_COOKIES, basic auth or run `odfb login`)")
}

func (noAuth) String() string { return "none" }

// quoteForLog keeps a user-supplied identifier printable and short.
func quoteForLog(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}
