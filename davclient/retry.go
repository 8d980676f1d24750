package davclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/remote"
)

// call is one logical request. do sends it, as often as the retry rules
// allow, and returns the first response that is neither a transient
// failure nor an authentication refusal.
type call struct {
	op, path string // for errors and logs: "PROPFIND", library path
	method   string
	url      string
	header   http.Header
	// body is re-read from offset 0 for every attempt; nil sends none.
	body io.ReaderAt
	size int64
}

// reply is what do returns.
type reply struct {
	*http.Response
	// ambiguous is true when an earlier attempt may have been carried out
	// by the server (its response was lost, or it failed with a 5xx), so
	// the verb must read a "not found"/"already exists" answer with that
	// in mind (see doc.go, "Retry rules").
	ambiguous bool
	attempts  int
}

// do is the one retry wrapper every verb goes through. It
//   - takes a slot of the shared Limiter per attempt (released during waits,
//     and held by a returned response until its body is closed);
//   - authorizes each attempt, and on an authentication refusal refreshes
//     once (shared by concurrent requests) and replays once;
//   - on 429/503 (and on a 401 that is throttling in disguise, see
//     auth.ThrottledRefusal) waits for Retry-After (capped by
//     MaxRetryWait), else backs off exponentially with jitter; the same
//     for 500/502/504 and network errors, except a 500 that says retrying
//     cannot help (SPQueryThrottledException);
//   - rewinds the body before every attempt;
//   - stops at once when ctx is cancelled.
//
// The error, if any, is a *remote.Error. A returned response may still be
// a failure status: the verb interprets it (statusError).
func (c *Client) do(ctx context.Context, k call) (*reply, error) {
	var (
		attempt      int
		authReplayed bool
		ambiguous    bool
	)
	fail := func(kind error, status int, err error) (*reply, error) {
		return nil, &remote.Error{Kind: kind, Op: k.op, Path: k.path, Status: status, Err: err}
	}
	for {
		if err := ctx.Err(); err != nil {
			return fail(remote.ErrUnavailable, 0, err)
		}
		if !c.lim.acquire(ctx.Done()) {
			return fail(remote.ErrUnavailable, 0, ctx.Err())
		}
		release := sync.OnceFunc(c.lim.release)
		req, err := c.newRequest(ctx, k)
		if err != nil {
			release()
			return fail(remote.ErrServer, 0, err)
		}
		gen, err := c.auth.authorize(ctx, req)
		if err != nil {
			release()
			if ctx.Err() != nil {
				return fail(remote.ErrUnavailable, 0, ctx.Err())
			}
			return fail(loginFailureKind(err), 0, err)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			release()
			if ctx.Err() != nil {
				return fail(remote.ErrUnavailable, 0, ctx.Err())
			}
			if !notSent(err) {
				ambiguous = true
			}
			if permanentNetError(err) {
				return fail(remote.ErrUnavailable, 0, err)
			}
			if attempt >= c.opts.MaxRetries {
				return fail(remote.ErrUnavailable, 0, err)
			}
			w := c.backoff(attempt)
			c.log.Warn("davclient: request failed; retrying", "op", k.op, "path", k.path, "attempt", attempt+1, "wait", w, "err", err)
			if err := sleep(ctx, w); err != nil {
				return fail(remote.ErrUnavailable, 0, err)
			}
			attempt++
			continue
		}
		st := resp.StatusCode
		// The body of a refusal or a server error decides what it means
		// (a 401 that is throttling, a 500 that is a list-view threshold),
		// so it is read here, bounded, and put back for statusError.
		var peek []byte
		if st == http.StatusUnauthorized || st == http.StatusForbidden || st == http.StatusInternalServerError {
			peek = peekBody(resp)
		}
		throttled := st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable ||
			auth.ThrottledRefusal(st, resp.Header, peek)
		switch {
		case !throttled && isAuthFailure(resp):
			reason := auth.RefusalReason(resp.Header, peek)
			if authReplayed {
				e := statusError(k.op, k.path, resp)
				release()
				e.Kind = remote.ErrAuth
				e.Err = errors.New("the server refused the renewed credentials (" + c.opts.Auth.String() + ")")
				c.log.Warn("davclient: the server refused the renewed credentials", "op", k.op, "path", k.path, "status", st, "reason", e.Detail)
				return nil, e
			}
			discard(resp)
			release()
			if reason != "" {
				c.log.Info("davclient: the server refused the credentials", "op", k.op, "path", k.path, "status", st, "reason", reason)
			}
			if err := c.auth.refresh(ctx, gen); err != nil {
				if ctx.Err() != nil {
					return fail(remote.ErrUnavailable, 0, ctx.Err())
				}
				return nil, &remote.Error{Kind: loginFailureKind(err), Op: k.op, Path: k.path, Status: st, Detail: reason, Err: err}
			}
			authReplayed = true
			continue
		case st == http.StatusInternalServerError && permanentServerAnswer(peek):
			// Retrying cannot change the answer (SPQueryThrottledException:
			// the call exceeds the list view threshold).
			e := statusError(k.op, k.path, resp)
			release()
			return nil, e
		case throttled:
			w := retryAfter(resp, time.Now())
			asked := w
			if attempt >= c.opts.MaxRetries {
				c.throttled(st, 0)
				e := statusError(k.op, k.path, resp)
				release()
				return nil, e
			}
			discard(resp)
			release()
			if w <= 0 {
				w = c.backoff(attempt)
			} else if w > c.opts.MaxRetryWait {
				c.log.Warn("davclient: server asks for a long wait; capping it", "op", k.op, "path", k.path, "retry_after", w, "cap", c.opts.MaxRetryWait)
				w = c.opts.MaxRetryWait
			}
			c.log.Info("davclient: throttled; waiting", "op", k.op, "path", k.path, "status", st, "retry_after", asked, "wait", w, "attempt", attempt+1)
			c.throttled(st, w)
			if err := sleep(ctx, w); err != nil {
				return fail(remote.ErrUnavailable, 0, err)
			}
			attempt++
			continue
		case st == http.StatusInternalServerError || st == http.StatusBadGateway || st == http.StatusGatewayTimeout:
			if attempt >= c.opts.MaxRetries {
				e := statusError(k.op, k.path, resp)
				release()
				return nil, e
			}
			discard(resp)
			release()
			ambiguous = true
			w := c.backoff(attempt)
			c.log.Warn("davclient: server error; retrying", "op", k.op, "path", k.path, "status", st, "attempt", attempt+1, "wait", w)
			if err := sleep(ctx, w); err != nil {
				return fail(remote.ErrUnavailable, 0, err)
			}
			attempt++
			continue
		}
		resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
		return &reply{Response: resp, ambiguous: ambiguous, attempts: attempt + 1}, nil
	}
}

// peekBody reads (a bounded part of) resp's body and puts it back, so
// the answer can be classified and still read by statusError.
func peekBody(resp *http.Response) []byte {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), rest), rest}
	return b
}

// newRequest builds one attempt of k, with a fresh reader over the body.
func (c *Client) newRequest(ctx context.Context, k call) (*http.Request, error) {
	var body io.Reader
	if k.body != nil {
		body = io.NewSectionReader(k.body, 0, k.size)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, k.url, body)
	if err != nil {
		return nil, err
	}
	if k.body != nil {
		req.ContentLength = k.size
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(k.body, 0, k.size)), nil
		}
		if k.size == 0 {
			req.Body = http.NoBody
		}
	} else if k.method == http.MethodPost || k.method == http.MethodPut {
		req.ContentLength = 0
		req.Body = http.NoBody
	}
	for key, v := range k.header {
		req.Header[key] = v
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	return req, nil
}

// releasingBody gives the Limiter slot back when the caller closes the body.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// discard drains a little of a body (so the connection can be reused)
// and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrBody))
	resp.Body.Close()
}

// backoff is the exponential wait before retry n (0-based), ±25% jitter.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.BackoffBase
	for i := 0; i < n && d < c.opts.BackoffMax; i++ {
		d *= 2
	}
	if d > c.opts.BackoffMax {
		d = c.opts.BackoffMax
	}
	j := 0.75 + rand.Float64()*0.5
	return time.Duration(float64(d) * j)
}

// retryAfter reads Retry-After (seconds or an HTTP date) and
// RateLimit-Reset (seconds), honouring the larger. 0 when absent.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	var d time.Duration
	if v := strings.TrimSpace(resp.Header.Get("Retry-After")); v != "" {
		if n, ok := headerSeconds(v); ok {
			d = n
		} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
			d = min(t.Sub(now), maxRetryAfter)
		}
	}
	if n, ok := headerSeconds(resp.Header.Get("RateLimit-Reset")); ok && n > d {
		d = n
	}
	return d
}

// maxRetryAfter bounds what retryAfter reports (the caller caps the wait
// itself with MaxRetryWait); it keeps a huge value from overflowing
// time.Duration into a negative wait, which would turn "wait very long"
// into "retry at once".
const maxRetryAfter = 24 * time.Hour

// headerSeconds reads a positive number of seconds, as Retry-After and
// RateLimit-Reset carry it, bounded by maxRetryAfter. Anything else
// (empty, NaN, Inf, zero or negative, a date) is not ok.
func headerSeconds(v string) (time.Duration, bool) {
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
		return 0, false
	}
	if n >= maxRetryAfter.Seconds() {
		return maxRetryAfter, true
	}
	return time.Duration(n * float64(time.Second)), true
}

// notSent reports errors that certainly happened before the request
// reached the server (the connection could not be made).
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// permanentNetError reports failures a retry cannot cure: the server's
// certificate is not trusted (add it with Options.CAFile) or names another
// host.
func permanentNetError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

// throttled tells Options.OnThrottle about a throttled answer.
func (c *Client) throttled(status int, wait time.Duration) {
	if c.opts.OnThrottle != nil {
		c.opts.OnThrottle(status, wait)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loginFailureKind classifies an error from logging in (Authorize or
// Refresh): a sign-in endpoint that cannot be reached is the network's
// fault, not the credentials', so callers see ErrUnavailable (and serve
// from cache, or retry later) instead of an auth error that tells the user
// to log in again.
func loginFailureKind(err error) error {
	if errors.Is(err, auth.ErrSignInThrottled) {
		return remote.ErrThrottled // wait and retry; not a credential failure
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return remote.ErrUnavailable
	}
	return remote.ErrAuth
}
