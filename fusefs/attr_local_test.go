package fusefs_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/remote/remotetest"
)

// wantAttr checks mode bits and owner of st.
func wantAttr(t *testing.T, what string, st syscall.Stat_t, mode, uid, gid uint32) {
	t.Helper()
	if st.Mode&0o7777 != mode || st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: mode %#o uid %d gid %d; want %#o %d %d", what, st.Mode&0o7777, st.Uid, st.Gid, mode, uid, gid)
	}
}

func statOf(t *testing.T, p string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return st
}

func fstatOf(t *testing.T, f *os.File) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatalf("fstat %s: %v", f.Name(), err)
	}
	return st
}

// TestChmodChownShown: chmod and chown are kept for the life of the
// mount and shown by stat and by fstat of an open file — a file on the
// server open for reading, a staged file open for writing, and folders —
// and they follow a rename (also of the folder they are in), are found
// by any case of the name, and are dropped with the file. The kernel is
// told to cache nothing (AttrTimeout < 0), so every stat here is
// answered by odfb, not from what the chmod's own answer left in the
// kernel.
func TestChmodChownShown(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/r.txt", []byte("on the server"), mtime)
	f.AddDir("/dir")
	m := fstest.Mount(t, fstest.Config{Remote: f, FS: fusefs.Options{UID: 1000, GID: 1000, AttrTimeout: -1}})
	r := filepath.Join(m.Dir, "r.txt")
	wantAttr(t, "server file before", statOf(t, r), 0o644, 1000, 1000)

	if err := os.Chmod(r, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(r, 65534, 65533); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "stat after chmod+chown", statOf(t, r), 0o600, 65534, 65533)

	// Open for reading: getattr then comes with the read handle.
	rf, err := os.Open(r)
	if err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "fstat of a read handle", fstatOf(t, rf), 0o600, 65534, 65533)
	if err := os.Chmod(r, 0o640); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "fstat of a read handle after chmod", fstatOf(t, rf), 0o640, 65534, 65533)
	wantAttr(t, "stat while open for reading", statOf(t, r), 0o640, 65534, 65533)
	rf.Close()

	// Mode 000 and owner root are shown as they are, not replaced by
	// defaults (0644, --uid/--gid).
	if err := os.Chmod(r, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(r, 0, 0); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "chmod 000, chown 0:0", statOf(t, r), 0, 0, 0)
	// chown -1 keeps the other half.
	if err := os.Chown(r, 7, -1); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "chown 7:-1", statOf(t, filepath.Join(m.Dir, "R.TXT")), 0, 7, 0)

	// A staged file open for writing.
	w, err := os.OpenFile(filepath.Join(m.Dir, "w.txt"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("staged")
	if err := w.Chmod(0o604); err != nil {
		t.Fatal(err)
	}
	if err := w.Chown(65534, 65534); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "fstat of a write handle", fstatOf(t, w), 0o604, 65534, 65534)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "stat of the staged file", statOf(t, filepath.Join(m.Dir, "w.txt")), 0o604, 65534, 65534)

	// Folders: a listed one and a new one (mkdir's mode is kept).
	d := filepath.Join(m.Dir, "dir")
	wantAttr(t, "folder before", statOf(t, d), 0o755, 1000, 1000)
	if err := os.Chmod(d, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "folder after", statOf(t, d), 0o750, 65534, 65534)
	nd := filepath.Join(m.Dir, "new")
	if err := syscall.Mkdir(nd, 0o700); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "mkdir 0700", statOf(t, nd), 0o700, 1000, 1000)

	// Rename carries them (also for what is inside a renamed folder).
	if err := os.Rename(filepath.Join(m.Dir, "w.txt"), filepath.Join(d, "moved.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(d, filepath.Join(m.Dir, "dir2")); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "renamed folder", statOf(t, filepath.Join(m.Dir, "dir2")), 0o750, 65534, 65534)
	wantAttr(t, "file in the renamed folder", statOf(t, filepath.Join(m.Dir, "dir2", "moved.txt")), 0o604, 65534, 65534)

	// A new file of a removed file's name starts afresh.
	if err := os.Remove(r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, "new file of an old name", statOf(t, r), 0o644, 1000, 1000)
}
