package fusefs_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/hanwen/go-fuse/v2/posixtest"
	"golang.org/x/sys/unix"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/remote/remotetest"
)

// posixAllow are go-fuse posixtest tests run unchanged against a
// read-only mount of a populated library.
var posixAllow = []string{
	"ReadDirConsistency", // two readdirs of the same folder agree
}

// posixLeftOut lists every posixtest test that is not run, and why. The
// write-side tests run in TestPosixWriteSide (write_posix_test.go); the
// read-side ports below (TestPosixReadSide) check the same behaviour
// against fixtures created on the server.
var posixLeftOut = map[string]string{
	"Fallocate":           "fallocate is not implemented (EOPNOTSUPP): a library file has no preallocation",
	"FallocateKeepSize":   "fallocate is not implemented (EOPNOTSUPP)",
	"FcntlFlockLocksFile": "locks are local to the kernel; go-fuse's flock between two open files of one FUSE file is not enforced across handles here",
	"Link":                "a library has no hard links (EPERM)",
	"LinkUnlinkRename":    "a library has no hard links (EPERM)",
	"OpenSymlinkRace":     "a library has no symbolic links",
	"SetattrSymlink":      "a library has no symbolic links",
	"SymlinkReadlink":     "a library has no symbolic links",
	"Tmpfile":             "O_TMPFILE is not supported (EOPNOTSUPP): an unnamed file cannot be staged for upload",
	"XAttr":               "a library stores no extended attributes",
	"XAttrLarge":          "a library stores no extended attributes",
}

func TestPosixAllowList(t *testing.T) {
	for name := range posixtest.All {
		allowed := false
		for _, a := range append(posixAllow, posixWrite...) {
			allowed = allowed || a == name
		}
		if _, ok := posixLeftOut[name]; !ok && !allowed {
			t.Errorf("posixtest %s is neither run nor listed with a reason", name)
		}
	}
	f := remotetest.New()
	for i := 0; i < 150; i++ {
		f.AddFile(fmt.Sprintf("/file%036x", i), []byte("hello"), mtime)
	}
	m := fstest.Mount(t, fstest.Config{Remote: f})
	for _, name := range posixAllow {
		t.Run(name, func(t *testing.T) {
			failIfSkipped(t)
			posixtest.All[name](t, m.Dir)
		})
	}
}

// TestPosixReadSide ports the read-side checks of posixtest tests whose
// fixtures need writes: the fixtures are created on the server instead.
func TestPosixReadSide(t *testing.T) {
	f := remotetest.New()
	for i := 0; i < 110; i++ {
		f.AddFile(fmt.Sprintf("/rd/file%036x", i), []byte("hello"), mtime)
	}
	for i := 1; i <= 168; i++ {
		f.AddFile(fmt.Sprintf("/ttt/%d", i), nil, mtime)
	}
	f.AddFile("/file", []byte("hello world"), mtime)
	m := fstest.Mount(t, fstest.Config{Remote: f})

	t.Run("ReadDirBasic", func(t *testing.T) {
		// 110 entries of 40-byte names overflow one 4 KiB getdents page.
		names, err := readNames(filepath.Join(m.Dir, "rd"))
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 110 {
			t.Fatalf("got %d entries", len(names))
		}
		for i, n := range names {
			if want := fmt.Sprintf("file%036x", i); n != want {
				t.Fatalf("entry %d = %q, want %q", i, n, want)
			}
		}
	})
	t.Run("DirSeek", func(t *testing.T) {
		fd, err := syscall.Open(filepath.Join(m.Dir, "ttt"), syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		all, err := readAllDirEntries(fd)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) < 168 {
			t.Fatalf("got %d entries", len(all))
		}
		buf := make([]byte, 4096)
		for i := len(all) - 1; i >= 0; i-- {
			var to int64
			if i > 0 {
				to = int64(all[i-1].Off)
			}
			if _, err := unix.Seek(fd, to, 0); err != nil {
				t.Fatal(err)
			}
			n, err := unix.ReadDirent(fd, buf)
			if err != nil || n == 0 {
				t.Fatalf("getdents after seek to entry %d: %d, %v", i, n, err)
			}
			var de fuse.DirEntry
			de.Parse(buf)
			if !reflect.DeepEqual(de, all[i]) {
				t.Errorf("entry %d: got %v, want %v", i, de, all[i])
			}
		}
	})
	t.Run("FdLeak", func(t *testing.T) {
		before := countFDs(t)
		for i := 0; i < 100; i++ {
			if data, err := os.ReadFile(filepath.Join(m.Dir, "file")); err != nil || string(data) != "hello world" {
				t.Fatalf("ReadFile: %q %v", data, err)
			}
		}
		if after := countFDs(t); after-before > 15 {
			t.Errorf("%d more open descriptors after 100 reads", after-before)
		}
	})
	t.Run("ParallelFileOpen", func(t *testing.T) {
		errs := make(chan error, 10)
		for i := 0; i < 10; i++ {
			go func() {
				fh, err := os.Open(filepath.Join(m.Dir, "file"))
				if err != nil {
					errs <- err
					return
				}
				defer fh.Close()
				buf := make([]byte, 20)
				n, _ := fh.Read(buf)
				if !bytes.Equal(buf[:n], []byte("hello world")) {
					errs <- fmt.Errorf("read %q", buf[:n])
					return
				}
				errs <- nil
			}()
		}
		for i := 0; i < 10; i++ {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}

func readNames(dir string) ([]string, error) {
	fh, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	names, err := fh.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

func readAllDirEntries(fd int) ([]fuse.DirEntry, error) {
	var buf [4096]byte
	var out []fuse.DirEntry
	for {
		n, err := unix.ReadDirent(fd, buf[:])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return out, nil
		}
		todo := buf[:n]
		for len(todo) > 0 {
			var de fuse.DirEntry
			k := de.Parse(todo)
			todo = todo[k:]
			out = append(out, de)
		}
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
