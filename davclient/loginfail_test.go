package davclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/remote"
)

// loginStub is an Authenticator whose sign-in fails with a chosen error,
// on the first attempt (Authorize) or on renewal (Refresh).
type loginStub struct{ authorizeErr, refreshErr error }

func (s loginStub) Authorize(ctx context.Context, req *http.Request) error { return s.authorizeErr }
func (s loginStub) Refresh(ctx context.Context) error                      { return s.refreshErr }
func (s loginStub) String() string                                         { return "stub" }

// A sign-in endpoint that cannot be reached must not read as "your
// credentials are bad": the cache serves stale data for ErrUnavailable and
// the uploader retries, while ErrAuth tells a person to log in again.
func TestLoginFailureKinds(t *testing.T) {
	unreachable := fmt.Errorf("oauth: redeeming the refresh token: %w",
		&url.Error{Op: "Post", URL: "https://login.example/token", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}})
	refused := errors.New("oauth: invalid_grant (AADSTS70043); run odfb login again")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized) // every request: "log in again"
	}))
	t.Cleanup(srv.Close)

	for _, c := range []struct {
		name string
		a    loginStub
		want error
	}{
		{"authorize unreachable", loginStub{authorizeErr: unreachable}, remote.ErrUnavailable},
		{"authorize refused", loginStub{authorizeErr: refused}, remote.ErrAuth},
		{"refresh unreachable", loginStub{refreshErr: unreachable}, remote.ErrUnavailable},
		{"refresh refused", loginStub{refreshErr: refused}, remote.ErrAuth},
		// A sign-in endpoint that throttles is waited for, not a refusal.
		{"authorize throttled", loginStub{authorizeErr: fmt.Errorf("saml: throttled: %w", auth.ErrSignInThrottled)}, remote.ErrThrottled},
		{"refresh throttled", loginStub{refreshErr: fmt.Errorf("saml: throttled: %w", auth.ErrSignInThrottled)}, remote.ErrThrottled},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := New(Options{URL: srv.URL + "/lib", Auth: c.a, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.Stat(context.Background(), "/f")
			if !errors.Is(err, c.want) {
				t.Fatalf("Stat: %v, want kind %v", err, c.want)
			}
		})
	}
}
