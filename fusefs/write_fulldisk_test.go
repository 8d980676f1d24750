package fusefs_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestWriteFullCacheDisk: the disk holding --cache-dir (a 6 MiB tmpfs)
// fills up. A write that does not fit fails with ENOSPC and a log line
// naming the file; a server file larger than the whole disk still reads
// back byte-identical — straight from the server, in ranged GETs of
// bounded total size — with a warning naming the file, not EIO and a
// "server error"; files closed before the disk filled are uploaded by
// Sync; deleting the failed file gives the space back and the next
// write goes up.
func TestWriteFullCacheDisk(t *testing.T) {
	testenv.NeedFUSE(t)
	disk := t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=6m,mode=0700"); err != nil {
		testenv.Missing(t, "cannot mount a tmpfs for the cache dir: "+err.Error())
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(disk, 0); err != nil {
			syscall.Unmount(disk, syscall.MNT_DETACH)
		}
	})
	f := remotetest.New()
	big := seeded(12<<20, 9)
	f.AddFile("/server-big.bin", big, mtime)
	logs := &testenv.Buffer{T: t}
	m := fstest.Mount(t, fstest.Config{Remote: f, CacheDir: filepath.Join(disk, "c"),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Write:  cache.WriteOptions{WriteBack: time.Hour}})
	// The tmpfs is unmounted after the mount (cleanups run last first).
	small := map[string][]byte{"a": seeded(1<<20, 1), "b": seeded(1<<20, 2)}
	for n, d := range small {
		if err := os.WriteFile(filepath.Join(m.Dir, n), d, 0o644); err != nil {
			t.Fatalf("write %s: %v", n, err)
		}
	}

	err := os.WriteFile(filepath.Join(m.Dir, "huge"), seeded(8<<20, 3), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 8 MiB to a 6 MiB cache disk: %v, want ENOSPC", err)
	}
	if l := logs.String(); !strings.Contains(l, "path=/huge") || !strings.Contains(l, "no space left on device") {
		t.Errorf("no log line names /huge and the full disk:\n%s", l)
	}

	f.ResetCalls()
	got, err := os.ReadFile(filepath.Join(m.Dir, "server-big.bin"))
	if err != nil {
		t.Fatalf("read of a 12 MiB server file with the cache disk full: %v", err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes, not the server's %d", len(got), len(big))
	}
	var total int64
	for _, g := range f.Gets() {
		if g.Path != "/server-big.bin" || g.Length < 0 || g.Length > cache.MaxReadAhead {
			t.Errorf("unbounded or stray GET: %+v", g)
		}
		total += g.Sent
	}
	if limit := int64(len(big)) + 8<<20; total > limit {
		t.Errorf("GETs moved %d bytes for a %d-byte file (bound %d)", total, len(big), limit)
	}
	t.Logf("%d GETs moved %d bytes", len(f.Gets()), total)
	l := logs.String()
	if !strings.Contains(l, "cache disk is full") || !strings.Contains(l, "path=/server-big.bin") {
		t.Errorf("no warning names the file and the full cache disk:\n%s", l)
	}
	if strings.Contains(l, "server error") {
		t.Errorf("a local disk error was reported as a server error:\n%s", l)
	}
	if n := strings.Count(l, "cache disk is full"); n != 1 {
		t.Errorf("the full-disk warning was logged %d times, want once for the file", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Cache.Sync(ctx); err != nil {
		t.Fatalf("sync with the cache disk full: %v", err)
	}
	for n, d := range small {
		if rc, _, err := f.Get(ctx, "/"+n, 0, -1); err != nil {
			t.Errorf("/%s not on the server: %v", n, err)
		} else {
			var b bytes.Buffer
			b.ReadFrom(rc)
			rc.Close()
			if !bytes.Equal(b.Bytes(), d) {
				t.Errorf("/%s on the server: %d bytes, not what was written", n, b.Len())
			}
		}
	}

	if err := os.Remove(filepath.Join(m.Dir, "huge")); err != nil {
		t.Fatalf("remove the failed file: %v", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(disk, &st); err != nil {
		t.Fatal(err)
	}
	if free := int64(st.Bavail) * st.Bsize; free < 2<<20 {
		t.Errorf("only %d bytes free on the cache disk after deleting the failed file", free)
	}
	c := seeded(1<<20, 4)
	if err := os.WriteFile(filepath.Join(m.Dir, "c"), c, 0o644); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
	if err := m.Cache.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	rc, _, err := f.Get(ctx, "/c", 0, -1)
	if err != nil {
		t.Fatalf("/c not on the server: %v", err)
	}
	var b bytes.Buffer
	b.ReadFrom(rc)
	rc.Close()
	if !bytes.Equal(b.Bytes(), c) {
		t.Errorf("/c on the server: %d bytes, not what was written", b.Len())
	}
}
