package davclient

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
)

// slowRefreshAuth sends cookie "v=old" until its Refresh, which blocks
// until release is closed, has run; then "v=new".
type slowRefreshAuth struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once

	mu      sync.Mutex
	renewed bool
}

func (a *slowRefreshAuth) Authorize(_ context.Context, r *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.renewed {
		r.Header.Set("Cookie", "v=new")
	} else {
		r.Header.Set("Cookie", "v=old")
	}
	return nil
}

func (a *slowRefreshAuth) Refresh(context.Context) error {
	a.once.Do(func() { close(a.entered) })
	<-a.release
	a.mu.Lock()
	a.renewed = true
	a.mu.Unlock()
	return nil
}

func (a *slowRefreshAuth) String() string { return "slow-refresh" }

// A request waiting for a refresh that another request started must still
// return as soon as its own context ends (doc.go: "A cancelled context
// makes a call return at once"); the refresh goes on and serves the
// requests that still wait for it. Before the fix, the waiter sat in
// singleflight.Do until the refresh finished (up to its 3-minute bound),
// so an unmount or a cancelled FUSE request hung behind a slow login.
func TestCancelledRequestDoesNotWaitForSharedRefresh(t *testing.T) {
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "v=new" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}
	a := &slowRefreshAuth{entered: make(chan struct{}), release: make(chan struct{})}
	c := scriptedClient(t, &scripted{steps: []http.HandlerFunc{h}}, func(o *Options) { o.Auth = a })
	released := false
	defer func() {
		if !released {
			close(a.release)
		}
	}()

	// B starts the refresh and keeps waiting for it.
	bDone := make(chan error, 1)
	go func() { bDone <- c.Mkdir(context.Background(), "/b") }()
	<-a.entered

	// A is refused too, joins the running refresh, then is cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	aDone := make(chan error, 1)
	go func() { aDone <- c.Mkdir(ctx, "/a") }()
	// Give A the time to reach the refresh (not a timing assertion: A
	// returns ErrUnavailable whether it is cancelled before or after).
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-aDone:
		wantKind(t, err, remote.ErrUnavailable)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled request: %v, want it to wrap context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a cancelled request is still waiting for another request's refresh")
	}

	close(a.release)
	released = true
	if err := <-bDone; err != nil {
		t.Fatalf("the request that waited for the refresh: %v", err)
	}
	if n := c.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
}
