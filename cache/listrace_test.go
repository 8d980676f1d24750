package cache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// slowLister answers a List with the server's state at the moment the
// request arrived, but only once release is closed: an answer that was
// on its way while the client changed the folder.
type slowLister struct {
	*remotetest.Fake
	mu      sync.Mutex
	hold    bool
	arrived chan struct{}
	release chan struct{}
}

func (s *slowLister) List(ctx context.Context, dir string) (remote.Entry, []remote.Entry, error) {
	self, kids, err := s.Fake.List(ctx, dir)
	s.mu.Lock()
	hold := s.hold
	s.hold = false
	s.mu.Unlock()
	if hold {
		close(s.arrived)
		<-s.release
	}
	return self, kids, err
}

// TestListingOlderThanUploadIsNotInstalled: a folder listing requested
// before an upload and answered after it must not replace the uploaded
// file's new ETag with the old one. Before the fix it did: the next edit
// sent If-Match with the old ETag (a conflict copy of our own file), a
// read sent If-Match with it (ESTALE), or the old version's cached
// content was served as current (wrong data) — found by the fault
// matrix (internal/matrix) with no fault at all.
func TestListingOlderThanUploadIsNotInstalled(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/f.txt", []byte("old"), time.Now())
	sl := &slowLister{Fake: f, arrived: make(chan struct{}), release: make(chan struct{})}
	c := writeCache(t, t.TempDir(), sl, WriteOptions{})
	ctx := context.Background()
	if _, err := c.ReadDir(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c, "/f.txt", []byte("new content"))

	sl.mu.Lock()
	sl.hold = true
	sl.mu.Unlock()
	c.Invalidate("/")
	listed := make(chan error, 1)
	go func() {
		_, err := c.listings.Fetch("/")
		listed <- err
	}()
	<-sl.arrived // the server answered with the old version; the answer is on its way
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	close(sl.release)
	if err := <-listed; err != nil {
		t.Fatalf("listing: %v", err)
	}
	e, err := c.Lookup(ctx, "/", "f.txt")
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := f.Stat(ctx, "/f.txt")
	if !sameETag(e.ETag, srv.ETag) || e.Size != int64(len("new content")) {
		t.Errorf("after the race the listing holds ETag %s size %d; the server has %s size %d", e.ETag, e.Size, srv.ETag, srv.Size)
	}
}
