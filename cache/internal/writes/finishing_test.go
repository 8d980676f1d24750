package writes

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestFinishingResolvedAtStart: the last run died with the final PUT of
// an upload out (the record says Finishing) and the PUT had landed: the
// server holds the staged bytes under an ETag the record does not know.
// The file is then changed before its upload is tried again. The start
// finds out that the server holds our upload, so the change goes up
// against it: no conflict copy of our own upload, and the server ends
// with the change. Without the check the new upload is refused (412)
// and kept as a conflict copy (internal/matrix, kill case).
func TestFinishingResolvedAtStart(t *testing.T) {
	f := remotetest.New()
	dir := t.TempDir()
	ctx := context.Background()
	v1, v2, more := []byte("version one"), []byte("version two"), []byte(", then more")
	f.AddFile("/f.txt", v1, time.Unix(1720000000, 0))

	// Run 1: v2 is written and journaled; the server is away, so it stays
	// queued when the run ends.
	c := writeCache(t, dir, f, WriteOptions{WriteBack: time.Hour, DrainTimeout: 50 * time.Millisecond, RetryBase: time.Hour})
	writeAll(t, c, "/f.txt", v2, false)
	f.Fail("Put", remote.ErrUnavailable)
	if left := c.CloseWrites(); left != 1 {
		t.Fatalf("%d uploads left, want 1", left)
	}
	c.Close()
	f.Fail("Put", nil)
	// ... as if it had died with the PUT of v2 out, and the PUT landed.
	markFinishing(t, dir)
	f.AddFile("/f.txt", v2, time.Unix(1720000100, 0))
	puts := f.Calls("Put")

	// Run 2: the change is made before the upload is tried again.
	c = writeCache(t, dir, f, WriteOptions{WriteBack: time.Hour})
	writeAll(t, c, "/f.txt", more, true)
	if err := c.Sync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); len(st.Conflicts) != 0 {
		t.Fatalf("conflict copies of our own upload: %+v", st.Conflicts)
	}
	_, kids, err := f.List(ctx, "/")
	if err != nil || len(kids) != 1 {
		t.Fatalf("server holds %d files (%v), want f.txt alone", len(kids), err)
	}
	rc, _, err := f.Get(ctx, "/f.txt", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if want := string(v2) + string(more); string(got) != want {
		t.Fatalf("server holds %q, want %q", got, want)
	}
	if n := f.Calls("Put") - puts; n != 1 {
		t.Errorf("%d PUTs after the start, want 1 (the change)", n)
	}
}

// writeAll writes data to p (at its end when appending) and closes it.
func writeAll(t *testing.T, c *testWriter, p string, data []byte, appending bool) {
	t.Helper()
	ctx := context.Background()
	h, err := c.OpenWrite(ctx, p, !appending, false, !appending)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(0)
	if appending {
		off = h.Size()
	}
	if _, err := h.WriteAt(ctx, data, off); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// markFinishing sets Finishing on every journal record in dir's meta.db.
func markFinishing(t *testing.T, dir string) {
	t.Helper()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"), "lib")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := metadb.LoadJournal(db)
	if err != nil || len(recs) != 1 {
		t.Fatalf("journal: %d records, %v", len(recs), err)
	}
	recs[0].Finishing = true
	if err := metadb.PutRecords(db, recs[0]); err != nil {
		t.Fatal(err)
	}
}
