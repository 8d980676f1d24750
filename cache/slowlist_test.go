package cache

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// delayedLister answers every List after delay, as a large folder on a
// slow or loaded server does.
type delayedLister struct {
	*remotetest.Fake
	delay time.Duration
}

func (d *delayedLister) List(ctx context.Context, dir string) (remote.Entry, []remote.Entry, error) {
	time.Sleep(d.delay)
	return d.Fake.List(ctx, dir)
}

// TestSlowRefreshIsWaitedFor: once a listing is past --dir-cache-time, a
// lookup waits for a refresh that takes seconds instead of answering from
// the stale listing: a file another client deleted must be gone and one
// it added must show. make bench's scale workload showed a deleted file
// when the refresh of a 20,000-entry folder took over 3 s.
func TestSlowRefreshIsWaitedFor(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/gone.txt", []byte("x"), time.Now())
	d := &delayedLister{Fake: f}
	c, err := Open(Options{Dir: t.TempDir(), Library: "lib", Remote: d, DirCacheTime: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "/", "gone.txt"); err != nil {
		t.Fatal(err)
	}
	f.Remove("/gone.txt")
	f.AddFile("/new.txt", []byte("y"), time.Now())
	d.delay = 4 * time.Second
	time.Sleep(100 * time.Millisecond) // past the cache time
	kids, err := c.ReadDir(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 1 || kids[0].Name() != "new.txt" {
		var names []string
		for _, k := range kids {
			names = append(names, k.Name())
		}
		t.Errorf("after the cache time the folder lists %v, want [new.txt]", names)
	}
}
