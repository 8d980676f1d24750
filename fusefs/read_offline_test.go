package fusefs_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestReadOfflineFailsFast: with the server unreachable, the first read
// of content that is not cached fails with EIO after one attempt; later
// reads of uncached content fail with EIO at once, without a request,
// and the log names the file and says it is not cached; cached content
// is still read.
func TestReadOfflineFailsFast(t *testing.T) {
	f := remotetest.New()
	data := seeded(8<<20, 21)
	f.AddFile("/away.bin", data, mtime)
	logs := &testenv.Buffer{T: t}
	m := fstest.Mount(t, fstest.Config{Remote: f,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	p := filepath.Join(m.Dir, "away.bin")
	fd, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	// Cache the last block while the server is there.
	tail := make([]byte, 4096)
	if _, err := fd.ReadAt(tail, int64(len(data))-4096); err != nil {
		t.Fatal(err)
	}

	f.Fail("*", remote.ErrUnavailable)
	f.ResetCalls()
	buf := make([]byte, 4096)
	if _, err := fd.ReadAt(buf, 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read with the server away: %v, want EIO", err)
	}
	first := f.TotalCalls()
	if first < 1 {
		t.Fatalf("no request for the read that found the server away")
	}
	for _, off := range []int64{1 << 20, 3 << 20, 5<<20 + 7, 2 << 20} {
		if _, err := fd.ReadAt(buf, off); !errors.Is(err, syscall.EIO) {
			t.Errorf("read at %d with the server known away: %v, want EIO", off, err)
		}
	}
	if n := f.TotalCalls(); n != first {
		t.Errorf("%d requests for reads while the server was known away, want 0", n-first)
	}
	if _, err := fd.ReadAt(tail, int64(len(data))-4096); err != nil || !bytes.Equal(tail, data[len(data)-4096:]) {
		t.Errorf("cached block while away: %v", err)
	}
	l := logs.String()
	if !strings.Contains(l, "path=/away.bin") || !strings.Contains(l, "not cached") || !strings.Contains(l, "unreachable") {
		t.Errorf("no log line names the file and says the server is unreachable and the data not cached:\n%s", l)
	}
}
