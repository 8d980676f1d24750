package writes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestLocalLostNameFits: every segment of a lost+found name fits a
// 255-byte file system, the last one with room for a counter and
// ".reason"; the extension survives the shortening and a cut never
// splits a character.
func TestLocalLostNameFits(t *testing.T) {
	long := strings.Repeat("\uFF1A", 300) // 900 bytes
	rel := localLostName("/"+long+"/"+long+".docx", 255)
	segs := strings.Split(rel, "/")
	if len(segs) != 2 {
		t.Fatalf("segments %q", segs)
	}
	if len(segs[0]) > 255 {
		t.Errorf("folder segment of %d bytes", len(segs[0]))
	}
	if n := len(segs[1]) + len(" (1000)") + len(".reason"); n > 255 {
		t.Errorf("file segment of %d bytes leaves no room for counter and .reason (%d)", len(segs[1]), n)
	}
	if !strings.HasSuffix(segs[1], ".docx") {
		t.Errorf("extension lost: %q", segs[1])
	}
	for _, s := range segs {
		if !strings.HasPrefix(long, strings.TrimSuffix(s, ".docx")) {
			t.Errorf("segment %q is not a prefix of the original (a character was split?)", s)
		}
	}
	if got := localLostName("/a/short.txt", 255); got != "a/short.txt" {
		t.Errorf("short path changed to %q", got)
	}
	if got := localLostName("/x\x01y/../.", 255); got != "x_y/_/_" {
		t.Errorf("control characters and dot segments: %q", got)
	}
}

// TestFreeLostNameBounded: taken names get a counter before the
// extension; a disk answer other than "no such file" is an error at
// once, not a loop; and the counter search stops after maxLostTries.
func TestFreeLostNameBounded(t *testing.T) {
	dir := t.TempDir()
	dst, err := freeLostName(dir, "/f/a.txt")
	if err != nil || dst != filepath.Join(dir, "f", "a.txt") {
		t.Fatalf("free name: %q %v", dst, err)
	}
	os.MkdirAll(filepath.Join(dir, "f"), 0o700)
	os.WriteFile(dst, nil, 0o600)
	if dst, err := freeLostName(dir, "/f/a.txt"); err != nil || dst != filepath.Join(dir, "f", "a (1).txt") {
		t.Errorf("taken name: %q %v, want a (1).txt", dst, err)
	}

	// A file where a folder should be: Lstat answers ENOTDIR forever.
	os.WriteFile(filepath.Join(dir, "plain"), nil, 0o600)
	if _, err := freeLostName(dir, "/plain/b.txt"); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("unusable folder: %v, want ENOTDIR", err)
	}

	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o700)
	os.WriteFile(filepath.Join(full, "c"), nil, 0o600)
	for i := 1; i < maxLostTries; i++ {
		os.WriteFile(filepath.Join(full, withCounter("c", i)), nil, 0o600)
	}
	if dst, err := freeLostName(dir, "/full/c"); err == nil {
		t.Errorf("all %d names taken: got %q", maxLostTries, dst)
	}
}

// gatedReader holds a copy at its first Read until open is closed.
type gatedReader struct {
	io.ReadCloser
	started chan<- struct{}
	open    <-chan struct{}
	once    sync.Once
}

func (g *gatedReader) Read(p []byte) (int, error) {
	g.once.Do(func() { close(g.started); <-g.open })
	return g.ReadCloser.Read(p)
}

// TestLookupDuringLostFoundCopy: moving a refused upload to lost+found
// copies the staging file when it cannot be hard-linked (another file
// system); that copy of a large file must not hold the writer lock every
// lookup, stat and readdir takes. The copy is held at its first read
// while lookups of the refused file itself, of a file already uploaded and
// a listing of their folder are answered; then it finishes and
// lost+found holds the whole file.
func TestLookupDuringLostFoundCopy(t *testing.T) {
	started, open := make(chan struct{}), make(chan struct{})
	links := 0
	linkFile = func(string, string) error { links++; return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
	openCopySource = func(name string) (io.ReadCloser, error) {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		return &gatedReader{ReadCloser: f, started: started, open: open}, nil
	}
	t.Cleanup(func() {
		linkFile = os.Link
		openCopySource = func(name string) (io.ReadCloser, error) { return os.Open(name) }
	})

	f := remotetest.New()
	f.AddDir("/d")
	c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Hour})
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	write := func(p string, data []byte) {
		t.Helper()
		h, err := c.OpenWrite(ctx, p, true, false, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.WriteAt(ctx, data, 0); err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("/d/other.txt", []byte("x"))
	if err := c.Sync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	write("/d/big.bin", data)
	f.Fail("Put", &remote.Error{Kind: remote.ErrTooLarge, Op: "PUT", Path: "/d/big.bin"})
	synced := make(chan error, 1)
	go func() { synced <- c.Sync(syncCtx(t)) }()
	select {
	case <-started:
	case err := <-synced:
		t.Fatalf("sync returned before the lost+found copy began: %v", err)
	}

	// The copy is running (held). Each of these takes the writer lock.
	answered := make(chan error, 1)
	go func() {
		if e, err := c.h.Stat(ctx, "/d/big.bin"); err != nil || e.Size != int64(len(data)) {
			answered <- fmt.Errorf("lookup big.bin: %+v, %v", e, err)
			return
		}
		if _, err := c.h.Stat(ctx, "/d/other.txt"); err != nil {
			answered <- fmt.Errorf("lookup other.txt: %v", err)
			return
		}
		kids, err := c.h.ReadDir(ctx, "/d")
		if err != nil || len(kids) != 2 {
			answered <- fmt.Errorf("readdir /d: %d entries, %v", len(kids), err)
			return
		}
		answered <- nil
	}()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second): // a deadlock detector, not a timing
		close(open)
		t.Fatal("lookups were not answered while the lost+found copy ran: it holds the writer lock")
	}
	close(open)
	var se *SyncError
	if err := <-synced; !errors.As(err, &se) || len(se.Lost) != 1 {
		t.Fatalf("sync: %v, want big.bin in lost+found", err)
	}
	if links == 0 {
		t.Fatal("the link hook was never called: the copy fallback was not forced")
	}
	lost := c.LostFound()
	if len(lost) != 1 || lost[0].Path != "/d/big.bin" {
		t.Fatalf("lost+found: %+v", lost)
	}
	got, err := os.ReadFile(lost[0].File)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("lost+found copy: %d bytes, %v; want the %d bytes written", len(got), err, len(data))
	}
	if _, err := c.h.Stat(ctx, "/d/big.bin"); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("lookup after the move: %v, want not found", err)
	}
}
