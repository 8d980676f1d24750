package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/odfb/odfb/davclient/auth"
)

// Registry holds the metrics of every library a process serves.
type Registry struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	sentBytes    *prometheus.CounterVec
	recvBytes    *prometheus.CounterVec
	throttled    *prometheus.CounterVec
	throttleWait *prometheus.CounterVec
	reads        *prometheus.CounterVec
	readBytes    *prometheus.CounterVec
	renewals     *prometheus.CounterVec

	mu   sync.Mutex
	libs map[string]func() Snapshot
}

// Snapshot is a library's state at a scrape, from the cache's status.
type Snapshot struct {
	QueueFiles, QueueBytes int64 // uploads waiting or running
	FailingUploads         int64 // queued files whose last attempt failed
	LostFound              int64 // files in lost+found
	ConflictCopies         int64 // conflict copies made by this mount
	ContentBytes           int64 // cached content (bounded by --cache-size)
	StagingBytes           int64 // staged writes not yet uploaded
	AuthFailing            bool  // the server refuses the credentials
	Offline                bool  // the server cannot be reached
}

// New makes a registry with the Go runtime and process metrics too.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), libs: map[string]func() Snapshot{}}
	lib := []string{"library"}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "odfb", Name: name, Help: help}, labels)
		r.reg.MustRegister(c)
		return c
	}
	r.requests = counter("requests_total", "HTTP requests answered by the server, by verb and status (\"error\": no answer); retries counted each.", []string{"library", "verb", "status"})
	r.sentBytes = counter("sent_bytes_total", "Request body bytes sent to the server (uploads, PROPFIND and REST bodies).", lib)
	r.recvBytes = counter("received_bytes_total", "Response body bytes received from the server (downloads, listings).", lib)
	r.throttled = counter("throttled_total", "Throttled answers (429, 503, a 401 that is throttling).", lib)
	r.throttleWait = counter("throttle_wait_seconds_total", "Time spent waiting before retrying throttled requests.", lib)
	r.reads = counter("cache_reads_total", "Reads of file content: result hit (all cached) or miss (waited for a download).", []string{"library", "result"})
	r.readBytes = counter("cache_read_bytes_total", "Bytes of file content read through the mount, by hit or miss.", []string{"library", "result"})
	r.renewals = counter("auth_renewals_total", "Renewals of the sign-in after the server refused it: result ok or failed.", []string{"library", "result"})
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), statusCollector{r})
	return r
}

// Library is one library's side of the registry.
type Library struct {
	r    *Registry
	name string
}

// Library returns the observers for the library called name (its label).
func (r *Registry) Library(name string) *Library {
	return &Library{r: r, name: name}
}

// SetSnapshot sets the function read at each scrape for the library's
// queue and cache state.
func (l *Library) SetSnapshot(f func() Snapshot) {
	l.r.mu.Lock()
	l.r.libs[l.name] = f
	l.r.mu.Unlock()
}

// Throttled counts a throttled answer and the wait it caused
// (davclient.Options.OnThrottle).
func (l *Library) Throttled(_ int, wait time.Duration) {
	l.r.throttled.WithLabelValues(l.name).Inc()
	l.r.throttleWait.WithLabelValues(l.name).Add(wait.Seconds())
}

// Read counts a read of content (fusefs.Options.OnRead).
func (l *Library) Read(hit bool, n int) {
	res := "miss"
	if hit {
		res = "hit"
	}
	l.r.reads.WithLabelValues(l.name, res).Inc()
	l.r.readBytes.WithLabelValues(l.name, res).Add(float64(n))
}

// Transport wraps next to count requests and bytes
// (davclient.Options.WrapTransport).
func (l *Library) Transport(next http.RoundTripper) http.RoundTripper {
	return &transport{next: next, l: l}
}

type transport struct {
	next http.RoundTripper
	l    *Library
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := t.l.r
	if req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, c: r.sentBytes.WithLabelValues(t.l.name)}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		r.requests.WithLabelValues(t.l.name, req.Method, "error").Inc()
		return resp, err
	}
	r.requests.WithLabelValues(t.l.name, req.Method, strconv.Itoa(resp.StatusCode)).Inc()
	if resp.Body != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, c: r.recvBytes.WithLabelValues(t.l.name)}
	}
	return resp, nil
}

// countingBody adds the bytes read through it to a counter.
type countingBody struct {
	io.ReadCloser
	c prometheus.Counter
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.c.Add(float64(n))
	}
	return n, err
}

// Authenticator wraps a to count its renewals (Refresh) and their
// failures. Renewals a strategy makes by itself before credentials
// expire (inside Authorize) are not seen.
func (l *Library) Authenticator(a auth.Authenticator) auth.Authenticator {
	return &authenticator{Authenticator: a, l: l}
}

type authenticator struct {
	auth.Authenticator
	l *Library
}

func (a *authenticator) Refresh(ctx context.Context) error {
	err := a.Authenticator.Refresh(ctx)
	res := "ok"
	if err != nil {
		res = "failed"
	}
	a.l.r.renewals.WithLabelValues(a.l.name, res).Inc()
	return err
}

// statusCollector reads every library's Snapshot at each scrape.
type statusCollector struct{ r *Registry }

var (
	descQueueFiles = prometheus.NewDesc("odfb_upload_queue_files", "Files waiting for upload or being uploaded.", []string{"library"}, nil)
	descQueueBytes = prometheus.NewDesc("odfb_upload_queue_bytes", "Bytes of the files waiting for upload or being uploaded.", []string{"library"}, nil)
	descFailing    = prometheus.NewDesc("odfb_uploads_failing", "Queued files whose last upload attempt failed (they are retried).", []string{"library"}, nil)
	descLost       = prometheus.NewDesc("odfb_lost_found_files", "Files in lost+found: refused by the server for good, kept locally.", []string{"library"}, nil)
	descConflicts  = prometheus.NewDesc("odfb_conflict_copies", "Conflict copies made since the mount started.", []string{"library"}, nil)
	descContent    = prometheus.NewDesc("odfb_cache_content_bytes", "Bytes of cached file content (bounded by --cache-size).", []string{"library"}, nil)
	descStaging    = prometheus.NewDesc("odfb_cache_staging_bytes", "Bytes of staged writes not yet on the server (never evicted).", []string{"library"}, nil)
	descAuth       = prometheus.NewDesc("odfb_auth_failing", "1 while the server refuses the credentials (run odfb login), else 0.", []string{"library"}, nil)
	descOffline    = prometheus.NewDesc("odfb_offline", "1 while the server cannot be reached, else 0.", []string{"library"}, nil)
)

func (c statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueFiles, descQueueBytes, descFailing, descLost, descConflicts, descContent, descStaging, descAuth, descOffline} {
		ch <- d
	}
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	c.r.mu.Lock()
	libs := make(map[string]func() Snapshot, len(c.r.libs))
	for k, v := range c.r.libs {
		libs[k] = v
	}
	c.r.mu.Unlock()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for name, f := range libs {
		s := f()
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		gauge(descQueueFiles, float64(s.QueueFiles))
		gauge(descQueueBytes, float64(s.QueueBytes))
		gauge(descFailing, float64(s.FailingUploads))
		gauge(descLost, float64(s.LostFound))
		gauge(descConflicts, float64(s.ConflictCopies))
		gauge(descContent, float64(s.ContentBytes))
		gauge(descStaging, float64(s.StagingBytes))
		gauge(descAuth, b(s.AuthFailing))
		gauge(descOffline, b(s.Offline))
	}
}

// Handler serves the metrics in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorLog: nil})
}

// ListenAddr turns --metrics-addr into an address to listen on: a bare
// port ("9150") or one without a host (":9150") listens on loopback
// only; a host (0.0.0.0:9150, [::]:9150, 192.0.2.1:9150) is taken as
// given.
func ListenAddr(addr string) (string, error) {
	if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
		return net.JoinHostPort("127.0.0.1", addr), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", errors.New("want PORT, :PORT or HOST:PORT")
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Serve listens on addr (see ListenAddr) and serves /metrics until the
// returned function is called; it returns the address listened on.
func (r *Registry) Serve(addr string, log *slog.Logger) (string, func(), error) {
	a, err := ListenAddr(addr)
	if err != nil {
		return "", nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", a)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", r.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/" {
			http.NotFound(w, req)
			return
		}
		io.WriteString(w, "odfb: metrics are at /metrics\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", "err", err)
		}
	}()
	return ln.Addr().String(), func() { srv.Close() }, nil
}
