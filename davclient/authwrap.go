package davclient

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/odfb/odfb/davclient/auth"
)

// authState wraps the Authenticator with the one-refresh rule: every
// request remembers the credential generation it was authorized with; when
// the server refuses it, the request asks for a refresh of that
// generation. If another request already refreshed past it, the request
// just replays; otherwise one Refresh runs for all (singleflight) and the
// generation moves on. A request replays once; a second refusal is final.
type authState struct {
	a   auth.Authenticator
	log *slog.Logger
	sf  singleflight.Group

	mu        sync.Mutex
	gen       uint64
	failedGen uint64 // generation whose refresh failed
	failedAt  time.Time
	failErr   error
	refreshes int
}

// refreshCooldown keeps a failed refresh from being retried by every
// request that was waiting behind it (a password login that fails must not
// be repeated in a storm).
const refreshCooldown = 5 * time.Second

func (s *authState) authorize(ctx context.Context, req *http.Request) (uint64, error) {
	s.mu.Lock()
	g := s.gen
	s.mu.Unlock()
	return g, s.a.Authorize(ctx, req)
}

// refresh renews the credentials that generation seen carried.
func (s *authState) refresh(ctx context.Context, seen uint64) error {
	s.mu.Lock()
	if s.gen != seen {
		s.mu.Unlock()
		return nil
	}
	if s.failErr != nil && s.failedGen == seen && time.Since(s.failedAt) < refreshCooldown {
		err := s.failErr
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	// DoChan, not Do: a request whose context ends while another request's
	// refresh runs (a password login, a device-code exchange: minutes at
	// worst) must return at once, as every call does on cancellation; the
	// refresh itself goes on for the others.
	ch := s.sf.DoChan("refresh", func() (any, error) {
		s.mu.Lock()
		if s.gen != seen {
			s.mu.Unlock()
			return nil, nil
		}
		s.mu.Unlock()
		// The refresh serves every waiting request: it must not die with
		// the context of the one that happened to start it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		s.log.Info("davclient: server refused the credentials; renewing", "strategy", s.a.String())
		err := s.a.Refresh(rctx)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.refreshes++
		if err != nil {
			s.failedGen, s.failedAt, s.failErr = seen, time.Now(), err
			s.log.Warn("davclient: renewing credentials failed", "strategy", s.a.String(), "err", err)
			return nil, err
		}
		s.gen++
		s.failErr = nil
		return nil, nil
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Refreshes reports how many times credentials were renewed (tests, status).
func (c *Client) Refreshes() int {
	c.auth.mu.Lock()
	defer c.auth.mu.Unlock()
	return c.auth.refreshes
}

// isAuthFailure reports whether a response means "not authenticated":
// 401; 403 with X-MSDAVEXT_Error 917656 or SharePoint's forms-auth
// headers; a redirect to a sign-in page.
func isAuthFailure(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
		if strings.HasPrefix(strings.TrimSpace(resp.Header.Get("X-MSDAVEXT_Error")), "917656") {
			return true
		}
		return resp.Header.Get("X-Forms_Based_Auth_Required") != "" || resp.Header.Get("X-IDCRL_AUTH_PARAMS_V1") != ""
	case http.StatusFound, http.StatusSeeOther, http.StatusMovedPermanently, http.StatusTemporaryRedirect:
		loc := strings.ToLower(resp.Header.Get("Location"))
		return strings.Contains(loc, "/_forms/") || strings.Contains(loc, "login.microsoftonline") ||
			strings.Contains(loc, "/_layouts/15/authenticate") || strings.Contains(loc, "/_login/")
	}
	return false
}
