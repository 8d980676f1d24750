package spemu

import (
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// RequestRecord is one answered request, as written to the request log
// (one JSON object per line) and returned by Server.Requests. It never
// holds a cookie, token or password.
type RequestRecord struct {
	Time      time.Time `json:"time"`            // when the request arrived (RFC 3339)
	Method    string    `json:"method"`          // HTTP method
	Path      string    `json:"path"`            // decoded URL path without query
	Query     string    `json:"query"`           // raw query string
	Status    int       `json:"status"`          // status sent; 0 when the connection was cut before any
	ReqBytes  int64     `json:"req_bytes"`       // request body bytes read
	RespBytes int64     `json:"resp_bytes"`      // response body bytes written
	DurMS     float64   `json:"dur_ms"`          // time to answer, milliseconds
	Fault     string    `json:"fault"`           // "", "throttle", "fail", "drop", "lost", "down", "latency", "bandwidth"
	Depth     string    `json:"depth,omitempty"` // PROPFIND Depth header
	Range     string    `json:"range,omitempty"` // GET Range header
	Auth      string    `json:"auth,omitempty"`  // "cookie","basic","bearer","none","denied" — never the secret
}

// requestLog keeps records in memory (all, or a ring of the last limit)
// and writes each as a JSON line. One mutex; the encoder reuses its buffer.
type requestLog struct {
	mu     sync.Mutex
	w      io.Writer
	enc    *json.Encoder
	limit  int
	recs   []RequestRecord
	next   int // ring position when len(recs) == limit
	logger *slog.Logger
	failed bool
}

func newRequestLog(w io.Writer, limit int, logger *slog.Logger) *requestLog {
	l := &requestLog{w: w, limit: limit, logger: logger}
	if w != nil {
		l.enc = json.NewEncoder(w)
	}
	return l
}

func (l *requestLog) add(r *RequestRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit > 0 && len(l.recs) >= l.limit {
		l.recs[l.next] = *r
		l.next = (l.next + 1) % l.limit
	} else {
		l.recs = append(l.recs, *r)
	}
	if l.enc != nil {
		if err := l.enc.Encode(r); err != nil && !l.failed {
			l.failed = true
			l.logger.Warn("spemu: writing the request log failed; further errors are not reported", "err", err)
		}
	}
}

func (l *requestLog) snapshot() []RequestRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]RequestRecord, 0, len(l.recs))
	if l.limit > 0 && len(l.recs) >= l.limit {
		out = append(out, l.recs[l.next:]...)
		out = append(out, l.recs[:l.next]...)
		return out
	}
	return append(out, l.recs...)
}

func (l *requestLog) reset() {
	l.mu.Lock()
	l.recs = nil
	l.next = 0
	l.mu.Unlock()
}

// Requests returns a copy of the records kept so far, in the order the
// requests were answered (all of them unless Config.RequestLogLimit
// bounds the memory).
func (s *Server) Requests() []RequestRecord { return s.reqlog.snapshot() }

// ResetRequests forgets the records kept in memory (the log file keeps them).
func (s *Server) ResetRequests() { s.reqlog.reset() }
