package davclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/internal/version"
	"github.com/odfb/odfb/remote"
)

// Options configure a Client. Only URL is required.
type Options struct {
	// URL is the library URL, e.g.
	// https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents
	// or the collection URL of any WebDAV server.
	URL string
	// WebURL is the SharePoint site (web) the REST API lives under. Empty:
	// URL without its last path segment.
	WebURL string
	// Auth gives requests their credentials; nil sends none.
	Auth auth.Authenticator
	// CAFile names extra PEM CA certificates, added to the system pool.
	// TLS verification is always on.
	CAFile string
	// MaxConcurrent bounds the requests in flight across the process
	// (default 8): every Client of the same server (scheme://host:port)
	// without its own Limiter shares one bound, sized by the first Client.
	MaxConcurrent int
	// Limiter, when set, replaces the process-wide one (tests, or a
	// process serving several libraries with separate bounds).
	Limiter *Limiter
	// Logger receives retries, throttling waits and server oddities.
	Logger *slog.Logger
	// UserAgent defaults to version.UserAgent(). Never a browser's.
	UserAgent string
	// MaxRetryWait caps one wait for Retry-After (default 5 minutes).
	MaxRetryWait time.Duration
	// MaxRetries is the number of retries after the first attempt for
	// throttling, 5xx and network errors (default 10).
	MaxRetries int
	// BackoffBase is the first backoff after a 5xx or network error
	// (default 250ms); it doubles per attempt up to BackoffMax (default 30s),
	// with ±25% jitter.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// ResponseTimeout bounds the wait for response headers once a request
	// is sent (default 10 minutes: SharePoint can be slow to commit a big PUT).
	ResponseTimeout time.Duration
	// Transport replaces the HTTP transport (tests). CAFile is then ignored.
	Transport http.RoundTripper
	// WrapTransport, when set, wraps the transport (Transport or the
	// built-in one): an observer such as internal/metrics sees every
	// request sent and every answer, retries included.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// OnThrottle, when set, is called for every throttled answer (429,
	// 503, a 401 that is throttling) with the wait before the retry (0
	// when no retry is left).
	OnThrottle func(status int, wait time.Duration)
}

// Client talks WebDAV (and SharePoint REST where available) to one library.
type Client struct {
	opts     Options
	base     *url.URL // library URL, path without trailing "/"
	basePath string   // decoded path of the library, no trailing "/"
	web      *url.URL // site URL for REST, path without trailing "/"
	hc       *http.Client
	lim      *Limiter
	log      *slog.Logger
	auth     *authState

	rangeWarn sync.Once

	restMu     sync.Mutex
	restState  int32 // restUnknown, restYes, restNo
	digest     string
	digestTill time.Time
	restCalls  atomic.Int64 // REST requests sent (tests)
	// noChunked, once set, says why the server has no chunked upload.
	noChunked atomic.Pointer[string]
}

var (
	_ remote.Remote          = (*Client)(nil)
	_ remote.ChunkedUploader = (*Client)(nil)
)

// Aliases of the remote error kinds, for callers that only import davclient.
var (
	ErrNotFound     = remote.ErrNotFound
	ErrExists       = remote.ErrExists
	ErrPrecondition = remote.ErrPrecondition
	ErrTooLarge     = remote.ErrTooLarge
	ErrAuth         = remote.ErrAuth
	ErrThrottled    = remote.ErrThrottled
	ErrInvalidName  = remote.ErrInvalidName
	ErrLocked       = remote.ErrLocked
	ErrServer       = remote.ErrServer
)

// New checks opts and builds a Client. Nothing is sent yet.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(opts.URL))
	if err != nil {
		return nil, fmt.Errorf("davclient: library URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("davclient: library URL %q: scheme must be https (or http)", u.Redacted())
	}
	if u.User != nil {
		return nil, errors.New("davclient: library URL must not carry credentials; use basic auth options")
	}
	if u.Host == "" {
		return nil, fmt.Errorf("davclient: library URL %q has no host", u.Redacted())
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 8
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = 5 * time.Minute
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 10
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 250 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 30 * time.Second
	}
	if opts.ResponseTimeout <= 0 {
		opts.ResponseTimeout = 10 * time.Minute
	}
	if opts.UserAgent == "" {
		opts.UserAgent = version.UserAgent()
	}
	if strings.Contains(opts.UserAgent, "Mozilla/") {
		// SharePoint answers a browser with HTML login redirects instead of
		// WebDAV (sharepoint-protocol.md §3.2).
		return nil, errors.New("davclient: a browser User-Agent makes SharePoint answer with login pages; use the default or a NONISV|Company|App/Version string")
	}
	if opts.Auth == nil {
		opts.Auth = auth.None()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{opts: opts, base: u, basePath: u.Path, log: log}
	if c.basePath == "" {
		c.basePath = ""
	}
	web := opts.WebURL
	if web == "" {
		w := *u
		i := strings.LastIndex(w.Path, "/")
		if i < 0 {
			i = 0
		}
		w.Path = w.Path[:i]
		w.RawPath = ""
		web = w.String()
	}
	wu, err := url.Parse(web)
	if err != nil || wu.Host == "" {
		return nil, fmt.Errorf("davclient: site URL %q is not an absolute URL", web)
	}
	wu.Path = strings.TrimRight(wu.Path, "/")
	wu.RawPath = ""
	c.web = wu

	rt := opts.Transport
	if rt == nil {
		t, err := newTransport(opts)
		if err != nil {
			return nil, err
		}
		rt = t
	}
	if opts.WrapTransport != nil {
		rt = opts.WrapTransport(rt)
	}
	c.hc = &http.Client{
		Transport: rt,
		// A redirect on a DAV verb is a login page or a misconfigured URL;
		// following it would turn PROPFIND into GET. It is reported instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.lim = opts.Limiter
	if c.lim == nil {
		c.lim = processLimiter(u.Scheme+"://"+strings.ToLower(u.Host), opts.MaxConcurrent)
	}
	c.auth = &authState{a: opts.Auth, log: log}
	return c, nil
}

// String describes the client for logs.
func (c *Client) String() string {
	return "davclient " + c.base.Redacted() + " (" + c.opts.Auth.String() + ")"
}

// newTransport builds the pooled, HTTP/2-capable transport with the
// system CA pool plus opts.CAFile.
func newTransport(opts Options) (*http.Transport, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("davclient: CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("davclient: CA file %s holds no PEM certificate", opts.CAFile)
		}
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   30 * time.Second,
		MaxIdleConns:          4 * opts.MaxConcurrent,
		MaxIdleConnsPerHost:   2 * opts.MaxConcurrent,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: 2 * time.Second,
		ResponseHeaderTimeout: opts.ResponseTimeout,
	}, nil
}

// Limiter bounds requests in flight. One Limiter may be shared by every
// Client of a process (Options.Limiter).
type Limiter struct{ ch chan struct{} }

// NewLimiter returns a Limiter allowing n requests at once.
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		n = 1
	}
	return &Limiter{ch: make(chan struct{}, n)}
}

func (l *Limiter) acquire(done <-chan struct{}) bool {
	select {
	case l.ch <- struct{}{}:
		return true
	case <-done:
		return false
	}
}

func (l *Limiter) release() { <-l.ch }

var (
	procLimMu sync.Mutex
	procLims  = map[string]*Limiter{}
)

// processLimiter returns the Limiter shared by every Client of the process
// that talks to server (scheme://host:port) without a Limiter of its own;
// the first such Client sizes it. Keying by server keeps unrelated servers
// (tests with their own emulators) from starving each other.
func processLimiter(server string, n int) *Limiter {
	procLimMu.Lock()
	defer procLimMu.Unlock()
	l := procLims[server]
	if l == nil {
		l = NewLimiter(n)
		procLims[server] = l
	}
	return l
}

// InFlight reports how many requests hold a slot now.
func (l *Limiter) InFlight() int { return len(l.ch) }

// NewHTTPClient returns an HTTP client for the requests that happen
// outside a Client: sign-in endpoints (token service, OAuth authority,
// cookie exchange). It verifies TLS against the system pool plus caFile,
// as Client does, so a mount behind a TLS-inspecting proxy can log in
// with the same --ca-file it uses for WebDAV.
func NewHTTPClient(caFile string) (*http.Client, error) {
	tr, err := newTransport(Options{CAFile: caFile, MaxConcurrent: 2, ResponseTimeout: 2 * time.Minute})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}, nil
}
