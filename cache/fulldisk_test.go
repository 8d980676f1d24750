package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/remote/remotetest"
)

// smallDisk mounts a tmpfs of size bytes (root only) and unmounts it
// when the test ends.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "a tmpfs cache disk needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		testenv.Missing(t, "cannot mount a tmpfs: "+err.Error())
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fillDisk writes a file into dir until the disk is full.
func fillDisk(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "ballast"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// readAll reads the file at p through a Handle in 1 MiB reads.
func readAll(t *testing.T, c *Cache, p string) ([]byte, *Handle) {
	t.Helper()
	ctx := context.Background()
	h, err := c.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, 1<<20)
	for off := int64(0); ; {
		n, err := h.ReadAt(ctx, buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return out, h
		}
		if err != nil {
			t.Fatalf("read %s at %d: %v", p, off, err)
		}
	}
}

// TestFullDiskEvictsThenReadsDirect: when the disk holding the cache is
// full (whatever --cache-size says), storing a download first evicts
// content that is not open and writes again; when nothing is left to
// evict, the read is served straight from the server (ranged GETs of
// what was asked), with one warning naming the file, and the data is
// right. A full disk is never reported as a server error.
func TestFullDiskEvictsThenReadsDirect(t *testing.T) {
	disk := smallDisk(t, "4m")
	f := remotetest.New()
	mt := time.Unix(1710000000, 0)
	a, b, cc := seeded(3<<20, 1), seeded(2<<20, 2), seeded(3<<20, 3)
	f.AddFile("/a.bin", a, mt)
	f.AddFile("/b.bin", b, mt)
	f.AddFile("/c.bin", cc, mt)
	logs := &testenv.Buffer{}
	c, err := Open(Options{Dir: filepath.Join(disk, "c"), Library: "lib", Remote: f, Now: time.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	got, h := readAll(t, c, "/a.bin")
	h.Close()
	if !bytes.Equal(got, a) || c.ContentUsed() != int64(len(a)) {
		t.Fatalf("a: %d bytes read, %d cached", len(got), c.ContentUsed())
	}
	fillDisk(t, disk)

	// b: the disk is full; a is not open, so it is evicted and b cached.
	f.ResetCalls()
	got, hb := readAll(t, c, "/b.bin")
	defer hb.Close()
	if !bytes.Equal(got, b) {
		t.Fatalf("b: read %d bytes, not the server's", len(got))
	}
	if c.ContentUsed() != int64(len(b)) {
		t.Errorf("content cache holds %d bytes, want b's %d (a evicted)", c.ContentUsed(), len(b))
	}
	if !strings.Contains(logs.String(), "evicting cached content") || !strings.Contains(logs.String(), "path=/a.bin") {
		t.Errorf("no eviction of /a.bin logged:\n%s", logs)
	}
	if strings.Contains(logs.String(), "cache disk is full: reading") {
		t.Errorf("b went past the cache although a could be evicted:\n%s", logs)
	}
	var sent int64
	for _, g := range f.Gets() {
		sent += g.Sent
	}
	if sent != int64(len(b)) {
		t.Errorf("GETs for b moved %d bytes, want %d", sent, len(b))
	}

	// c: b is open and cannot be evicted: c is read past the cache.
	f.ResetCalls()
	got, hc := readAll(t, c, "/c.bin")
	hc.Close()
	if !bytes.Equal(got, cc) {
		t.Fatalf("c: read %d bytes, not the server's", len(got))
	}
	sent = 0
	for _, g := range f.Gets() {
		if g.Length < 0 || g.Length > MaxReadAhead {
			t.Errorf("unbounded GET: %+v", g)
		}
		sent += g.Sent
	}
	// What was read past the cache, plus at most the windows that found
	// the disk full.
	if sent > int64(len(cc))+3*FirstReadAhead {
		t.Errorf("GETs for c moved %d bytes for a %d-byte file", sent, len(cc))
	}
	l := logs.String()
	if n := strings.Count(l, "cache disk is full: reading"); n != 1 || !strings.Contains(l, "path=/c.bin") {
		t.Errorf("want one warning naming /c.bin, got %d:\n%s", n, l)
	}
	if strings.Contains(l, "server error") {
		t.Errorf("a full disk was reported as a server error:\n%s", l)
	}
}
