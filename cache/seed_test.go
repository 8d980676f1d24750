package cache

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

// readBack reads p whole through the content cache and returns its bytes
// and the GETs it cost.
func readBack(t *testing.T, c *Cache, srv *spemu.Server, p string) ([]byte, int) {
	t.Helper()
	srv.ResetRequests()
	data, h := readAll(t, c, p)
	h.Close()
	return data, countReqs(srv, method("GET"))
}

// TestUploadSeedsContentCache: a file written through the cache and
// uploaded (one PUT, or the REST session) is read back from the cache
// with no GET: its staging file became the cached content of the
// version the server named.
func TestUploadSeedsContentCache(t *testing.T) {
	for _, tc := range []struct {
		name string
		wo   WriteOptions
		via  func(spemu.RequestRecord) bool
	}{
		{"put", WriteOptions{}, method("PUT")},
		{"session", WriteOptions{PutLimit: 1 << 20, ChunkSize: 512 << 10}, rest("FinishUpload")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := spemutest.Start(t, spemu.Config{Auth: "none"})
			dir := t.TempDir()
			c := writeCache(t, dir, davFor(t, srv), tc.wo)
			ctx := context.Background()
			data := seeded(3<<20, 11)
			if _, err := c.Mkdir(ctx, "/backup"); err != nil {
				t.Fatal(err)
			}
			writeFile(t, c, "/backup/pack.bin", data)
			if err := c.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if n := countReqs(srv, tc.via); n != 1 {
				t.Fatalf("%d uploads of the expected kind, want 1", n)
			}
			if got, _ := srv.ReadFile("/backup/pack.bin"); !bytes.Equal(got, data) {
				t.Fatal("server content differs")
			}
			if u := c.ContentUsed(); u != int64(len(data)) {
				t.Errorf("content cache holds %d bytes, want the uploaded file's %d", u, len(data))
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "staging")); len(ents) != 0 {
				t.Errorf("%d files left in staging", len(ents))
			}
			got, gets := readBack(t, c, srv, "/backup/pack.bin")
			if !bytes.Equal(got, data) {
				t.Errorf("read back %d bytes, not what was written", len(got))
			}
			if gets != 0 {
				t.Errorf("read back of a file just uploaded: %d GETs, want 0", gets)
			}
			// The seeded entry survives a restart like downloaded content.
			closeCache(c)
			c2 := writeCache(t, dir, davFor(t, srv), tc.wo)
			got, gets = readBack(t, c2, srv, "/backup/pack.bin")
			if !bytes.Equal(got, data) || gets != 0 {
				t.Errorf("after a restart: %d GETs, right bytes %v; want 0, true", gets, bytes.Equal(got, data))
			}
		})
	}
}

// TestSeededDroppedWhenServerRewrites: when the server holds another
// version than the one uploaded (rewritten by SharePoint or changed by
// someone else), the next listing's ETag differs and the seeded content
// is not served.
func TestSeededDroppedWhenServerRewrites(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{})
	ctx := context.Background()
	ours, theirs := seeded(1<<20, 1), seeded(1<<20, 2)
	writeFile(t, c, "/f.bin", ours)
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.WriteFile("/f.bin", theirs); err != nil { // same size, new ETag
		t.Fatal(err)
	}
	c.Invalidate("/")
	got, gets := readBack(t, c, srv, "/f.bin")
	if !bytes.Equal(got, theirs) {
		t.Error("read back the uploaded bytes, not the server's new version")
	}
	if gets == 0 {
		t.Error("the server's new version was read with no GET")
	}
}

// TestOfficeUploadNotSeeded: SharePoint rewrites Office files after
// upload (spemu OfficeMutation): reading one back gives the server's
// bytes, not ours.
func TestOfficeUploadNotSeeded(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none", OfficeMutation: true})
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{})
	ours := seeded(300<<10, 5)
	writeFile(t, c, "/report.docx", ours)
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	onServer, err := srv.ReadFile("/report.docx")
	if err != nil || bytes.Equal(onServer, ours) {
		t.Fatalf("spemu did not rewrite the docx (%v)", err)
	}
	if u := c.ContentUsed(); u != 0 {
		t.Errorf("content cache holds %d bytes of an Office file just uploaded, want 0", u)
	}
	got, _ := readBack(t, c, srv, "/report.docx")
	if !bytes.Equal(got, onServer) {
		t.Errorf("read back %d bytes, want the server's rewritten %d", len(got), len(onServer))
	}
}

// TestWriteDuringUploadNotSeededStale: a file changed while its upload
// commits is not seeded with the version that went up; the later upload
// of the new content is, and reading back gives the new content.
func TestWriteDuringUploadNotSeededStale(t *testing.T) {
	for _, gate := range []string{"Put", "FinishUpload"} {
		t.Run(gate, func(t *testing.T) {
			srv := spemutest.Start(t, spemu.Config{Auth: "none"})
			g := newGated(t, srv, gate)
			wo := WriteOptions{}
			if gate == "FinishUpload" {
				wo = WriteOptions{PutLimit: 64 << 10, ChunkSize: 64 << 10}
			}
			c := writeCache(t, t.TempDir(), g, wo)
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
			waitWriter(t, c, "/fin.bin", wrote)
			close(g.release)
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			// v1 is committed (FinishUpload) or cut (Put): either way the
			// cache must not hold it as the file's content.
			if u := c.ContentUsed(); u != 0 {
				t.Errorf("content cache holds %d bytes while the file is open for the new version", u)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Sync(syncCtx(t)); err != nil {
				t.Fatal(err)
			}
			if got, _ := srv.ReadFile("/fin.bin"); !bytes.Equal(got, v2) {
				t.Fatal("server does not hold the new version")
			}
			got, gets := readBack(t, c, g.srv, "/fin.bin")
			if !bytes.Equal(got, v2) {
				t.Errorf("read back the stale version (v1 %v)", bytes.Equal(got, v1))
			}
			if gets != 0 {
				t.Errorf("%d GETs reading back the new version, want 0 (it was seeded)", gets)
			}
		})
	}
}

// TestSeededCountsAndEvicts: seeded files count toward --cache-size and
// are evicted like downloaded content, least recently used first.
func TestSeededCountsAndEvicts(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	dir := t.TempDir()
	c, err := Open(Options{Dir: dir, Library: "lib", Remote: davFor(t, srv), CacheSize: 4 << 20,
		Logger: slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartWrites(WriteOptions{WriteBack: 20 * time.Millisecond, RetryBase: 20 * time.Millisecond, Hostname: "testhost"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeCache(c) })
	ctx := context.Background()
	a, b := seeded(3<<20, 1), seeded(3<<20, 2)
	writeFile(t, c, "/a.bin", a)
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if u := c.ContentUsed(); u != 3<<20 {
		t.Fatalf("after uploading a: %d bytes cached, want %d", u, 3<<20)
	}
	time.Sleep(10 * time.Millisecond) // a is older (LastUsed): not a timing assertion
	writeFile(t, c, "/b.bin", b)
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if u := c.ContentUsed(); u != 3<<20 {
		t.Errorf("after uploading b over a 4 MiB cache: %d bytes cached, want %d (a evicted)", u, 3<<20)
	}
	if files, _ := os.ReadDir(filepath.Join(dir, "content")); len(files) != 1 {
		t.Errorf("%d files under content/, want 1", len(files))
	}
	if got, gets := readBack(t, c, srv, "/b.bin"); !bytes.Equal(got, b) || gets != 0 {
		t.Errorf("b: %d GETs, right bytes %v; want 0, true", gets, bytes.Equal(got, b))
	}
	if got, gets := readBack(t, c, srv, "/a.bin"); !bytes.Equal(got, a) || gets == 0 {
		t.Errorf("a (evicted): %d GETs, right bytes %v; want some, true", gets, bytes.Equal(got, a))
	}
}
