package cache

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestServerAwayReadsFailFast: once a GET found the server unreachable,
// reads of content that is not cached fail at once with ErrUnavailable
// (an error naming the file and saying it is not cached) and send no
// request — not one per read, each waiting for the remote's retries —
// while cached content is still served. After the retry interval
// (min(DirCacheTime, 30s)) exactly one request probes the server, however
// many readers there are; once it answers, reads go to it again.
func TestServerAwayReadsFailFast(t *testing.T) {
	f := remotetest.New()
	// Reads at multiples of stride (more than seqSlack apart) are random
	// to the read-ahead.
	const stride = 4 << 20
	data := seeded(6*stride, 7)
	f.AddFile("/f.bin", data, time.Unix(1710000000, 0))
	clk := &clock{t: time.Unix(1720000000, 0)}
	c := openCache(t, t.TempDir(), f, clk, 0) // DirCacheTime 1m: retry after 30s
	defer c.Close()
	ctx := context.Background()
	h, err := c.Open(ctx, "/f.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	buf := make([]byte, 4096)
	// Random reads (each far from the last) fetch one block and read
	// nothing ahead, so the requests are the test's to count.
	read := func(block int64) error {
		_, err := h.ReadAt(ctx, buf, block*stride+100)
		if err == nil && !bytes.Equal(buf, data[block*stride+100:][:len(buf)]) {
			t.Fatalf("block %d: wrong data", block)
		}
		return err
	}
	if err := read(5); err != nil {
		t.Fatal(err)
	}

	f.Fail("Get", remote.ErrUnavailable)
	f.ResetCalls()
	if err := read(0); !errors.Is(err, remote.ErrUnavailable) {
		t.Fatalf("read with the server away: %v", err)
	}
	if n := f.TotalCalls(); n != 1 {
		t.Fatalf("%d requests for the read that found the server away, want 1", n)
	}
	var errs []error
	for i := 0; i < 10; i++ {
		errs = append(errs, read(int64(i%4)))
		if i == 5 {
			clk.add(20 * time.Second) // still within the retry interval
		}
	}
	if err := read(5); err != nil {
		t.Fatalf("cached block while away: %v", err)
	}
	if n := f.TotalCalls(); n != 1 {
		t.Fatalf("%d requests while the server was known away, want none after the first", n-1)
	}
	for i, err := range errs {
		if !errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "/f.bin") || !strings.Contains(err.Error(), "not cached") {
			t.Fatalf("read %d while away: %v, want ErrUnavailable naming the file and saying it is not cached", i, err)
		}
	}

	// After the interval: one probe among many readers.
	clk.add(11 * time.Second)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(b int64) {
			defer wg.Done()
			if _, err := h.ReadAt(ctx, make([]byte, 4096), b*stride); !errors.Is(err, remote.ErrUnavailable) {
				t.Errorf("read after the interval, server still away: %v", err)
			}
		}(int64(i % 5))
	}
	wg.Wait()
	if n := f.TotalCalls(); n != 2 {
		t.Fatalf("%d requests after the retry interval, want exactly one probe", n-1)
	}
	if err := read(1); !errors.Is(err, remote.ErrUnavailable) || f.TotalCalls() != 2 {
		t.Fatalf("read after a failed probe: %v, %d requests", err, f.TotalCalls())
	}

	// The server is back: the next probe succeeds, and reads go on.
	f.Fail("Get", nil)
	clk.add(31 * time.Second)
	if err := read(1); err != nil {
		t.Fatalf("probe with the server back: %v", err)
	}
	if c.Offline() {
		t.Error("still offline after a GET succeeded")
	}
	if err := read(3); err != nil {
		t.Fatalf("read with the server back: %v", err)
	}
	if n := f.Calls("Get"); n != 4 {
		t.Errorf("%d GETs, want 4 (first failure, one failed probe, the good probe, one more read)", n)
	}
}
