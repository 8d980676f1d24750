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

// TestRenamedFileKeepsItsInode: a file renamed here keeps its inode
// when it is looked up or opened with O_CREAT again after the kernel's
// entry expired. Inode numbers are a hash of the path a file was first
// seen at, so the renamed file's number is not that of its new path;
// a second inode for the same name made go-fuse's tree (which gives
// every request its path) disagree with the kernel's: a later rename
// moved the other inode, and utimensat of the new name was sent for the
// old path and answered ENOENT (internal/matrix, network seed 1).
func TestRenamedFileKeepsItsInode(t *testing.T) {
	srv := fstest.StartSpemu(t, spemu.Config{})
	url := srv.LibraryURL()
	const ttl = 30 * time.Millisecond
	m := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, url, nil), Library: url, DirCacheTime: ttl,
		Write: cache.WriteOptions{WriteBack: time.Hour}})
	a, b, c := filepath.Join(m.Dir, "a"), filepath.Join(m.Dir, "b"), filepath.Join(m.Dir, "c")
	if err := os.WriteFile(a, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	// The kernel's entry for b expires; then O_CREAT|O_TRUNC of the
	// existing name.
	time.Sleep(3 * ttl)
	if err := os.WriteFile(b, []byte("second"), 0o644); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("the renamed file changed inode: %v, then %v", before.Sys(), after.Sys())
	}
	if err := os.Rename(b, c); err != nil {
		t.Fatal(err)
	}
	when := time.Unix(1700000000, 0)
	if err := os.Chtimes(c, when, when); err != nil {
		t.Fatalf("utimensat after the rename: %v", err)
	}
	if got, err := os.ReadFile(c); err != nil || string(got) != "second" {
		t.Fatalf("c: %q, %v", got, err)
	}
	if _, err := os.Stat(b); !os.IsNotExist(err) {
		t.Errorf("b after its rename: %v", err)
	}
}

// TestNewFileAtRenamedFilesOldName: a file renamed away keeps the inode
// number of its old name; a new file made there (while the renamed one
// is still open, so that its inode lives) is another file with another
// number. With the same number go-fuse merged the two into one inode
// with two names, and reads of one were served from the other
// (internal/matrix, network seeds 1, 2 and 4).
func TestNewFileAtRenamedFilesOldName(t *testing.T) {
	srv := fstest.StartSpemu(t, spemu.Config{})
	url := srv.LibraryURL()
	const ttl = 30 * time.Millisecond
	m := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, url, nil), Library: url, DirCacheTime: ttl,
		Write: cache.WriteOptions{WriteBack: time.Hour}})
	a, b := filepath.Join(m.Dir, "a"), filepath.Join(m.Dir, "b")
	if err := os.WriteFile(a, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	fb, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a, []byte("second, longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // at once, and after the kernel's entries expired
		for _, c := range []struct{ p, want string }{{b, "first"}, {a, "second, longer"}} {
			if got, err := os.ReadFile(c.p); err != nil || string(got) != c.want {
				t.Errorf("%s: %q, %v; want %q", filepath.Base(c.p), got, err, c.want)
			}
		}
		sa, err1 := os.Stat(a)
		sb, err2 := os.Stat(b)
		if err1 != nil || err2 != nil || os.SameFile(sa, sb) {
			t.Errorf("a and b: %v %v, same file %v", err1, err2, err1 == nil && err2 == nil && os.SameFile(sa, sb))
		}
		time.Sleep(3 * ttl)
	}
}
