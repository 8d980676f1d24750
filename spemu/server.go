package spemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Server is one running emulated library.
type Server struct {
	cfg       Config
	logger    *slog.Logger
	st        *store
	ownRoot   bool   // Root was a temp dir made by New
	libPrefix string // Site + "/" + Library, decoded
	sessions  *SessionStore

	faultMu  sync.Mutex
	faults   Faults
	lose     []*loseRule // LoseAnswers orders, guarded by faultMu
	throttle []*loseRule // ThrottleNext orders, guarded by faultMu
	rng      *rand.Rand

	reqlog *requestLog

	handler http.Handler

	ext sync.Map // per-server state of the endpoint files, see extState

	mu      sync.Mutex
	closers []func()
	ln      net.Listener
	httpSrv *http.Server
	baseURL string
	closed  bool
	// fresh holds connections that have not sent a request yet
	// (http.StateNew). Shutdown treats them as busy for 5 s, so Close
	// ends them itself.
	fresh map[net.Conn]struct{}
}

// New checks cfg, opens (or creates) the served directory and returns a
// server that is not listening yet: call Start, or use Handler.
func New(cfg Config) (*Server, error) {
	cfg.fillDefaults()
	switch cfg.Auth {
	case "none", "basic", "cookie":
	default:
		return nil, fmt.Errorf("spemu: unknown auth mode %q (want none, basic or cookie)", cfg.Auth)
	}
	if cfg.Auth == "basic" && cfg.Password == "" {
		return nil, errors.New("spemu: auth basic needs a password")
	}
	if strings.ContainsAny(cfg.Library, "/") || CheckName(cfg.Library, true, false) != nil {
		return nil, fmt.Errorf("spemu: library name %q is not a valid URL segment", cfg.Library)
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, err
	}
	if cfg.OverwriteStatus != 200 && cfg.OverwriteStatus != 204 {
		return nil, fmt.Errorf("spemu: overwrite status %d (want 200 or 204)", cfg.OverwriteStatus)
	}
	if cfg.NameErrorStatus != 400 && cfg.NameErrorStatus != 403 && cfg.NameErrorStatus != 409 {
		return nil, fmt.Errorf("spemu: name error status %d (want 400, 403 or 409)", cfg.NameErrorStatus)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, logger: logger, faults: cfg.Faults,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5e3a_0db1))}
	s.libPrefix = cfg.Site + "/" + cfg.Library
	root := cfg.Root
	if root == "" {
		dir, err := os.MkdirTemp("", "spemu-*")
		if err != nil {
			return nil, fmt.Errorf("spemu: %w", err)
		}
		root, s.ownRoot = dir, true
	}
	st, err := openStore(root, logger)
	if err != nil {
		if s.ownRoot {
			os.RemoveAll(root)
		}
		return nil, err
	}
	st.fixedFolderTimes = cfg.FolderTimesFixed
	st.onChange = s.recordChange
	s.st = st
	s.cfg.Root = st.root
	s.sessions = newSessionStore(cfg.CookieTTL)
	s.reqlog = newRequestLog(cfg.RequestLog, cfg.RequestLogLimit, logger)
	s.handler = http.HandlerFunc(s.serve)
	return s, nil
}

// Start listens on Config.Listen and serves in the background. Responses
// on its connections carry SharePoint's upper-case reason phrases unless
// Config.PlainReasonPhrases is set.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("spemu: server closed")
	}
	if s.ln != nil {
		return errors.New("spemu: already started")
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("spemu: %w", err)
	}
	if !s.cfg.PlainReasonPhrases {
		ln = &phraseListener{Listener: ln}
	}
	s.ln = ln
	s.baseURL = "http://" + ln.Addr().String()
	s.httpSrv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
		ConnState:         s.trackConn,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if pc, ok := c.(*phraseConn); ok {
				return context.WithValue(ctx, phraseConnKey{}, pc)
			}
			return ctx
		},
	}
	go func() {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("spemu: serving stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	s.logger.Info("spemu: serving", "library", s.baseURL+escapePath(s.libPrefix), "root", s.cfg.Root)
	return nil
}

// trackConn keeps the set of connections that have sent nothing yet.
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == http.StateNew {
		if s.fresh == nil {
			s.fresh = map[net.Conn]struct{}{}
		}
		s.fresh[c] = struct{}{}
		return
	}
	delete(s.fresh, c)
}

func (s *Server) closeFresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.fresh {
		c.Close()
	}
}

// Close stops serving, writes the metadata and removes a temp root.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv := s.httpSrv
	s.mu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		done := make(chan struct{})
		go func() {
			// Shutdown has closed the listener by then; a connection that
			// has still sent nothing never will.
			select {
			case <-done:
			case <-time.After(50 * time.Millisecond):
				s.closeFresh()
			}
		}()
		if err = srv.Shutdown(ctx); err != nil {
			err = srv.Close()
		}
		close(done)
		cancel()
	}
	s.mu.Lock()
	closers := s.closers
	s.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	s.st.close()
	if s.ownRoot {
		if rerr := os.RemoveAll(s.st.root); err == nil {
			err = rerr
		}
	}
	return err
}

// extState returns the per-server state stored under key (use a private
// type of the calling file as the key), creating it with create on first
// use. It lets rest*.go, login*.go and oauth*.go keep state on the Server
// without a field in server.go and without a global map that outlives it.
func (s *Server) extState(key any, create func() any) any {
	if v, ok := s.ext.Load(key); ok {
		return v
	}
	v, _ := s.ext.LoadOrStore(key, create())
	return v
}

// onClose registers fn to run when the server closes (after it stopped
// serving, before the store is flushed), e.g. to remove upload temp files.
func (s *Server) onClose(fn func()) {
	s.mu.Lock()
	s.closers = append(s.closers, fn)
	s.mu.Unlock()
}

// Handler is the whole emulator as an http.Handler (for httptest). URLs in
// responses are built from the request's Host when the server was not
// started with Start.
func (s *Server) Handler() http.Handler { return s.handler }

// URL is "http://HOST:PORT" (no trailing slash), "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// LibraryURL is URL() (or Config.PublicURL) + Site + "/" + Library,
// percent-encoded.
func (s *Server) LibraryURL() string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/") + escapePath(s.libPrefix)
	}
	return s.URL() + escapePath(s.libPrefix)
}

// Root is the served directory.
func (s *Server) Root() string { return s.cfg.Root }

// Config returns the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Sessions is the session-cookie store the login endpoints issue into.
func (s *Server) Sessions() *SessionStore { return s.sessions }

// baseFor is the scheme and host used in absolute hrefs for r.
func (s *Server) baseFor(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	if u := s.URL(); u != "" {
		return u
	}
	return "http://" + r.Host
}

// serve is the outermost handler: request record, common headers, faults,
// then routing.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &respWriter{ResponseWriter: w}
	if pc, ok := r.Context().Value(phraseConnKey{}).(*phraseConn); ok {
		rw.pc = pc
	}
	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &countingBody{rc: r.Body}
		r.Body = body
	}
	rec := RequestRecord{Time: start.UTC(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Depth: r.Header.Get("Depth")}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		rec.Range = r.Header.Get("Range")
	}
	logged := false
	logIt := func(respBytes int64, aborted bool) {
		if logged {
			return
		}
		logged = true
		rec.Status = rw.status
		if rec.Status == 0 && !aborted {
			rec.Status = http.StatusOK
		} // 0 stays when the connection was cut before any answer
		if body != nil {
			rec.ReqBytes = body.n
		}
		rec.RespBytes = respBytes
		rec.DurMS = float64(time.Since(start).Microseconds()) / 1000
		s.reqlog.add(&rec)
	}
	rw.final = func(n int64) {
		if !rw.drop {
			logIt(n, false)
		}
	}
	defer func() {
		p := recover()
		logIt(rw.n, p != nil)
		if p != nil {
			panic(p)
		}
	}()
	s.commonHeaders(rw.Header())

	f := s.Faults()
	fault := s.drawFault(f, r)
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
		if fault == "" {
			rec.Fault = "latency"
		}
	}
	if f.Bandwidth > 0 {
		rw.limit = newRateLimiter(f.Bandwidth)
		if body != nil {
			body.limit = newRateLimiter(f.Bandwidth)
		}
		if fault == "" && rec.Fault == "" {
			rec.Fault = "bandwidth"
		}
	}
	switch fault {
	case "down":
		// Unreachable: the connection is cut before anything is read
		// or done, whatever the request.
		rec.Fault = fault
		panic(http.ErrAbortHandler)
	case "throttle":
		rec.Fault = fault
		s.writeThrottle(rw, f)
		return
	case "fail":
		rec.Fault = fault
		s.writeFail(rw, f)
		return
	case "drop":
		rec.Fault = fault
		if body != nil {
			// Cut the connection before anything is stored.
			panic(http.ErrAbortHandler)
		}
		rw.drop = true
	case "lost":
		rec.Fault = fault
		rw.lost = true
	}
	s.route(rw, r, &rec)
	if rw.drop || rw.lost {
		rw.abort()
	}
}

// commonHeaders sets the headers SharePoint sends on every response.
func (s *Server) commonHeaders(h http.Header) {
	g := strings.ToLower(newGUID())
	h.Set("SPRequestGuid", g)
	h.Set("request-id", g)
	h.Set("MS-CV", "spemu"+g[:8])
	h.Set("SPRequestDuration", "5")
	h.Set("SPIisLatency", "0")
	h.Set("X-SharePointHealthScore", "0")
	h.Set("MicrosoftSharePointTeamServices", "16.0.0.26001")
	h.Set("X-MS-InvokeApp", "1; RequireReadOnly")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-FRAME-OPTIONS", "SAMEORIGIN")
	h.Set("P3P", `CP="ALL IND DSP COR ADM CONo CUR CUSo IVAo IVDo PSA PSD TAI TELo OUR SAMo CNT COM INT NAV ONL PHY PRE PUR UNI"`)
}

// route sends the request to a registered endpoint, the REST API or the
// WebDAV handler of the library.
func (s *Server) route(w *respWriter, r *http.Request, rec *RequestRecord) {
	p := r.URL.Path
	for _, rt := range routes {
		if !rt.matches(s, p) {
			continue
		}
		if !rt.Public {
			kind, ok := s.authenticate(w, r)
			rec.Auth = kind
			if !ok {
				return
			}
		} else {
			rec.Auth = "none"
		}
		rt.Handler(s, w, r)
		return
	}
	if hasPathPrefixFold(p, s.libPrefix) {
		libPath := cleanLibPath(p[len(s.libPrefix):])
		if r.Method != http.MethodOptions {
			kind, ok := s.authenticate(w, r)
			rec.Auth = kind
			if !ok {
				return
			}
		}
		s.serveDAV(w, r, libPath)
		return
	}
	if r.Method == http.MethodOptions {
		// The Windows redirector walks the path with OPTIONS; every level answers.
		s.davOptions(w)
		return
	}
	http.Error(w, "404 NOT FOUND", http.StatusNotFound)
}

// hasPathPrefixFold reports whether p is prefix or below it, ignoring case.
func hasPathPrefixFold(p, prefix string) bool {
	if len(p) < len(prefix) || !strings.EqualFold(p[:len(prefix)], prefix) {
		return false
	}
	return len(p) == len(prefix) || p[len(prefix)] == '/'
}

// Route is an extra endpoint of the emulator (REST, login), registered
// from an init function with registerRoute. Routes are tried in
// registration order before the library's WebDAV handler.
type Route struct {
	Name string
	// Prefix is a path prefix matched case-insensitively at a segment
	// boundary ("/_api" also matches "/_api/web"). With SiteRelative it is
	// relative to Config.Site ("/_api" → "/personal/alice_contoso_com/_api").
	Prefix       string
	SiteRelative bool
	// Match, when set, replaces Prefix matching (for paths with variable
	// parts such as "/<tenant>/oauth2/v2.0/token").
	Match func(s *Server, path string) bool
	// Public routes skip authentication (login endpoints); the others go
	// through the same check as WebDAV (cookie, basic, registered hooks).
	Public  bool
	Handler func(s *Server, w http.ResponseWriter, r *http.Request)
}

var routes []Route

// registerRoute adds an endpoint; call it from an init function.
func registerRoute(rt Route) { routes = append(routes, rt) }

func (rt Route) matches(s *Server, p string) bool {
	if rt.Match != nil {
		return rt.Match(s, p)
	}
	prefix := rt.Prefix
	if rt.SiteRelative {
		prefix = s.cfg.Site + prefix
	}
	return hasPathPrefixFold(p, prefix)
}

// countingBody counts (and optionally throttles) a request body.
type countingBody struct {
	rc    io.ReadCloser
	n     int64
	limit *rateLimiter
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.limit != nil && len(p) > b.limit.chunk {
		p = p[:b.limit.chunk]
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.limit != nil && n > 0 {
		b.limit.wait(n)
	}
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
