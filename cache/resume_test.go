package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// cutBody breaks the first GET's body after cut bytes, as a connection
// dropped mid-answer does.
type cutBody struct {
	*remotetest.Fake
	cut   int64
	gets  atomic.Int32
	since atomic.Int32 // GETs cut so far
}

type cutReader struct {
	io.ReadCloser
	left int64
}

func (r *cutReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.ReadCloser.Read(p)
	r.left -= int64(n)
	return n, err
}

func (c *cutBody) Get(ctx context.Context, p string, off, n int64) (io.ReadCloser, remote.ObjectInfo, error) {
	body, info, err := c.Fake.Get(ctx, p, off, n)
	if err == nil && c.gets.Add(1) == 1 {
		c.since.Add(1)
		return &cutReader{ReadCloser: body, left: c.cut}, info, nil
	}
	return body, info, err
}

// TestInterruptedDownloadResumes: a connection cut in the middle of a
// ranged GET is resumed from the first block not stored; the read gets
// the right bytes instead of EIO. The fault matrix saw a partial
// overwrite fail with EIO because the fetch of the old content broke.
func TestInterruptedDownloadResumes(t *testing.T) {
	f := remotetest.New()
	size := 6 * BlockSize
	data := seeded(size, 9)
	f.AddFile("/big", data, time.Unix(1710000000, 0))
	r := &cutBody{Fake: f, cut: 1000}
	c := openCache(t, t.TempDir(), r, &clock{t: time.Unix(1720000000, 0)}, 0)
	defer c.Close()
	ctx := context.Background()
	h, err := c.Open(ctx, "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	got := make([]byte, size)
	for off := 0; off < size; {
		n, err := h.ReadAt(ctx, got[off:], int64(off))
		off += n
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("read at %d after an interrupted download: %v", off, err)
		}
		if n == 0 {
			break
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("content differs after a resumed download")
	}
	if r.since.Load() != 1 || r.gets.Load() < 2 {
		t.Errorf("%d GETs (%d cut): want the cut one and a resumption", r.gets.Load(), r.since.Load())
	}
}
