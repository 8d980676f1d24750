package fusefs_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/spemu"
)

// TestFolderTimesMove: creating, removing and renaming entries moves the
// folder's mtime and ctime, as POSIX says, whether the server moves its
// own folder time (spemu's default) or keeps it (FolderTimesFixed, the
// other reading of an unknown): and a later listing from the server never
// moves a folder's time back.
func TestFolderTimesMove(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		name := "server moves folder times"
		if fixed {
			name = "server keeps folder times"
		}
		t.Run(name, func(t *testing.T) { testFolderTimesMove(t, fixed) })
	}
}

func testFolderTimesMove(t *testing.T, fixed bool) {
	root := t.TempDir()
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, d := range []string{"a", "b"} {
		os.Mkdir(filepath.Join(root, d), 0o755)
		os.WriteFile(filepath.Join(root, d, "seed.txt"), []byte(d), 0o644)
		os.Chtimes(filepath.Join(root, d), old, old)
	}
	const ttl = 50 * time.Millisecond
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: root, FolderTimesFixed: fixed},
		fstest.Config{DirCacheTime: ttl, Write: cache.WriteOptions{WriteBack: time.Millisecond}})
	a, b := filepath.Join(m.Dir, "a"), filepath.Join(m.Dir, "b")

	times := func(p string) (mt, ct time.Time) {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return time.Unix(st.Mtim.Unix()), time.Unix(st.Ctim.Unix())
	}
	if mt, _ := times(a); !mt.Equal(old) {
		t.Fatalf("folder a shows %v before any change, want the server's %v", mt, old)
	}
	last := map[string]time.Time{a: old, b: old}
	// moved checks that each folder's mtime and ctime are at least the
	// time the step began and not before what they showed last.
	moved := func(step string, began time.Time, dirs ...string) {
		t.Helper()
		for _, d := range dirs {
			mt, ct := times(d)
			if mt.Before(began) || ct.Before(began) {
				t.Errorf("%s: %s shows mtime %v ctime %v, want both at or after %v", step, filepath.Base(d), mt, ct, began)
			}
			if mt.Before(last[d]) {
				t.Errorf("%s: %s's mtime went back from %v to %v", step, filepath.Base(d), last[d], mt)
			}
			last[d] = mt
		}
	}
	steps := []struct {
		name string
		do   func() error
		dirs []string
	}{
		{"create", func() error { return os.WriteFile(filepath.Join(a, "new.txt"), []byte("n"), 0o644) }, []string{a}},
		{"mkdir", func() error { return os.Mkdir(filepath.Join(a, "sub"), 0o755) }, []string{a}},
		{"rmdir", func() error { return os.Remove(filepath.Join(a, "sub")) }, []string{a}},
		{"unlink", func() error { return os.Remove(filepath.Join(a, "seed.txt")) }, []string{a}},
		{"rename across folders", func() error { return os.Rename(filepath.Join(a, "new.txt"), filepath.Join(b, "moved.txt")) }, []string{a, b}},
	}
	for _, s := range steps {
		time.Sleep(20 * time.Millisecond) // each step at a later time
		began := time.Now()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		moved(s.name, began, s.dirs...)
	}
	syncMount(t, m)
	// Listed again from the server: its time shows only if it is later.
	time.Sleep(3 * ttl)
	os.ReadDir(m.Dir)
	moved("after the server listed the folders again", old, a, b)

	it, err := srv.Stat("/a")
	if err != nil {
		t.Fatal(err)
	}
	if fixed != it.Modified.Equal(old) {
		t.Errorf("the server's time of /a is %v (fixed %v)", it.Modified, fixed)
	}
}
