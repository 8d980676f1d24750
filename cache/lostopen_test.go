package cache

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestRefusedWhileOpenKeepsLaterWrites: without --sync-upload, a file
// the server refuses for good while it is still open (here: fsynced,
// then uploaded by a Sync) is copied to lost+found at that moment. What
// the application writes afterwards must reach lost+found too — at the
// next flush, or at the last close — and that close (and fsync) returns
// the refusal, whose kind gives the errno (EFBIG, EINVAL, EACCES), instead
// of success while the data is dropped with the staging file.
func TestRefusedWhileOpenKeepsLaterWrites(t *testing.T) {
	f := remotetest.New()
	dir := t.TempDir()
	c := writeCache(t, dir, f, WriteOptions{WriteBack: time.Hour})
	ctx := context.Background()
	refuse := func(p string, kind error) *WriteHandle {
		t.Helper()
		f.Fail("Put", &remote.Error{Kind: kind, Op: "PUT", Path: p})
		h, err := c.OpenWrite(ctx, p, true, false, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.WriteAt(ctx, []byte("before|"), 0); err != nil {
			t.Fatal(err)
		}
		if err := h.Fsync(ctx); err != nil {
			t.Fatalf("fsync before the refusal: %v", err)
		}
		var se *SyncError
		if err := c.Sync(syncCtx(t)); !errors.As(err, &se) || len(se.Lost) != 1 {
			t.Fatalf("sync: %v, want %s in lost+found", err, p)
		}
		return h
	}
	lostFile := func(p string) string {
		t.Helper()
		for _, it := range c.LostFound() {
			if it.Path == p {
				data, err := os.ReadFile(it.File)
				if err != nil {
					t.Fatal(err)
				}
				return string(data)
			}
		}
		t.Fatalf("%s not in lost+found", p)
		return ""
	}

	for _, kind := range []error{remote.ErrTooLarge, remote.ErrInvalidName, remote.ErrForbidden} {
		p := "/" + strings.ReplaceAll(kind.Error(), " ", "_")
		h := refuse(p, kind)
		if got := lostFile(p); got != "before|" {
			t.Fatalf("%s: lost+found at the refusal: %q", p, got)
		}
		if _, err := h.WriteAt(ctx, []byte("after"), 7); err != nil {
			t.Fatalf("%s: write after the refusal: %v", p, err)
		}
		// close(2): FLUSH, then RELEASE.
		err := h.Flush(ctx)
		var le *LostError
		if !errors.Is(err, kind) || !errors.As(err, &le) {
			t.Errorf("%s: close after the refusal returned %v, want the refusal (%v)", p, err, kind)
		}
		if got := lostFile(p); got != "before|after" {
			t.Errorf("%s: lost+found after the close: %q, want the writes made after the refusal too", p, got)
		}
		if err := h.Close(); err != nil {
			t.Errorf("%s: release: %v", p, err)
		}
	}

	// Written after the refusal and released without a flush (a mount
	// going away): the release still copies it.
	p := "/no-flush.txt"
	h := refuse(p, remote.ErrInvalidName)
	if _, err := h.WriteAt(ctx, []byte("after, never flushed"), 7); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("release without flush: %v", err)
	}
	if got := lostFile(p); got != "before|after, never flushed" {
		t.Errorf("lost+found after a release without flush: %q", got)
	}

	// Two descriptors: the first close reports the refusal and copies;
	// what the other writes later reaches lost+found at the last close.
	p = "/two.txt"
	f.Fail("Put", &remote.Error{Kind: remote.ErrForbidden, Op: "PUT", Path: p})
	h1, err := c.OpenWrite(ctx, p, true, false, true)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := c.OpenWrite(ctx, p, false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h1.WriteAt(ctx, []byte("before|"), 0); err != nil {
		t.Fatal(err)
	}
	if err := h1.Fsync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(syncCtx(t)); err == nil {
		t.Fatal("sync of a refused file succeeded")
	}
	if _, err := h1.WriteAt(ctx, []byte("one"), 7); err != nil {
		t.Fatal(err)
	}
	if err := h1.Flush(ctx); !errors.Is(err, remote.ErrForbidden) {
		t.Errorf("first close: %v", err)
	}
	h1.Close()
	if _, err := h2.WriteAt(ctx, []byte("+two"), 10); err != nil {
		t.Fatal(err)
	}
	if err := h2.Flush(ctx); !errors.Is(err, remote.ErrForbidden) {
		t.Errorf("last close: %v", err)
	}
	h2.Close()
	if got := lostFile(p); got != "before|one+two" {
		t.Errorf("lost+found after both closes: %q", got)
	}

	f.Fail("Put", nil)
	// Nothing is left in staging: every byte is in lost+found.
	if ents, _ := os.ReadDir(dir + "/staging"); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("staging still holds %v", names)
	}
	if n := c.PendingUploads(); n != 0 {
		t.Errorf("%d uploads queued for refused files", n)
	}
}
