package fusefs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
)

// passthroughExpected reports whether this machine can do FUSE
// passthrough (Linux 6.9 or newer, root): there the mount must use it.
func passthroughExpected(t *testing.T) bool {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil || os.Geteuid() != 0 {
		return false
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	parts := strings.SplitN(b.String(), ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, _ := strconv.Atoi(parts[0])
	minor, _ := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return major > 6 || major == 6 && minor >= 9
}

func ptMode(noPT bool) string {
	if noPT {
		return fusefs.PassthroughOff
	}
	return fusefs.PassthroughOn
}

// kernelModes runs f once with passthrough on (which must be used where
// the kernel has it) and once with keep_cache only.
func kernelModes(t *testing.T, f func(t *testing.T, noPT bool)) {
	for _, noPT := range []bool{false, true} {
		name := "passthrough"
		if noPT {
			name = "keep_cache"
		}
		t.Run(name, func(t *testing.T) { f(t, noPT) })
	}
}

func kernelMount(t *testing.T, root string, noPT bool) (*fstest.Mounted, *spemu.Server, *fusefs.Stats) {
	st := &fusefs.Stats{}
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{DirCacheTime: time.Hour,
		FS:    fusefs.Options{Passthrough: ptMode(noPT), Stats: st, AttrTimeout: -1},
		Write: cache.WriteOptions{WriteBack: time.Hour}})
	return m, srv, st
}

// settled waits until every handle given out was released: the kernel
// sends RELEASE after close() returns, and an open that comes before it
// finds the inode still in cached mode (not passed through).
func settled(t *testing.T, st *fusefs.Stats) { t.Helper(); settledBut(t, st, 0) }

// settledBut is settled while held handles stay open on purpose.
func settledBut(t *testing.T, st *fusefs.Stats, held int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); st.Opens.Load()-held != st.Releases.Load(); {
		if time.Now().After(deadline) {
			t.Fatalf("%d opens, %d releases after 10 s", st.Opens.Load(), st.Releases.Load())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// readSettled reads p after every earlier handle was released.
func readSettled(t *testing.T, st *fusefs.Stats, p string) []byte {
	t.Helper()
	return readSettledBut(t, st, 0, p)
}

// readSettledBut is readSettled while held handles stay open.
func readSettledBut(t *testing.T, st *fusefs.Stats, held int64, p string) []byte {
	t.Helper()
	settledBut(t, st, held)
	return mustRead(t, p)
}

// warmOpened checks how the last open of a fully cached file was served.
func warmOpened(t *testing.T, st *fusefs.Stats, noPT bool, wantPT, wantKeep int64) {
	t.Helper()
	if !noPT && passthroughExpected(t) {
		if got := st.PassthroughOpens.Load(); got != wantPT {
			t.Errorf("passthrough opens: %d, want %d", got, wantPT)
		}
		return
	}
	if got := st.PassthroughOpens.Load(); got != 0 {
		t.Errorf("passthrough opens with passthrough off or unavailable: %d", got)
	}
	if got := st.KeepCacheOpens.Load(); got != wantKeep {
		t.Errorf("keep_cache opens: %d, want %d", got, wantKeep)
	}
}

// TestWarmReadServedByKernel: the second read of a file now fully
// cached is served by the kernel — not one READ request reaches odfb,
// not one GET the server — through passthrough where the kernel has it,
// keep_cache otherwise; the bytes are right.
func TestWarmReadServedByKernel(t *testing.T) {
	kernelModes(t, func(t *testing.T, noPT bool) {
		root := t.TempDir()
		data := seeded(3<<20+12345, 141)
		if err := os.WriteFile(filepath.Join(root, "warm.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, srv, st := kernelMount(t, root, noPT)
		p := filepath.Join(m.Dir, "warm.bin")
		if got := readSettled(t, st, p); !bytes.Equal(got, data) {
			t.Fatal("cold read: wrong bytes")
		}
		if st.PassthroughOpens.Load()+st.KeepCacheOpens.Load() != 0 {
			t.Fatal("the cold open (nothing cached) was handed to the kernel")
		}
		reads := st.Reads.Load()
		if reads == 0 {
			t.Fatal("the cold read sent no READ to odfb")
		}
		srv.ResetRequests()
		if got := readSettled(t, st, p); !bytes.Equal(got, data) {
			t.Fatal("warm read: wrong bytes")
		}
		warmOpened(t, st, noPT, 1, 1)
		if got := st.Reads.Load() - reads; got != 0 {
			t.Errorf("the warm read sent %d READ requests to odfb, want 0 (kernel-served)", got)
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("the warm read sent %d requests to the server", n)
		}
	})
}

// TestSparseFileNotHandedToKernel: a file of which only a part is
// cached is neither passed through nor keeps its pages: its next open
// reads through odfb, which fetches the rest, and the bytes are right.
func TestSparseFileNotHandedToKernel(t *testing.T) {
	kernelModes(t, func(t *testing.T, noPT bool) {
		root := t.TempDir()
		data := seeded(8<<20, 142)
		if err := os.WriteFile(filepath.Join(root, "sparse.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, srv, st := kernelMount(t, root, noPT)
		p := filepath.Join(m.Dir, "sparse.bin")
		settled(t, st)
		fd, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close() // a failure must not leave the mount busy
		buf := make([]byte, 4096)
		if _, err := fd.ReadAt(buf, 6<<20); err != nil || !bytes.Equal(buf, data[6<<20:6<<20+4096]) {
			t.Fatalf("read of one block: %v", err)
		}
		fd.Close()
		reads := st.Reads.Load()
		srv.ResetRequests()
		if got := readSettled(t, st, p); !bytes.Equal(got, data) {
			t.Fatal("read of the partly cached file: wrong bytes")
		}
		if n := st.PassthroughOpens.Load() + st.KeepCacheOpens.Load(); n != 0 {
			t.Errorf("a partly cached file was handed to the kernel (%d passthrough, %d keep_cache)",
				st.PassthroughOpens.Load(), st.KeepCacheOpens.Load())
		}
		if st.Reads.Load() == reads {
			t.Error("the partly cached file was read without a READ reaching odfb")
		}
		if countMethod(srv, "GET") == 0 {
			t.Error("the missing part was read without a GET")
		}
	})
}

// TestWarmReadSeesServerChange: after a file changed on the server —
// same size, same mtime (a client that restores it, like rsync -t),
// only the ETag says so — and its folder is revalidated, a read shows
// the new bytes: no page or backing file of the old version is served.
// While a passthrough reader still holds the old version, an open of
// the new one is refused (ETXTBSY) rather than served the old bytes,
// even when the new version is fully cached (read under another
// spelling of the name, which is another inode).
func TestWarmReadSeesServerChange(t *testing.T) {
	kernelModes(t, func(t *testing.T, noPT bool) {
		root := t.TempDir()
		v1, v2 := seeded(2<<20, 143), seeded(2<<20, 144)
		if err := os.WriteFile(filepath.Join(root, "change.bin"), v1, 0o644); err != nil {
			t.Fatal(err)
		}
		m, srv, st := kernelMount(t, root, noPT)
		p := filepath.Join(m.Dir, "change.bin")
		readSettled(t, st, p)
		if got := readSettled(t, st, p); !bytes.Equal(got, v1) {
			t.Fatal("warm read of v1: wrong bytes")
		}
		warmOpened(t, st, noPT, 1, 1)
		before, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		settled(t, st)
		held, err := os.Open(p) // a reader of v1 that stays open
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()

		// Another client replaces the content and puts the mtime back.
		dc := fstest.DavClient(t, srv.LibraryURL(), nil)
		ctx := context.Background()
		if _, err := dc.Put(ctx, "/change.bin", bytes.NewReader(v2), int64(len(v2)), remote.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := dc.SetModTime(ctx, "/change.bin", before.ModTime()); err != nil {
			t.Fatal(err)
		}
		m.Cache.Invalidate("/")
		after, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
			t.Fatalf("the change is not invisible to attributes: %v %v → %v %v", before.Size(), before.ModTime(), after.Size(), after.ModTime())
		}
		// v2 fully cached through another inode (the name spelt in
		// capitals) before this inode opens it again.
		if got := readSettledBut(t, st, 1, filepath.Join(m.Dir, "CHANGE.BIN")); !bytes.Equal(got, v2) {
			t.Error("read of v2 under another spelling: wrong bytes")
		}
		if !noPT && passthroughExpected(t) {
			settledBut(t, st, 1)
			if got, err := os.ReadFile(p); !errors.Is(err, syscall.ETXTBSY) {
				t.Errorf("open of v2 while a passthrough reader holds v1: %v (v1 bytes: %v), want ETXTBSY", err, bytes.Equal(got, v1))
			}
		} else if got := readSettledBut(t, st, 1, p); !bytes.Equal(got, v2) {
			t.Errorf("read after the server's change, v1 still open: old bytes (v1: %v)", bytes.Equal(got, v1))
		}
		held.Close()
		// The new version now, twice: the second one kernel-served.
		for i := 0; i < 2; i++ {
			if got := readSettled(t, st, p); !bytes.Equal(got, v2) {
				t.Fatalf("read %d after the server's change: old bytes", i+1)
			}
		}
	})
}

// TestWritePassthroughFileGoesThroughStaging: a file read through the
// kernel (passthrough or keep_cache) and then opened for writing is
// written through staging: the server gets the new bytes, the mount
// shows them, and the cached old version is not written to. While a
// passthrough reader has it open, an open for writing is refused with
// ETXTBSY (the kernel allows no other open next to passthrough) and
// nothing changes.
func TestWritePassthroughFileGoesThroughStaging(t *testing.T) {
	kernelModes(t, func(t *testing.T, noPT bool) {
		root := t.TempDir()
		data := seeded(1<<20+777, 145)
		if err := os.WriteFile(filepath.Join(root, "w.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, srv, st := kernelMount(t, root, noPT)
		p := filepath.Join(m.Dir, "w.bin")
		readSettled(t, st, p)
		settled(t, st)
		reader, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer reader.Close()
		warmOpened(t, st, noPT, 1, 1)
		pt := !noPT && passthroughExpected(t)
		heldN := int64(1) // the reader, open on a keep_cache mount
		if pt {
			heldN = 0
			settledBut(t, st, 1)
			if w, err := os.OpenFile(p, os.O_WRONLY, 0); !errors.Is(err, syscall.ETXTBSY) {
				t.Errorf("open for writing next to a passthrough reader: %v, want ETXTBSY", err)
				if err == nil {
					w.Close()
				}
			}
			reader.Close()
		}
		settledBut(t, st, heldN)
		w, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteAt([]byte("written through staging"), 1000); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		want := append([]byte(nil), data...)
		copy(want[1000:], "written through staging")
		if err := trySync(m); err != nil {
			t.Fatal(err)
		}
		if countMethod(srv, "PUT") != 1 {
			t.Errorf("PUTs: %d, want 1", countMethod(srv, "PUT"))
		}
		onServer, err := os.ReadFile(filepath.Join(root, "w.bin"))
		if err != nil || !bytes.Equal(onServer, want) {
			t.Fatalf("server content after the write: %v, equal %v", err, bytes.Equal(onServer, want))
		}
		if got := readSettledBut(t, st, heldN, p); !bytes.Equal(got, want) {
			t.Error("the mount shows other bytes than written")
		}
		if !pt {
			// The reader opened before the write keeps its version's
			// pages or reads through odfb: either way no error.
			buf := make([]byte, 10)
			if _, err := reader.ReadAt(buf, 0); err != nil {
				t.Errorf("read of the older open: %v", err)
			}
		}
	})
}

// TestWritableMountDefaultsToKeepCache: a writable mount with the
// default setting serves warm reads with keep_cache, not passthrough, so
// a program may append to a file another holds open for reading (the
// kernel would refuse that open next to a passthrough reader); the
// append reaches the server. A read-only mount uses passthrough where
// the kernel has it.
func TestWritableMountDefaultsToKeepCache(t *testing.T) {
	root := t.TempDir()
	data := seeded(1<<20, 146)
	if err := os.WriteFile(filepath.Join(root, "log.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	st := &fusefs.Stats{}
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{DirCacheTime: time.Hour,
		FS: fusefs.Options{Stats: st}, Write: cache.WriteOptions{WriteBack: time.Hour}})
	p := filepath.Join(m.Dir, "log.bin")
	readSettled(t, st, p)
	settled(t, st)
	reader, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if st.PassthroughOpens.Load() != 0 || st.KeepCacheOpens.Load() != 1 {
		t.Fatalf("warm open on a writable mount: %d passthrough, %d keep_cache; want 0 and 1",
			st.PassthroughOpens.Load(), st.KeepCacheOpens.Load())
	}
	settledBut(t, st, 1)
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("append next to a reader: %v", err)
	}
	if _, err := w.Write([]byte("appended")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := trySync(m); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "log.bin"))
	if err != nil || !bytes.Equal(got, append(append([]byte(nil), data...), "appended"...)) {
		t.Fatalf("server content after the append: %v (%d bytes)", err, len(got))
	}
	if countMethod(srv, "PUT") != 1 {
		t.Errorf("PUTs: %d, want 1", countMethod(srv, "PUT"))
	}

	if !passthroughExpected(t) {
		return
	}
	ro := &fusefs.Stats{}
	m2, _ := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{DirCacheTime: time.Hour,
		FS: fusefs.Options{ReadOnly: true, Stats: ro}})
	p2 := filepath.Join(m2.Dir, "log.bin")
	readSettled(t, ro, p2)
	readSettled(t, ro, p2)
	if ro.PassthroughOpens.Load() != 1 {
		t.Errorf("warm open on a read-only mount: %d passthrough opens, want 1", ro.PassthroughOpens.Load())
	}
}
