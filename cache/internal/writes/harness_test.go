package writes

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
)

// testWriter is a write side on its own: a meta.db of its own, and a
// host without listings or a content cache (every Stat and ReadDir asks
// the server, with the pending files laid over; content is read straight
// from the server). It stands in for the cache facade in this part's
// tests.
type testWriter struct {
	*Writer
	db        *bolt.DB
	closeOnce sync.Once
	left      int
}

// CloseWrites drains and stops the write side, once.
func (c *testWriter) CloseWrites() int {
	c.closeOnce.Do(func() { c.left = c.Writer.Close() })
	return c.left
}

// Close stops the write side and closes meta.db.
func (c *testWriter) Close() {
	c.CloseWrites()
	c.db.Close()
}

type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// writeCache opens a write side in dir on r, closed at the end of the test.
func writeCache(t *testing.T, dir string, r remote.Remote, wo WriteOptions) *testWriter {
	t.Helper()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"), "lib")
	if err != nil {
		t.Fatal(err)
	}
	if wo.WriteBack == 0 {
		wo.WriteBack = 20 * time.Millisecond
	}
	if wo.RetryBase == 0 {
		wo.RetryBase = 20 * time.Millisecond
	}
	wo.Hostname = "testhost"
	h := &testHost{r: r}
	w, err := New(Options{WriteOptions: wo, CacheDir: dir, DB: db, Remote: r, Host: h,
		Log: slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), Now: time.Now, TTL: time.Minute})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	h.w = w
	c := &testWriter{Writer: w, db: db}
	t.Cleanup(c.Close)
	return c
}

func syncCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testHost is a Host without listings: the server answers every Stat
// and ReadDir, with the pending files laid over.
type testHost struct {
	r remote.Remote
	w *Writer
}

func (h *testHost) Stat(ctx context.Context, p string) (remote.Entry, error) {
	if e, ok := h.w.PendingEntry(p); ok {
		return e, nil
	}
	return h.r.Stat(ctx, p)
}

func (h *testHost) ReadDir(ctx context.Context, dir string) ([]remote.Entry, error) {
	_, kids, err := h.r.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, k := range kids {
		have[fold(k.Path)] = true
	}
	for _, e := range h.w.PendingIn(dir) {
		if !have[fold(e.Path)] && !e.Hidden {
			kids = append(kids, e)
		}
	}
	return kids, nil
}

func (h *testHost) Invalidate(string)                               {}
func (h *testHost) SetEntry(remote.Entry)                           {}
func (h *testHost) SetEmpty(remote.Entry, time.Time)                {}
func (h *testHost) RemoveEntry(string)                              {}
func (h *testHost) ForgetTree(string)                               {}
func (h *testHost) DropContent(string)                              {}
func (h *testHost) AdoptContent(string, string, int64, string) bool { return false }

func (h *testHost) OpenContent(e remote.Entry) (ContentReader, error) {
	return serverReader{h.r, e.Path}, nil
}

// serverReader reads a file with one ranged GET per read.
type serverReader struct {
	r remote.Remote
	p string
}

func (s serverReader) ReadAt(ctx context.Context, b []byte, off int64) (int, error) {
	rc, _, err := s.r.Get(ctx, s.p, off, int64(len(b)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, b)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (serverReader) Close() error { return nil }
