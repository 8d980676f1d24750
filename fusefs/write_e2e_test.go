package fusefs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
	"github.com/odfb/odfb/spemu"
)

func countMethod(srv *spemu.Server, m string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == m && !strings.Contains(r.Path, "/_api/") { // not the change log's token
			n++
		}
	}
	return n
}

func countREST(srv *spemu.Server, op string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "POST" && strings.Contains(r.Path, op) {
			n++
		}
	}
	return n
}

func syncMount(t *testing.T, m *fstest.Mounted) {
	t.Helper()
	if err := trySync(m); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

// trySync is `odfb sync` with a bound: a sync that would wait forever
// (a write-back of an hour, a lost force) fails the test instead of
// hanging CI.
func trySync(m *fstest.Mounted) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return m.Cache.Sync(ctx)
}

// TestWriteSizes: files around --put-limit and the chunk size, written
// through the mount, are byte-identical on the server after sync; small
// ones went up in one PUT each, large ones through the REST session.
func TestWriteSizes(t *testing.T) {
	const putLimit, chunk = 512 << 10, 256 << 10
	m, srv := fstest.MountSpemu(t, spemu.Config{}, fstest.Config{Write: cache.WriteOptions{PutLimit: putLimit, ChunkSize: chunk}})
	sizes := map[string]int64{
		"0 B": 0, "1 B": 1, "4 KiB": 4096, "10 MiB": 10 << 20,
		"put-limit": putLimit, "put-limit+1": putLimit + 1, "3 chunks+7": 3*chunk + 7,
	}
	want := map[string][32]byte{}
	seed := int64(0)
	for name, size := range sizes {
		seed++
		want[name] = writeSeeded(t, filepath.Join(m.Dir, "sizes", name+".bin"), size, seed)
	}
	syncMount(t, m)
	for name := range sizes {
		data, err := srv.ReadFile("/sizes/" + name + ".bin")
		if err != nil || sha256.Sum256(data) != want[name] {
			t.Errorf("%s: server copy differs (%d bytes, %v)", name, len(data), err)
		}
		// And the mount shows it (from the listing updated by the upload).
		if st, err := os.Stat(filepath.Join(m.Dir, "sizes", name+".bin")); err != nil || st.Size() != sizes[name] {
			t.Errorf("%s: stat after upload: %v %v", name, st, err)
		}
	}
	if n := countMethod(srv, "PUT"); n != 4 {
		t.Errorf("%d PUTs, want 4", n)
	}
	if n := countREST(srv, "StartUpload"); n != 3 {
		t.Errorf("%d StartUpload, want 3", n)
	}
	if n := countMethod(srv, "LOCK"); n != 0 {
		t.Errorf("%d LOCKs", n)
	}
}

// TestWriteEconomy: 500 new 4 KiB files in 5 new folders cost exactly 500
// PUT and 5 MKCOL and nothing else: no LOCK, HEAD, PROPFIND, PROPPATCH,
// GET or REST POST. Counted from a mark set after the mount listed its
// root.
func TestWriteEconomy(t *testing.T) {
	m, srv := fstest.MountSpemu(t, spemu.Config{}, fstest.Config{DirCacheTime: time.Hour})
	if _, err := os.ReadDir(m.Dir); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests() // the mark: what the mount's start and first listing cost is not counted
	for d := 0; d < 5; d++ {
		dir := filepath.Join(m.Dir, fmt.Sprintf("folder %d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < 100; f++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file %03d.txt", f)), seeded(4096, int64(d*1000+f)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	syncMount(t, m)
	counts := map[string]int{}
	var other []string
	for _, r := range srv.Requests() {
		counts[r.Method]++
		if r.Method != "PUT" && r.Method != "MKCOL" && len(other) < 10 {
			other = append(other, r.Method+" "+r.Path)
		}
	}
	if len(counts) != 2 || counts["PUT"] != 500 || counts["MKCOL"] != 5 {
		t.Errorf("requests: %v; want exactly 500 PUT, 5 MKCOL and nothing else (first others: %q)", counts, other)
	}
	if data, err := srv.ReadFile("/folder 3/file 042.txt"); err != nil || string(data) != string(seeded(4096, 3042)) {
		t.Errorf("content on the server: %v", err)
	}
}

// TestWriteRsyncTwice: a second rsync -a of the same tree transfers no
// file data, also after a remount.
func TestWriteRsyncTwice(t *testing.T) {
	rsync := testenv.LookPath(t, "rsync")
	src := t.TempDir()
	for i := 0; i < 20; i++ {
		writeSeeded(t, filepath.Join(src, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%02d.dat", i)), int64(i*1000+1), int64(i))
	}
	srv := fstest.StartSpemu(t, spemu.Config{})
	cacheDir := filepath.Join(t.TempDir(), "cache")
	mount := func() *fstest.Mounted {
		return fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, srv.LibraryURL(), nil), Library: srv.LibraryURL(), CacheDir: cacheDir})
	}
	run := func(m *fstest.Mounted) string {
		out, err := exec.Command(rsync, "-a", "--stats", src+"/", m.Dir+"/tree/").CombinedOutput()
		if err != nil {
			t.Fatalf("rsync: %v\n%s", err, out)
		}
		return string(out)
	}
	m := mount()
	run(m)
	syncMount(t, m)
	puts := countMethod(srv, "PUT")
	if puts != 20 {
		t.Errorf("first rsync: %d PUTs, want 20", puts)
	}
	out := run(m)
	if !strings.Contains(out, "Number of regular files transferred: 0") {
		t.Errorf("second rsync transferred files:\n%s", out)
	}
	m.Unmount(t)
	m = mount()
	out = run(m)
	if !strings.Contains(out, "Number of regular files transferred: 0") {
		t.Errorf("rsync after remount transferred files:\n%s", out)
	}
	syncMount(t, m)
	if n := countMethod(srv, "PUT"); n != puts {
		t.Errorf("%d PUTs after the second and third rsync, want none", n-puts)
	}
	for i := 0; i < 20; i++ {
		p := fmt.Sprintf("/tree/d%d/f%02d.dat", i%3, i)
		data, err := srv.ReadFile(p)
		if err != nil || int64(len(data)) != int64(i*1000+1) {
			t.Errorf("%s on the server: %d bytes, %v", p, len(data), err)
		}
	}
}

// TestWriteConflictAndLostFound: a file changed on the server between
// open and upload keeps both versions; a name the server refuses goes to
// lost+found and status says so.
func TestWriteConflictAndLostFound(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "shared.txt"), []byte("base version"), 0o644)
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{Write: cache.WriteOptions{WriteBack: time.Hour, Hostname: "box"}})
	f, err := os.OpenFile(filepath.Join(m.Dir, "shared.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(" + ours"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.WriteFile("/shared.txt", []byte("their version")); err != nil {
		t.Fatal(err)
	}
	// 90 colons fit Linux's 255 bytes but, mapped to 3-byte look-alikes,
	// not the 255 bytes spemu's disk holds: the local checks pass, the
	// server refuses it (a name ending in "." is refused before staging).
	refused := strings.Repeat(":", 90) + ".txt"
	if err := os.WriteFile(filepath.Join(m.Dir, refused), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	// WriteBack is an hour: only the sync's force can send these files,
	// and the RELEASE of shared.txt may reach the mount after the sync
	// began.
	err = trySync(m)
	var se *cache.SyncError
	if !errors.As(err, &se) || len(se.Lost) != 1 || se.Lost[0].Path != "/"+strings.Repeat("\uFF1A", 90)+".txt" {
		t.Fatalf("sync: %v; want one file in lost+found", err)
	}
	if data, _ := srv.ReadFile("/shared.txt"); string(data) != "their version" {
		t.Errorf("their version on the server: %q", data)
	}
	copyName := fmt.Sprintf("/shared (conflict %s box).txt", time.Now().Format("2006-01-02"))
	if data, err := srv.ReadFile(copyName); err != nil || string(data) != "base version + ours" {
		t.Errorf("our version %s: %q %v", copyName, data, err)
	}
	st := m.Cache.Status()
	if len(st.LostFound) != 1 || len(st.Conflicts) != 1 {
		t.Errorf("status: lost+found %+v, conflicts %+v", st.LostFound, st.Conflicts)
	}
	if data, err := os.ReadFile(st.LostFound[0].File); err != nil || string(data) != "keep me" {
		t.Errorf("lost+found content: %q %v", data, err)
	}
}

// TestWriteMtimeRoundTrip: an mtime set by the application reaches the
// server and a fresh mount (another cache) shows it.
func TestWriteMtimeRoundTrip(t *testing.T) {
	srv := fstest.StartSpemu(t, spemu.Config{})
	m := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, srv.LibraryURL(), nil), Library: srv.LibraryURL()})
	p := filepath.Join(m.Dir, "dated.txt")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	syncMount(t, m)
	if n := countMethod(srv, "PROPPATCH"); n != 1 {
		t.Errorf("%d PROPPATCH, want 1", n)
	}
	m2 := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, srv.LibraryURL(), nil), Library: srv.LibraryURL()})
	st, err := os.Stat(filepath.Join(m2.Dir, "dated.txt"))
	if err != nil || !st.ModTime().Equal(when) {
		t.Errorf("fresh mount shows mtime %v (%v), want %v", st.ModTime(), err, when)
	}
}

// TestWrite700MiB: a 700 MiB file goes up through the REST upload session
// (spemu refuses PUTs over 250M) and is identical on the server.
func TestWrite700MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("700 MiB upload skipped with -short")
	}
	m, srv := fstest.MountSpemu(t, spemu.Config{PutLimit: 250 << 20}, fstest.Config{})
	const size = 700 << 20
	sum := writeSeeded(t, filepath.Join(m.Dir, "huge.bin"), size, 700)
	syncMount(t, m)
	if n := countMethod(srv, "PUT"); n != 0 {
		t.Errorf("%d PUTs for a file over the put limit", n)
	}
	if s, f := countREST(srv, "StartUpload"), countREST(srv, "FinishUpload"); s != 1 || f != 1 {
		t.Errorf("%d StartUpload, %d FinishUpload; want 1 each", s, f)
	}
	if n := countREST(srv, "ContinueUpload"); n != size/cache.DefaultChunkSize-2 {
		t.Errorf("%d ContinueUpload, want %d", n, size/cache.DefaultChunkSize-2)
	}
	it, err := srv.Stat("/huge.bin")
	if err != nil || it.Size != size {
		t.Fatalf("server size %d %v", it.Size, err)
	}
	m.Unmount(t)
	srvRoot := srv.Root()
	if got := sha256File(t, filepath.Join(srvRoot, "huge.bin")); got != sum {
		t.Error("huge.bin differs on the server")
	}
}

// TestWriteSyncUpload: with --sync-upload, close() returns once the file
// is on the server, and returns the upload's error (the file stays queued
// and goes up once the server is back).
func TestWriteSyncUpload(t *testing.T) {
	f := remotetest.New()
	m := fstest.Mount(t, fstest.Config{Remote: f, Write: cache.WriteOptions{SyncUpload: true, WriteBack: time.Hour, RetryBase: time.Hour}})
	if err := os.WriteFile(filepath.Join(m.Dir, "ok.txt"), []byte("up"), 0o644); err != nil {
		t.Fatal(err)
	}
	if e, err := f.Stat(context.Background(), "/ok.txt"); err != nil || e.Size != 2 {
		t.Fatalf("after close with --sync-upload the server has %+v, %v", e, err)
	}
	f.Fail("Put", &remote.Error{Kind: remote.ErrServer, Op: "Put", Status: 500})
	err := os.WriteFile(filepath.Join(m.Dir, "fail.txt"), []byte("later"), 0o644)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("close with a failing server: %v, want EIO", err)
	}
	f.Fail("Put", nil)
	syncMount(t, m)
	if e, err := f.Stat(context.Background(), "/fail.txt"); err != nil || e.Size != 5 {
		t.Fatalf("after the server came back: %+v, %v", e, err)
	}
}

// TestWriteSyncUploadRefused: with --sync-upload, a file the server
// refuses for good is kept in lost+found and close() fails with the errno
// of the refusal, not success.
func TestWriteSyncUploadRefused(t *testing.T) {
	f := remotetest.New()
	m := fstest.Mount(t, fstest.Config{Remote: f, Write: cache.WriteOptions{SyncUpload: true, WriteBack: time.Hour, RetryBase: time.Hour}})
	for _, c := range []struct {
		kind  error
		errno syscall.Errno
	}{{remote.ErrTooLarge, syscall.EFBIG}, {remote.ErrInvalidName, syscall.EINVAL}, {remote.ErrForbidden, syscall.EACCES}} {
		name := fmt.Sprintf("%s.txt", c.errno)
		f.Fail("Put", &remote.Error{Kind: c.kind, Op: "PUT", Path: "/" + name})
		err := os.WriteFile(filepath.Join(m.Dir, name), []byte("kept"), 0o644)
		if !errors.Is(err, c.errno) {
			t.Errorf("close of a file refused with %v: %v, want %v", c.kind, err, c.errno)
		}
	}
	f.Fail("Put", nil)
	if lf := m.Cache.Status().LostFound; len(lf) != 3 {
		t.Errorf("lost+found: %+v, want 3 files", lf)
	}
}

// startBehind serves a spemu library behind front, which sees every
// request first and answers it itself by returning true. It returns the
// server (its files and request log) and the library URL.
func startBehind(t *testing.T, cfg spemu.Config, front func(http.ResponseWriter, *http.Request) bool) (*spemu.Server, string) {
	t.Helper()
	cfg.Auth = "none"
	srv, err := spemu.New(cfg) // not started: its handler serves behind ours
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h := srv.Handler()
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !front(w, r) {
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(ps.Close)
	return srv, ps.URL + srv.LibraryURL() // LibraryURL is the path alone before Start
}

// startPlainDAV serves a spemu library without SharePoint's REST API, as
// a plain WebDAV server does: every /_api/ request answers 404.
func startPlainDAV(t *testing.T, cfg spemu.Config) (*spemu.Server, string) {
	return startBehind(t, cfg, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/_api/") {
			http.NotFound(w, r)
			return true
		}
		return false
	})
}

// TestWriteCaseOnlyRename: renaming a.txt to A.txt (the same item on the
// case-insensitive server) is one MOVE with Overwrite: F, which renames
// it in place; the server then lists the new case, with the content.
func TestWriteCaseOnlyRename(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("content stays"), 0o644)
	var mu sync.Mutex
	var overwrite []string
	srv, lib := startBehind(t, spemu.Config{Root: root}, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == "MOVE" {
			mu.Lock()
			overwrite = append(overwrite, r.Header.Get("Overwrite"))
			mu.Unlock()
		}
		return false
	})
	before, err := srv.Stat("/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, lib, nil), Library: lib})
	var lower, upper syscall.Stat_t
	if err := syscall.Stat(filepath.Join(m.Dir, "a.txt"), &lower); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Join(m.Dir, "A.txt"), &upper); err == nil && upper.Ino == lower.Ino {
		// The kernel checks rename(2)'s two names for one inode and
		// then returns success without asking the filesystem.
		t.Fatal("a.txt and A.txt have one inode: the kernel would turn the case-only rename into a silent no-op")
	}
	if err := os.Rename(filepath.Join(m.Dir, "a.txt"), filepath.Join(m.Dir, "A.txt")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(overwrite) != 1 || overwrite[0] != "F" {
		t.Errorf("MOVE Overwrite headers %q, want one MOVE with F", overwrite)
	}
	mu.Unlock()
	if n := countMethod(srv, "MOVE"); n != 1 {
		t.Errorf("%d MOVEs, want 1", n)
	}
	if it, err := srv.Stat("/a.txt"); err != nil || it.Path != "/A.txt" || it.GUID != before.GUID {
		t.Errorf("server item after the rename: %+v %v; want /A.txt, the same item (GUID %s)", it, err, before.GUID)
	}
	if data, err := srv.ReadFile("/A.txt"); err != nil || string(data) != "content stays" {
		t.Errorf("server content: %q %v", data, err)
	}
	// The mount shows the new case, and so does a fresh listing.
	names := func() []string {
		ents, err := os.ReadDir(m.Dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	if got := names(); len(got) != 1 || got[0] != "A.txt" {
		t.Errorf("mount lists %q, want [A.txt]", got)
	}
	if data, err := os.ReadFile(filepath.Join(m.Dir, "A.txt")); err != nil || string(data) != "content stays" {
		t.Errorf("read through the mount: %q %v", data, err)
	}
	m.Unmount(t)
	m2 := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, lib, nil), Library: lib})
	if ents, err := os.ReadDir(m2.Dir); err != nil || len(ents) != 1 || ents[0].Name() != "A.txt" {
		t.Errorf("fresh mount lists %v %v, want A.txt", ents, err)
	}
}

// TestWriteTooLargeWithoutREST: on a server without the REST API, a file
// over --put-limit cannot be uploaded in chunks: with --sync-upload its
// close() fails with EFBIG, it is kept in lost+found with the reason, the
// server's copy is left alone, and a log line names the file.
func TestWriteTooLargeWithoutREST(t *testing.T) {
	const putLimit = 64 << 10
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "big.bin"), []byte("server version"), 0o644)
	srv, lib := startPlainDAV(t, spemu.Config{Root: root})
	logs := &testenv.Buffer{T: t}
	m := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, lib, nil), Library: lib,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Write:  cache.WriteOptions{PutLimit: putLimit, SyncUpload: true, WriteBack: time.Hour, RetryBase: time.Hour}})
	etag, err := srv.ETag("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	data := seeded(putLimit+1, 64)
	err = os.WriteFile(filepath.Join(m.Dir, "big.bin"), data, 0o644)
	if !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("close of a file over --put-limit without REST: %v, want EFBIG", err)
	}
	const reason = "over --put-limit (65536) and this server has no chunked upload"
	lf := m.Cache.Status().LostFound
	if len(lf) != 1 || lf[0].Path != "/big.bin" || !strings.Contains(lf[0].Reason, reason) {
		t.Fatalf("lost+found: %+v; want /big.bin with %q", lf, reason)
	}
	if got, err := os.ReadFile(lf[0].File); err != nil || !bytes.Equal(got, data) {
		t.Errorf("lost+found copy: %d bytes %v, want %d identical", len(got), err, len(data))
	}
	if got, _ := srv.ReadFile("/big.bin"); string(got) != "server version" {
		t.Errorf("the server's file changed: %q", got)
	}
	if now, _ := srv.ETag("/big.bin"); now != etag {
		t.Errorf("the server's file has a new version: ETag %s, was %s", now, etag)
	}
	if n := countMethod(srv, "PUT"); n != 0 {
		t.Errorf("%d PUTs of a file over --put-limit", n)
	}
	var named bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "lost+found") && strings.Contains(line, "/big.bin") && strings.Contains(line, reason) {
			named = true
		}
	}
	if !named {
		t.Errorf("no log line names /big.bin, lost+found and the reason")
	}
	if n := m.Cache.PendingUploads(); n != 0 {
		t.Errorf("%d uploads still queued", n)
	}
}

// TestWriteLazyFetch: an existing file opened for writing is downloaded
// only when needed: not at all when it is truncated or left unchanged.
func TestWriteLazyFetch(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("0123456789"), 0o644)
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{})
	p := filepath.Join(m.Dir, "a.txt")
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	syncMount(t, m)
	if g, u := countMethod(srv, "GET"), countMethod(srv, "PUT"); g != 0 || u != 0 {
		t.Errorf("open O_RDWR + close: %d GET, %d PUT; want none", g, u)
	}
	if err := os.WriteFile(p, []byte("new"), 0o644); err != nil { // O_TRUNC
		t.Fatal(err)
	}
	syncMount(t, m)
	if g, u := countMethod(srv, "GET"), countMethod(srv, "PUT"); g != 0 || u != 1 {
		t.Errorf("rewrite with O_TRUNC: %d GET, %d PUT; want 0 and 1", g, u)
	}
	f, err = os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("N"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	syncMount(t, m)
	if data, _ := srv.ReadFile("/a.txt"); string(data) != "New" {
		t.Errorf("partial overwrite: server has %q", data)
	}
	// The version odfb uploaded became its cached content: no download.
	if g := countMethod(srv, "GET"); g != 0 {
		t.Errorf("partial overwrite of a file uploaded from here: %d GETs, want 0", g)
	}
	// A file only the server has is downloaded once, when the partial
	// overwrite needs its bytes.
	if err := os.WriteFile(filepath.Join(root, "b.txt"), []byte("abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Cache.Invalidate("/")
	f, err = os.OpenFile(filepath.Join(m.Dir, "b.txt"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("B"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	syncMount(t, m)
	if data, _ := srv.ReadFile("/b.txt"); string(data) != "Bbcdef" {
		t.Errorf("partial overwrite: server has %q", data)
	}
	if g := countMethod(srv, "GET"); g != 1 {
		t.Errorf("partial overwrite of a server file: %d GETs, want 1", g)
	}
}
