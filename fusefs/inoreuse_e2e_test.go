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
	time.Sleep(3 * ttl) // the kernel's entry for b expires
	if err := os.WriteFile(b, []byte("second"), 0o644); err != nil { // O_CREAT|O_TRUNC of an existing name
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
