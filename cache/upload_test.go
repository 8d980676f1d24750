package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func davFor(t *testing.T, srv *spemu.Server) *davclient.Client {
	t.Helper()
	c, err := davclient.New(davclient.Options{URL: srv.LibraryURL(), Auth: auth.None(),
		Logger:     slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		MaxRetries: 1, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, MaxRetryWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeCache opens a cache with the write side over r.
func writeCache(t *testing.T, dir string, r remote.Remote, wo WriteOptions) *Cache {
	t.Helper()
	c, err := Open(Options{Dir: dir, Library: "lib", Remote: r,
		Logger: slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
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
	if err := c.StartWrites(wo); err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			closeCache(c)
		}
	})
	return c
}

func closeCache(c *Cache) {
	c.CloseWrites()
	c.Close()
}

func writeFile(t *testing.T, c *Cache, p string, data []byte) {
	t.Helper()
	ctx := context.Background()
	h, err := c.OpenWrite(ctx, p, true, false, true)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	for off := 0; off < len(data); off += 1 << 20 {
		end := min(off+1<<20, len(data))
		if _, err := h.WriteAt(ctx, data[off:end], int64(off)); err != nil {
			t.Fatalf("write %s: %v", p, err)
		}
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatalf("flush %s: %v", p, err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("close %s: %v", p, err)
	}
}

func countReqs(srv *spemu.Server, match func(spemu.RequestRecord) bool) int {
	n := 0
	for _, r := range srv.Requests() {
		if match(r) {
			n++
		}
	}
	return n
}

func method(m string) func(spemu.RequestRecord) bool {
	return func(r spemu.RequestRecord) bool { return r.Method == m }
}

func rest(op string) func(spemu.RequestRecord) bool {
	return func(r spemu.RequestRecord) bool { return r.Method == "POST" && strings.Contains(r.Path, op) }
}

func TestUploadSizes(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	const putLimit, chunk = 512 << 10, 128 << 10
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{PutLimit: putLimit, ChunkSize: chunk})
	sizes := map[string]int{
		"/zero": 0, "/one": 1, "/4k.bin": 4096, "/limit.bin": putLimit, "/limit+1.bin": putLimit + 1,
		"/3chunks+7.bin": 5*chunk + 7, "/big.bin": 3 << 20,
	}
	// "3 chunks + 7" relative to the put limit: over it by 7 bytes past
	// whole chunks, so the last piece is short.
	want := map[string][]byte{}
	i := int64(0)
	for p, n := range sizes {
		i++
		want[p] = seeded(n, i)
		writeFile(t, c, p, want[p])
	}
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for p, data := range want {
		got, err := srv.ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: server has %d bytes (err %v), want %d identical", p, len(got), err, len(data))
		}
	}
	if n := countReqs(srv, method("PUT")); n != 4 {
		t.Errorf("%d PUTs, want 4 (files up to --put-limit)", n)
	}
	if n := countReqs(srv, rest("StartUpload")); n != 3 {
		t.Errorf("%d StartUpload, want 3 (files over --put-limit)", n)
	}
	if n := countReqs(srv, rest("FinishUpload")); n != 3 {
		t.Errorf("%d FinishUpload, want 3", n)
	}
	for _, m := range []string{"LOCK", "HEAD"} {
		if n := countReqs(srv, method(m)); n != 0 {
			t.Errorf("%d %s requests", n, m)
		}
	}
	if c.PendingUploads() != 0 {
		t.Errorf("%d uploads still pending after sync", c.PendingUploads())
	}
	if ents, _ := os.ReadDir(filepath.Join(c.Dir(), "staging")); len(ents) != 0 {
		t.Errorf("staging not emptied: %d files", len(ents))
	}
}

func TestUploadEconomy(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{})
	ctx := context.Background()
	if _, err := c.ReadDir(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	for d := 0; d < 5; d++ {
		dir := fmt.Sprintf("/dir%d", d)
		if _, err := c.Mkdir(ctx, dir); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < 20; f++ {
			writeFile(t, c, fmt.Sprintf("%s/f%02d.txt", dir, f), seeded(4096, int64(d*100+f)))
		}
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	total := len(srv.Requests())
	if p, m := countReqs(srv, method("PUT")), countReqs(srv, method("MKCOL")); p != 100 || m != 5 || total != 105 {
		t.Errorf("100 files in 5 new folders: %d PUT, %d MKCOL, %d requests in all; want 100, 5, 105", p, m, total)
	}
	data, err := srv.ReadFile("/dir3/f07.txt")
	if err != nil || !bytes.Equal(data, seeded(4096, 307)) {
		t.Errorf("content of /dir3/f07.txt: %v", err)
	}
}

func TestUploadConflictKeepsBoth(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	if err := srv.WriteFile("/doc.txt", []byte("original")); err != nil {
		t.Fatal(err)
	}
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{WriteBack: time.Hour})
	ctx := context.Background()
	h, err := c.OpenWrite(ctx, "/doc.txt", false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, []byte("OURS"), 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.WriteFile("/doc.txt", []byte("theirs")); err != nil { // another user
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if data, _ := srv.ReadFile("/doc.txt"); string(data) != "theirs" {
		t.Errorf("their version: %q", data)
	}
	name := fmt.Sprintf("/doc (conflict %s testhost).txt", time.Now().Format("2006-01-02"))
	if data, err := srv.ReadFile(name); err != nil || string(data) != "OURSinal" {
		t.Errorf("our version at %s: %q %v", name, data, err)
	}
	if st := c.Status(); len(st.Conflicts) != 1 || st.Conflicts[0].Copy != name {
		t.Errorf("status conflicts: %+v", st.Conflicts)
	}
	// The mount shows each version where it is: the server's at the
	// original name (its size and ETag, not ours), ours at the copy.
	theirs, _ := srv.Stat("/doc.txt")
	if e, err := c.Lookup(ctx, "/", "doc.txt"); err != nil || e.Size != int64(len("theirs")) || e.ETag != theirs.ETag() {
		t.Errorf("original after the conflict: %+v %v; want the server's version (ETag %s)", e, err, theirs.ETag())
	}
	if e, err := c.Lookup(ctx, "/", name[1:]); err != nil || e.Size != int64(len("OURSinal")) {
		t.Errorf("conflict copy: %+v %v", e, err)
	}
}

func TestUploadRefusedGoesToLostFound(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{})
	writeFile(t, c, "/bad|name.txt", []byte("keep me"))
	err := c.Sync(context.Background())
	var se *SyncError
	if !errors.As(err, &se) || len(se.Lost) != 1 {
		t.Fatalf("sync: %v, want one file in lost+found", err)
	}
	lf := c.LostFound()
	if len(lf) != 1 || lf[0].Path != "/bad|name.txt" {
		t.Fatalf("lost+found: %+v", lf)
	}
	if data, err := os.ReadFile(lf[0].File); err != nil || string(data) != "keep me" {
		t.Errorf("lost+found content: %q %v", data, err)
	}
	if st, err := os.Stat(lf[0].File); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("lost+found file mode: %v %v", st, err)
	}
	if c.PendingUploads() != 0 {
		t.Error("refused upload still queued")
	}
}

// failingChunks makes ContinueUpload fail (transiently) after n calls.
type failingChunks struct {
	*davclient.Client
	left atomic.Int64
}

func (f *failingChunks) ContinueUpload(ctx context.Context, p, id string, off int64, chunk io.ReaderAt, n int64) (int64, error) {
	if f.left.Add(-1) < 0 {
		return 0, &remote.Error{Kind: remote.ErrUnavailable, Op: "ContinueUpload", Path: p}
	}
	return f.Client.ContinueUpload(ctx, p, id, off, chunk, n)
}

func TestChunkedUploadResumes(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	dir := t.TempDir()
	fc := &failingChunks{Client: davFor(t, srv)}
	fc.left.Store(2)
	wo := WriteOptions{PutLimit: 64 << 10, ChunkSize: 64 << 10, DrainTimeout: 200 * time.Millisecond, RetryBase: time.Hour}
	c := writeCache(t, dir, fc, wo)
	data := seeded(10*64<<10+7, 5)
	writeFile(t, c, "/resume.bin", data)
	if err := c.Sync(context.Background()); err == nil {
		t.Fatal("sync succeeded through a failing server")
	}
	var rec JournalRecord
	recs, _ := metadb.LoadJournal(c.db)
	if len(recs) != 1 {
		t.Fatalf("journal: %+v", recs)
	}
	rec = recs[0]
	if rec.UploadID == "" || rec.Offset != 3*64<<10 {
		t.Fatalf("journal record: upload id %q offset %d, want an id and 3 chunks", rec.UploadID, rec.Offset)
	}
	closeCache(c)

	c2, err := Open(Options{Dir: dir, Library: "lib", Remote: davFor(t, srv), Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	wo.RetryBase = 0
	wo.Hostname = "testhost"
	if err := c2.StartWrites(wo); err != nil {
		t.Fatal(err)
	}
	defer closeCache(c2)
	if err := c2.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.ReadFile("/resume.bin"); !bytes.Equal(got, data) {
		t.Fatalf("server has %d bytes, want %d identical", len(got), len(data))
	}
	if n := countReqs(srv, rest("StartUpload")); n != 1 {
		t.Errorf("%d StartUpload, want 1 (resumed, not restarted)", n)
	}
}

func TestRenameAndDeletePending(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{WriteBack: time.Hour})
	ctx := context.Background()
	if err := srv.WriteFile("/target.txt", []byte("old target")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c, "/.tmp1", []byte("renamed"))
	writeFile(t, c, "/gone.txt", []byte("deleted before upload"))
	writeFile(t, c, "/.tmp2", []byte("replaces"))
	srv.ResetRequests()
	if err := c.Rename(ctx, "/.tmp1", "/final.txt", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "/gone.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename(ctx, "/.tmp2", "/target.txt", false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetModTime(ctx, "/final.txt", time.Unix(1600000000, 0)); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("rename/remove of pending files sent %d requests: %+v", n, srv.Requests())
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if data, _ := srv.ReadFile("/final.txt"); string(data) != "renamed" {
		t.Errorf("final.txt: %q", data)
	}
	if data, _ := srv.ReadFile("/target.txt"); string(data) != "replaces" {
		t.Errorf("target.txt: %q", data)
	}
	for _, p := range []string{"/.tmp1", "/.tmp2", "/gone.txt"} {
		if _, err := srv.Stat(p); err == nil {
			t.Errorf("%s reached the server", p)
		}
	}
	if n := countReqs(srv, method("PUT")); n != 2 {
		t.Errorf("%d PUTs, want 2", n)
	}
	if n := countReqs(srv, method("PROPPATCH")); n != 1 {
		t.Errorf("%d PROPPATCH, want 1 (explicit mtime)", n)
	}
	if e, err := davFor(t, srv).Stat(ctx, "/final.txt"); err != nil || e.ModTime.Unix() != 1600000000 {
		t.Errorf("final.txt mtime read back from the server: %v %v", e.ModTime, err)
	}
}

func TestUploadSurvivesFaults(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none", Seed: 7})
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{PutLimit: 64 << 10, ChunkSize: 32 << 10})
	want := map[string][]byte{}
	for i := 0; i < 30; i++ {
		p := fmt.Sprintf("/f%02d.bin", i)
		want[p] = seeded(1000+i*7000, int64(i)) // up to ~200 KiB: some chunked
	}
	srv.SetFaults(spemu.Faults{ThrottleRate: 0.2, ThrottleStatus: 503, FailRate: 0.2, FailStatus: 500, DropRate: 0.1})
	for p, d := range want {
		writeFile(t, c, p, d)
	}
	var err error
	for i := 0; i < 50; i++ {
		if err = c.Sync(context.Background()); err == nil {
			break
		}
		var se *SyncError
		if !errors.As(err, &se) || len(se.Lost) > 0 {
			t.Fatalf("sync: %v (transient failures must never go to lost+found)", err)
		}
	}
	if err != nil {
		t.Fatalf("still failing after 50 syncs: %v", err)
	}
	srv.SetFaults(spemu.Faults{ThrottleStatus: 503})
	if st := c.Status(); len(st.Conflicts) != 0 {
		t.Errorf("lost answers taken for conflicts: %+v", st.Conflicts)
	}
	for p, d := range want {
		if got, err := srv.ReadFile(p); err != nil || !bytes.Equal(got, d) {
			t.Errorf("%s: %d bytes on the server (%v), want %d identical", p, len(got), err, len(d))
		}
	}
}

func TestUploadOfficeRewrite(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none", OfficeMutation: true})
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{})
	data := seeded(5000, 3)
	writeFile(t, c, "/report.docx", data)
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	onServer, err := srv.ReadFile("/report.docx")
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Stat(context.Background(), "/report.docx")
	if err != nil || e.Size != int64(len(onServer)) {
		t.Errorf("listing after upload: %+v %v; want the server's size %d", e, err, len(onServer))
	}
	if len(c.LostFound()) != 0 || c.PendingUploads() != 0 {
		t.Error("office rewrite treated as a failure")
	}
}

func TestRemoveAbandonsSession(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	fc := &failingChunks{Client: davFor(t, srv)}
	fc.left.Store(1)
	c := writeCache(t, t.TempDir(), fc, WriteOptions{PutLimit: 64 << 10, ChunkSize: 64 << 10, RetryBase: time.Hour})
	writeFile(t, c, "/half.bin", seeded(5*64<<10, 9))
	if err := c.Sync(context.Background()); err == nil {
		t.Fatal("sync through a failing server succeeded")
	}
	if _, err := srv.Stat("/half.bin"); err != nil {
		t.Fatalf("StartUpload left no file: %v", err)
	}
	if err := c.Remove(context.Background(), "/half.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Stat("/half.bin"); err == nil {
		t.Error("the empty file of the abandoned session is still on the server")
	}
	if n := countReqs(srv, rest("CancelUpload")); n != 1 {
		t.Errorf("%d CancelUpload, want 1", n)
	}
	if c.PendingUploads() != 0 {
		t.Error("removed file still queued")
	}
}

func TestFailedUploadKeepsServerFile(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	if err := srv.WriteFile("/keep.txt", []byte("server copy")); err != nil {
		t.Fatal(err)
	}
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{RetryBase: time.Hour})
	ctx := context.Background()
	h, err := c.OpenWrite(ctx, "/keep.txt", false, false, true)
	if err != nil {
		t.Fatal(err)
	}
	h.WriteAt(ctx, []byte("new"), 0)
	h.Close()
	srv.SetFaults(spemu.Faults{FailRate: 1, FailStatus: 500, ThrottleStatus: 429})
	if err := c.Sync(ctx); err == nil {
		t.Fatal("sync succeeded against a failing server")
	}
	srv.SetFaults(spemu.Faults{ThrottleStatus: 429})
	if data, _ := srv.ReadFile("/keep.txt"); string(data) != "server copy" {
		t.Errorf("failed upload changed the server file: %q", data)
	}
	if c.PendingUploads() != 1 || len(c.LostFound()) != 0 {
		t.Errorf("failed upload: %d pending, lost+found %v", c.PendingUploads(), c.LostFound())
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if data, _ := srv.ReadFile("/keep.txt"); string(data) != "new" {
		t.Errorf("after recovery: %q", data)
	}
}

func TestRenameFolderWithPending(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{WriteBack: time.Hour})
	ctx := context.Background()
	if _, err := c.Mkdir(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c, "/d/a.txt", []byte("in folder"))
	if err := c.Rename(ctx, "/d", "/e", false); err != nil {
		t.Fatal(err)
	}
	kids, err := c.ReadDir(ctx, "/e")
	if err != nil || len(kids) != 1 || kids[0].Path != "/e/a.txt" {
		t.Fatalf("listing of the renamed folder: %+v %v", kids, err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if data, err := srv.ReadFile("/e/a.txt"); err != nil || string(data) != "in folder" {
		t.Errorf("/e/a.txt: %q %v", data, err)
	}
	if _, err := srv.Stat("/d"); err == nil {
		t.Error("/d still on the server")
	}
	if n := countReqs(srv, method("PUT")); n != 1 {
		t.Errorf("%d PUTs, want 1", n)
	}
}

func TestEditAfterMtimeWithETagBump(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none", ProppatchBumpsETag: true})
	c := writeCache(t, t.TempDir(), davFor(t, srv), WriteOptions{})
	ctx := context.Background()
	writeFile(t, c, "/m.txt", []byte("first"))
	if err := c.SetModTime(ctx, "/m.txt", time.Unix(1500000000, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := c.OpenWrite(ctx, "/m.txt", false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(ctx, []byte("FIRST, edited"), 0); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if data, _ := srv.ReadFile("/m.txt"); string(data) != "FIRST, edited" {
		t.Errorf("server: %q", data)
	}
	if st := c.Status(); len(st.Conflicts) != 0 {
		t.Errorf("a PROPPATCH's new ETag made a false conflict: %+v", st.Conflicts)
	}
}

// moveRecorder records the overwrite flag of every Move.
type moveRecorder struct {
	*davclient.Client
	mu        sync.Mutex
	overwrite []bool
}

func (m *moveRecorder) Move(ctx context.Context, src, dst string, overwrite bool) error {
	m.mu.Lock()
	m.overwrite = append(m.overwrite, overwrite)
	m.mu.Unlock()
	return m.Client.Move(ctx, src, dst, overwrite)
}

// TestRenameCaseOnly: a.txt → A.txt is the same item on the server; it
// is renamed in place by one MOVE with Overwrite: F (Overwrite: T would
// ask the server to delete the destination — the file itself — first).
func TestRenameCaseOnly(t *testing.T) {
	srv := spemutest.Start(t, spemu.Config{Auth: "none"})
	if err := srv.WriteFile("/a.txt", []byte("content stays")); err != nil {
		t.Fatal(err)
	}
	before, _ := srv.Stat("/a.txt")
	mr := &moveRecorder{Client: davFor(t, srv)}
	c := writeCache(t, t.TempDir(), mr, WriteOptions{})
	ctx := context.Background()
	if err := c.Rename(ctx, "/a.txt", "/A.txt", false); err != nil {
		t.Fatal(err)
	}
	if len(mr.overwrite) != 1 || mr.overwrite[0] {
		t.Errorf("Move overwrite flags %v, want one MOVE without overwrite", mr.overwrite)
	}
	if it, err := srv.Stat("/A.txt"); err != nil || it.Path != "/A.txt" || it.GUID != before.GUID {
		t.Errorf("server after the rename: %+v %v; want /A.txt, the same item", it, err)
	}
	if data, _ := srv.ReadFile("/A.txt"); string(data) != "content stays" {
		t.Errorf("content: %q", data)
	}
	if e, err := c.Stat(ctx, "/a.txt"); err != nil || e.Path != "/A.txt" {
		t.Errorf("cache shows %+v %v, want the new case", e, err)
	}
}
