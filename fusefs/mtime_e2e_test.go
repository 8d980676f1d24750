package fusefs_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/spemu"
)

// TestMtimeKeptAfterUpload: a file written without an explicit mtime
// shows the time of its last write while open, after close, after its
// upload, after its folder is listed again from the server and after a
// remount on the same cache — not the server's upload time (whole
// seconds, later) — and that costs no PROPPATCH. A version written
// elsewhere shows the server's time.
func TestMtimeKeptAfterUpload(t *testing.T) {
	srv := fstest.StartSpemu(t, spemu.Config{})
	url := srv.LibraryURL()
	cacheDir := filepath.Join(t.TempDir(), "cache")
	const ttl = 50 * time.Millisecond
	cfg := fstest.Config{Remote: fstest.DavClient(t, url, nil), Library: url, CacheDir: cacheDir, DirCacheTime: ttl,
		Write: cache.WriteOptions{WriteBack: 10 * time.Millisecond}}
	m := fstest.Mount(t, cfg)
	os.Mkdir(filepath.Join(m.Dir, "d"), 0o755)
	p := filepath.Join(m.Dir, "d", "made.txt")

	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("content"); err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	seen := st.ModTime()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// The server's clock must have moved to another second, or its
	// upload time could equal ours by chance.
	time.Sleep(time.Until(seen.Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	check := func(when string) {
		t.Helper()
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !st.ModTime().Equal(seen) {
			t.Errorf("%s: mtime %v, want %v (the time of the last write)", when, st.ModTime(), seen)
		}
	}
	check("after close")
	syncMount(t, m)
	check("after the upload")
	it, err := srv.Stat("/d/made.txt")
	if err != nil {
		t.Fatal(err)
	}
	if it.Modified.Equal(seen) {
		t.Fatalf("the server's time %v equals the write time: the test proves nothing", it.Modified)
	}
	time.Sleep(3 * ttl)
	if _, err := os.ReadDir(filepath.Join(m.Dir, "d")); err != nil { // listed again from the server
		t.Fatal(err)
	}
	check("after the folder was listed again")
	m.Unmount(t)

	m = fstest.Mount(t, cfg)
	p = filepath.Join(m.Dir, "d", "made.txt")
	check("after a remount")
	time.Sleep(3 * ttl)
	os.ReadDir(filepath.Join(m.Dir, "d"))
	check("after a remount and a new listing")
	if n := countMethod(srv, "PROPPATCH"); n != 0 {
		t.Errorf("%d PROPPATCH requests, want 0: the kept time costs no request", n)
	}

	// Another client writes a new version: the server's time shows.
	if err := srv.WriteFile("/d/made.txt", []byte("theirs")); err != nil {
		t.Fatal(err)
	}
	it, _ = srv.Stat("/d/made.txt")
	theirs := it.Modified.Truncate(time.Second) // getlastmodified has whole seconds
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(3 * ttl)
		st, err := os.Stat(p)
		if err == nil && st.ModTime().Equal(theirs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a version written elsewhere shows %v (%v), want the server's %v", st.ModTime(), err, theirs)
		}
	}
}
