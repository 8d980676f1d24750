package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

// gatedRemote is davclient against spemu with one upload call stopped in
// the middle (gate: "Put" halfway through its body, "ContinueUpload"
// before the second chunk, "FinishUpload" before it is sent) until the
// test releases it or the upload is cancelled. It records every version
// the server committed (read back from spemu after each successful Put
// and FinishUpload) and whether the stopped call was cancelled.
type gatedRemote struct {
	*davclient.Client
	srv      *spemu.Server
	gate     string
	reached  chan struct{} // closed when the gated call stops
	release  chan struct{} // closed by the test
	mu       sync.Mutex
	armed    bool
	commits  [][]byte
	canceled bool // the gated call ended by cancellation
}

func newGated(t *testing.T, srv *spemu.Server, gate string) *gatedRemote {
	return &gatedRemote{Client: davFor(t, srv), srv: srv, gate: gate, armed: true,
		reached: make(chan struct{}), release: make(chan struct{})}
}

// stop blocks the first call of the gated kind until release or ctx.
func (g *gatedRemote) stop(ctx context.Context, op string) error {
	g.mu.Lock()
	hit := g.armed && op == g.gate
	if hit {
		g.armed = false
	}
	g.mu.Unlock()
	if !hit {
		return nil
	}
	close(g.reached)
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		g.canceled = true
		g.mu.Unlock()
		return ctx.Err()
	}
}

func (g *gatedRemote) committed(p string) {
	data, err := g.srv.ReadFile(p)
	if err != nil {
		panic(err)
	}
	g.mu.Lock()
	g.commits = append(g.commits, data)
	g.mu.Unlock()
}

// halfGate is a PUT body that stops (gatedRemote.stop) before giving
// its second half.
type halfGate struct {
	ctx  context.Context
	g    *gatedRemote
	r    io.ReaderAt
	size int64
}

func (h *halfGate) ReadAt(b []byte, off int64) (int, error) {
	if half := h.size / 2; off+int64(len(b)) > half && off < half+1 {
		if off < half { // give the first half, then stop
			return h.r.ReadAt(b[:half-off], off)
		}
		if err := h.g.stop(h.ctx, "Put"); err != nil {
			return 0, err
		}
	}
	return h.r.ReadAt(b, off)
}

func (g *gatedRemote) Put(ctx context.Context, p string, body io.ReaderAt, size int64, opts remote.PutOptions) (string, error) {
	etag, err := g.Client.Put(ctx, p, &halfGate{ctx: ctx, g: g, r: body, size: size}, size, opts)
	if err == nil {
		g.committed(p)
	}
	return etag, err
}

func (g *gatedRemote) ContinueUpload(ctx context.Context, p, id string, off int64, chunk io.ReaderAt, n int64) (int64, error) {
	if err := g.stop(ctx, "ContinueUpload"); err != nil {
		return 0, err
	}
	return g.Client.ContinueUpload(ctx, p, id, off, chunk, n)
}

func (g *gatedRemote) FinishUpload(ctx context.Context, p, id string, off int64, chunk io.ReaderAt, n int64) (string, error) {
	if err := g.stop(ctx, "FinishUpload"); err != nil {
		return "", err
	}
	etag, err := g.Client.FinishUpload(ctx, p, id, off, chunk, n)
	if err == nil {
		g.committed(p)
	}
	return etag, err
}

func (g *gatedRemote) result() ([][]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]byte(nil), g.commits...), g.canceled
}

// etagVersion is the version number in a spemu ETag ("{GUID},N").
func etagVersion(t *testing.T, etag string) int {
	t.Helper()
	i := strings.LastIndexByte(etag, ',')
	n, err := strconv.Atoi(strings.Trim(etag[i+1:], `"`))
	if i < 0 || err != nil {
		t.Fatalf("etag %q has no version", etag)
	}
	return n
}

// waitReached waits for the gated call (bounded, so a broken upload
// fails the test instead of hanging it).
func waitReached(t *testing.T, g *gatedRemote) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(30 * time.Second):
		t.Fatalf("the upload never reached the %s gate", g.gate)
	}
}

// checkCommits: every version the server committed is one closed
// locally (no mix), in order, and the last is want.
func checkCommits(t *testing.T, commits [][]byte, closed [][]byte, want []byte) {
	t.Helper()
	for i, got := range commits {
		ok := false
		for _, v := range closed {
			ok = ok || bytes.Equal(got, v)
		}
		if !ok {
			t.Errorf("commit %d: the server committed %d bytes that were never a closed version (a mix)", i, len(got))
		}
	}
	if len(commits) == 0 || !bytes.Equal(commits[len(commits)-1], want) {
		t.Errorf("the last commit is not the last version (%d commits)", len(commits))
	}
}

// checkNoFailure: a cancelled upload is not a failure.
func checkNoFailure(t *testing.T, c *Cache) {
	t.Helper()
	st := c.Status()
	for _, q := range st.Queue {
		if q.Attempts != 0 || q.LastError != "" || !q.NextTry.IsZero() {
			t.Errorf("the cancelled upload counts as a failure: %+v", q)
		}
	}
	if len(st.LostFound) != 0 {
		t.Errorf("lost+found: %+v", st.LostFound)
	}
}

// TestWriteCancelsPut: a file changed (write, truncate, or open with
// O_TRUNC) while its PUT is halfway through the body cancels the PUT
// before the change touches the staging file. spemu keeps the old file
// and ETag (the cut PUT is not committed), the cancelled attempt is no
// failure, and the new version goes up after the close; the server never
// holds bytes of both versions.
func TestWriteCancelsPut(t *testing.T) {
	for _, how := range []string{"write", "truncate", "otrunc"} {
		t.Run(how, func(t *testing.T) {
			srv := spemutest.Start(t, spemu.Config{Auth: "none"})
			v0 := seeded(200<<10, 1)
			if err := srv.WriteFile("/doc.bin", v0); err != nil {
				t.Fatal(err)
			}
			etag0, _ := srv.ETag("/doc.bin")
			g := newGated(t, srv, "Put")
			c := writeCache(t, t.TempDir(), g, WriteOptions{})
			ctx := context.Background()
			v1, v2 := seeded(256<<10, 2), seeded(256<<10, 3)
			writeFile(t, c, "/doc.bin", v1)
			waitReached(t, g)

			var h *WriteHandle
			var err error
			switch how {
			case "write":
				h, err = c.OpenWrite(ctx, "/doc.bin", false, false, false)
				if err == nil {
					_, err = h.WriteAt(ctx, v2, 0)
				}
			case "truncate":
				h, err = c.OpenWrite(ctx, "/doc.bin", false, false, false)
				if err == nil {
					err = h.Truncate(ctx, 0)
				}
				if err == nil {
					_, err = h.WriteAt(ctx, v2, 0)
				}
			case "otrunc":
				h, err = c.OpenWrite(ctx, "/doc.bin", true, false, true)
				if err == nil {
					_, err = h.WriteAt(ctx, v2, 0)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			// The change waited for the uploader to let go: the PUT is over.
			if _, canceled := g.result(); !canceled {
				t.Error("the PUT was not cancelled by the change")
			}
			if got, _ := srv.ReadFile("/doc.bin"); !bytes.Equal(got, v0) {
				t.Errorf("after the cut PUT the server holds %d bytes, not the old file", len(got))
			}
			if e, _ := srv.ETag("/doc.bin"); e != etag0 {
				t.Errorf("after the cut PUT the ETag is %s, want the old %s", e, etag0)
			}
			checkNoFailure(t, c)
			close(g.release)
			if err := h.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Sync(syncCtx(t)); err != nil {
				t.Fatal(err)
			}
			commits, _ := g.result()
			checkCommits(t, commits, [][]byte{v1, v2}, v2)
			if len(commits) != 1 {
				t.Errorf("%d commits, want 1 (only the new version)", len(commits))
			}
			e, _ := srv.ETag("/doc.bin")
			if etagVersion(t, e) != etagVersion(t, etag0)+1 {
				t.Errorf("ETag %s after one commit over %s: the cut PUT made a version", e, etag0)
			}
			if n := countReqs(srv, method("PUT")); n != 2 {
				t.Errorf("%d PUT, want 2 (the cut one and the new version)", n)
			}
			checkNoFailure(t, c)
		})
	}
}

// TestWriteCancelsChunkedSession: a change between two chunks of a REST
// upload session cancels the session (CancelUpload; no FinishUpload of a
// mixed file) and a new session later sends the new version.
func TestWriteCancelsChunkedSession(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	v0 := seeded(100<<10, 4)
	if err := srv.WriteFile("/big.bin", v0); err != nil {
		t.Fatal(err)
	}
	g := newGated(t, srv, "ContinueUpload")
	c := writeCache(t, t.TempDir(), g, WriteOptions{PutLimit: 64 << 10, ChunkSize: 64 << 10})
	ctx := context.Background()
	v1, v2 := seeded(4*64<<10+100, 5), seeded(4*64<<10+100, 6)
	writeFile(t, c, "/big.bin", v1)
	waitReached(t, g)
	h, err := c.OpenWrite(ctx, "/big.bin", false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, v2, 0); err != nil {
		t.Fatal(err)
	}
	if _, canceled := g.result(); !canceled {
		t.Error("the session was not cancelled by the change")
	}
	if n := countReqs(srv, rest("CancelUpload")); n != 1 {
		t.Errorf("%d CancelUpload, want 1", n)
	}
	if recs, _ := metadb.LoadJournal(c.db); len(recs) != 1 || recs[0].UploadID != "" {
		t.Errorf("the journal still names the cancelled session: %+v", recs)
	}
	checkNoFailure(t, c)
	close(g.release)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	commits, _ := g.result()
	checkCommits(t, commits, [][]byte{v1, v2}, v2)
	if n := countReqs(srv, rest("FinishUpload")); n != 1 {
		t.Errorf("%d FinishUpload, want 1 (the new version's)", n)
	}
	if n := countReqs(srv, rest("StartUpload")); n != 2 {
		t.Errorf("%d StartUpload, want 2 (the cancelled session, a new one)", n)
	}
	checkNoFailure(t, c)
}

// TestWriteDuringFinishUpload: a change while FinishUpload is in flight
// waits for it: the old version is committed whole, then the new one.
func TestWriteDuringFinishUpload(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	g := newGated(t, srv, "FinishUpload")
	c := writeCache(t, t.TempDir(), g, WriteOptions{PutLimit: 64 << 10, ChunkSize: 64 << 10})
	ctx := context.Background()
	v1, v2 := seeded(3*64<<10+100, 7), seeded(3*64<<10+100, 8)
	writeFile(t, c, "/fin.bin", v1)
	waitReached(t, g)
	h, err := c.OpenWrite(ctx, "/fin.bin", false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := h.WriteAt(ctx, v2, 0)
		wrote <- err
	}()
	// Release FinishUpload once the write waits for it.
	waitWriter(t, c, "/fin.bin", wrote)
	close(g.release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if _, canceled := g.result(); canceled {
		t.Error("FinishUpload was cancelled")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	commits, _ := g.result()
	checkCommits(t, commits, [][]byte{v1, v2}, v2)
	if len(commits) != 2 || !bytes.Equal(commits[0], v1) {
		t.Errorf("%d commits, want the old version whole, then the new one", len(commits))
	}
	if n := countReqs(srv, rest("CancelUpload")); n != 0 {
		t.Errorf("%d CancelUpload, want 0", n)
	}
	checkNoFailure(t, c)
}

// TestOpenWithoutChangeKeepsUpload: opening a file for writing (and
// reading it) while its PUT runs does not cancel the PUT, and closing
// it unchanged sends nothing more.
func TestOpenWithoutChangeKeepsUpload(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	g := newGated(t, srv, "Put")
	c := writeCache(t, t.TempDir(), g, WriteOptions{})
	ctx := context.Background()
	v1 := seeded(128<<10, 9)
	writeFile(t, c, "/keep.bin", v1)
	waitReached(t, g)
	h, err := c.OpenWrite(ctx, "/keep.bin", true, false, false)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, err := h.ReadAt(ctx, buf, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	commits, canceled := g.result()
	if canceled {
		t.Error("an open without a change cancelled the PUT")
	}
	checkCommits(t, commits, [][]byte{v1}, v1)
	if n := countReqs(srv, method("PUT")); n != 1 {
		t.Errorf("%d PUT, want 1", n)
	}
	if c.PendingUploads() != 0 {
		t.Error("file still queued")
	}
}

// waitWriter waits until the write running in wrote waits for the upload
// of p (or, if it does not wait, has returned; the caller then finds
// what went wrong).
func waitWriter(t *testing.T, c *Cache, p string, wrote chan error) {
	t.Helper()
	w := c.wr()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		select {
		case err := <-wrote:
			wrote <- err
			return
		default:
		}
		if pi, ok := w.Inspect(p); ok && pi.Mutating > 0 && pi.Uploading {
			return
		}
	}
	t.Fatal("the write neither waited nor returned")
}

// TestWriteDuringSyncWaits: a change while a Sync waits for the running
// upload does not cancel it (the Sync would lose the version it waits
// for): the change waits, the Sync gets the old version whole, and the
// new one goes up after.
func TestWriteDuringSyncWaits(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	g := newGated(t, srv, "Put")
	c := writeCache(t, t.TempDir(), g, WriteOptions{})
	ctx := context.Background()
	v1, v2 := seeded(128<<10, 10), seeded(128<<10, 11)
	writeFile(t, c, "/s.bin", v1)
	waitReached(t, g)
	synced := make(chan error, 1)
	go func() { synced <- c.Sync(syncCtx(t)) }()
	waitForced(t, c, "/s.bin")
	h, err := c.OpenWrite(ctx, "/s.bin", false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := h.WriteAt(ctx, v2, 0)
		wrote <- err
	}()
	waitWriter(t, c, "/s.bin", wrote)
	close(g.release)
	if err := <-synced; err != nil {
		t.Fatalf("sync: %v", err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	commits, canceled := g.result()
	if canceled || len(commits) != 1 || !bytes.Equal(commits[0], v1) {
		t.Fatalf("the sync's version was not committed whole (cancelled %v, %d commits)", canceled, len(commits))
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	commits, _ = g.result()
	checkCommits(t, commits, [][]byte{v1, v2}, v2)
	checkNoFailure(t, c)
}
