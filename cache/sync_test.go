package cache

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// syncCtx bounds a Sync in a test: a Sync that would wait forever fails
// the test instead of hanging it.
func syncCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitForced waits until a Sync has marked the pending file at p.
func waitForced(t *testing.T, c *Cache, p string) {
	t.Helper()
	w := c.wr()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if pi, ok := w.Inspect(p); ok && pi.Forced > 0 {
			return
		}
	}
	t.Fatalf("%s was never forced by the sync", p)
}

// TestSyncSurvivesLateRelease: close() returns after FUSE FLUSH and the
// RELEASE (WriteHandle.Close) arrives later, possibly while `odfb sync`
// already waits for the file. That last close must not put the file back
// on the write-back timer: the Sync would wait the whole write-back (here
// an hour) for it.
func TestSyncSurvivesLateRelease(t *testing.T) {
	f := remotetest.New()
	c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Hour})
	ctx := context.Background()
	h, err := c.OpenWrite(ctx, "/late.txt", true, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, []byte("flushed, released late"), 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil { // close(2): FLUSH
		t.Fatal(err)
	}
	// Keep the upload from starting until the release has happened (as a
	// busy transfer slot would), so that the order is the racy one.
	release, err := c.wr().Hold(ctx, "/late.txt")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Sync(syncCtx(t)) }()
	waitForced(t, c, "/late.txt")
	if err := h.Close(); err != nil { // RELEASE, after the sync began
		t.Fatal(err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("sync: %v (the last close cancelled the sync's force)", err)
	}
	if e, err := f.Stat(ctx, "/late.txt"); err != nil || e.Size != int64(len("flushed, released late")) {
		t.Errorf("server after sync: %+v %v", e, err)
	}
}

// TestSyncIgnoresLaterWrites: a file flushed before the sync and written
// again (not flushed) while its upload runs is done for this Sync once
// the flushed version is on the server; the Sync does not wait for the
// application's next close.
func TestSyncIgnoresLaterWrites(t *testing.T) {
	f := remotetest.New()
	c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Hour})
	ctx := context.Background()
	h, err := c.OpenWrite(ctx, "/log.txt", true, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.WriteAt(ctx, []byte("line 1\n"), 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	release, err := c.wr().Hold(ctx, "/log.txt")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Sync(syncCtx(t)) }()
	waitForced(t, c, "/log.txt")
	if _, err := h.WriteAt(ctx, []byte("line 2\n"), 7); err != nil { // not flushed
		t.Fatal(err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("sync: %v (waited for writes made after it began)", err)
	}
	if _, err := f.Stat(ctx, "/log.txt"); err != nil {
		t.Errorf("flushed version not on the server: %v", err)
	}
}

// TestSyncUploadReportsRefusal: with --sync-upload, a file the server
// refuses for good goes to lost+found and its close() (Flush) returns the
// refusal, whose kind gives the application's errno; it is not success.
func TestSyncUploadReportsRefusal(t *testing.T) {
	f := remotetest.New()
	c := writeCache(t, t.TempDir(), f, WriteOptions{SyncUpload: true, WriteBack: time.Hour})
	ctx := context.Background()
	for _, kind := range []error{remote.ErrTooLarge, remote.ErrInvalidName, remote.ErrForbidden} {
		p := "/" + strings.ReplaceAll(kind.Error(), " ", "_")
		f.Fail("Put", &remote.Error{Kind: kind, Op: "PUT", Path: p})
		h, err := c.OpenWrite(ctx, p, true, false, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.WriteAt(ctx, []byte("refused"), 0); err != nil {
			t.Fatal(err)
		}
		err = h.Flush(ctx)
		var le *LostError
		if !errors.Is(err, kind) || !errors.As(err, &le) {
			t.Errorf("%s: flush returned %v, want the refusal (%v) and where it is kept", p, err, kind)
		} else if data, rerr := os.ReadFile(le.File); rerr != nil || string(data) != "refused" {
			t.Errorf("%s: lost+found copy %s: %q %v", p, le.File, data, rerr)
		}
		// A second close of a dup'ed descriptor says the same.
		if err2 := h.Flush(ctx); !errors.Is(err2, kind) {
			t.Errorf("%s: second flush returned %v", p, err2)
		}
		if err := h.Close(); err != nil {
			t.Errorf("%s: release: %v", p, err)
		}
	}
	f.Fail("Put", nil)
	if n := len(c.LostFound()); n != 3 {
		t.Errorf("lost+found holds %d files, want 3", n)
	}
	// An unlinked file is not an error.
	h, err := c.OpenWrite(ctx, "/unlinked.txt", true, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "/unlinked.txt"); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil {
		t.Errorf("flush of an unlinked file: %v", err)
	}
	h.Close()
}

// TestSyncUploadTruncateThenWrite: open(O_TRUNC) of an existing file
// reaches the cache as Truncate(0) and then the open. With --sync-upload
// the truncation must not be uploaded on its own: the server's copy would
// be emptied before the new content arrives, and stay empty if that
// content is refused.
func TestSyncUploadTruncateThenWrite(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/doc.txt", []byte("server copy"), time.Unix(1700000000, 0))
	c := writeCache(t, t.TempDir(), f, WriteOptions{SyncUpload: true, WriteBack: time.Hour})
	ctx := context.Background()
	if err := c.Truncate(ctx, "/doc.txt", 0); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("Put"); n != 0 {
		t.Fatalf("truncate uploaded the empty file (%d PUTs)", n)
	}
	f.Fail("Put", &remote.Error{Kind: remote.ErrTooLarge, Op: "PUT", Path: "/doc.txt"})
	h, err := c.OpenWrite(ctx, "/doc.txt", false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, []byte("new content the server refuses"), 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); !errors.Is(err, remote.ErrTooLarge) {
		t.Errorf("flush: %v, want the refusal", err)
	}
	h.Close()
	rc, _, err := f.Get(ctx, "/doc.txt", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if data, _ := io.ReadAll(rc); string(data) != "server copy" {
		t.Errorf("server copy after a refused rewrite: %q", data)
	}
}
