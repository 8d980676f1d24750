package spemu

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// respWriter wraps every response: it records status and body bytes for
// the request log, applies the bandwidth cap, cuts "drop" responses short
// and tells the connection to rewrite the reason phrase.
type respWriter struct {
	http.ResponseWriter
	status     int
	n          int64
	pc         *phraseConn
	limit      *rateLimiter
	drop       bool  // cut the connection part-way through the body
	lost       bool  // send nothing of the answer; the caller cuts the connection
	headerSent bool  // the real WriteHeader was called
	cut        int64 // body bytes to let through before the cut
	// final, when set, is called once just before the write that
	// completes a body of declared Content-Length: the request is logged
	// before the client can have the whole answer, so a test that counts
	// records right after a response never misses it.
	final func(respBytes int64)
	cl    int64 // declared Content-Length, -1 unknown
}

func (w *respWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	if code >= 100 && code < 200 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	if w.lost {
		return
	}
	if w.drop {
		// Hold the header back: a response without a body is cut before
		// anything is sent, one with a body after half of it.
		w.cut = 256
		if cl, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); err == nil {
			w.cut = cl / 2
		}
		return
	}
	w.sendHeader()
}

func (w *respWriter) sendHeader() {
	w.headerSent = true
	w.cl = -1
	if cl, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); err == nil {
		w.cl = cl
	}
	if w.pc != nil {
		w.pc.expectStatus()
	}
	w.ResponseWriter.WriteHeader(w.status)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.lost {
		w.n += int64(len(p))
		return len(p), nil
	}
	written := 0
	if w.drop {
		if !w.headerSent {
			w.sendHeader()
		}
		if rest := w.cut - w.n; int64(len(p)) >= rest {
			n, _ := w.write(p[:rest])
			w.n += int64(n)
			w.abort()
		}
	}
	for len(p) > 0 {
		chunk := p
		if w.limit != nil && len(chunk) > w.limit.chunk {
			chunk = chunk[:w.limit.chunk]
		}
		if w.final != nil && w.cl >= 0 && w.n+int64(len(chunk)) >= w.cl {
			f := w.final
			w.final = nil
			f(w.cl)
		}
		n, err := w.write(chunk)
		w.n += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		if w.limit != nil {
			w.limit.wait(n)
		}
		p = p[n:]
	}
	return written, nil
}

func (w *respWriter) write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return w.ResponseWriter.Write(p)
}

// abort flushes what was written and cuts the connection.
func (w *respWriter) abort() {
	if w.headerSent {
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
	panic(http.ErrAbortHandler)
}

// Flush implements http.Flusher.
func (w *respWriter) Flush() {
	if w.lost || (w.drop && !w.headerSent) {
		return
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// rateLimiter paces a byte stream to rate bytes/s.
type rateLimiter struct {
	rate  int64
	start time.Time
	sent  int64
	chunk int
}

func newRateLimiter(rate int64) *rateLimiter {
	chunk := int(rate / 20)
	chunk = max(512, min(chunk, 64<<10))
	return &rateLimiter{rate: rate, start: time.Now(), chunk: chunk}
}

func (l *rateLimiter) wait(n int) {
	l.sent += int64(n)
	due := l.start.Add(time.Duration(float64(l.sent) / float64(l.rate) * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}

// SharePoint answers HTTP/1.1 with upper-case reason phrases ("207
// MULTI-STATUS"). net/http has no hook for the phrase, so connections
// accepted by Start are wrapped: when a handler sends its header, the
// connection rewrites the status line of the next write that starts one.
// Go writes a response's status line at the start of a write to the
// connection (the previous response was flushed before the next request
// was read), so body bytes are never touched.
type phraseListener struct{ net.Listener }

func (l *phraseListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &phraseConn{Conn: c}, nil
}

type phraseConnKey struct{}

type phraseConn struct {
	net.Conn
	mu     sync.Mutex
	expect bool
}

func (c *phraseConn) expectStatus() {
	c.mu.Lock()
	c.expect = true
	c.mu.Unlock()
}

var http11 = []byte("HTTP/1.1 ")

func (c *phraseConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	exp := c.expect
	if exp && bytes.HasPrefix(p, http11) {
		c.expect = false
	}
	c.mu.Unlock()
	if !exp || !bytes.HasPrefix(p, http11) {
		return c.Conn.Write(p)
	}
	end := bytes.Index(p, []byte("\r\n"))
	if end < len(http11)+3 {
		return c.Conn.Write(p)
	}
	code, err := strconv.Atoi(string(p[len(http11) : len(http11)+3]))
	text := strings.ToUpper(http.StatusText(code))
	if err != nil || text == "" {
		return c.Conn.Write(p)
	}
	line := make([]byte, 0, len(p)+8)
	line = append(line, p[:len(http11)+3]...)
	line = append(line, ' ')
	line = append(line, text...)
	line = append(line, p[end:]...)
	if _, err := c.Conn.Write(line); err != nil {
		return 0, err
	}
	return len(p), nil
}
