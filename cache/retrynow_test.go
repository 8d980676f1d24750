package cache

import (
	"context"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestUploadsRetryWhenServerAnswers: an upload refused for the credentials
// waits out a long backoff — unless the server answers again meanwhile (a
// new `odfb login`, a renewed cookie file): the next successful listing
// sends it at once, without `odfb sync`.
func TestUploadsRetryWhenServerAnswers(t *testing.T) {
	for _, kind := range []error{remote.ErrAuth, remote.ErrUnavailable} {
		t.Run(kind.Error(), func(t *testing.T) {
			f := remotetest.New()
			c := writeCache(t, t.TempDir(), f, WriteOptions{WriteBack: time.Millisecond, RetryBase: time.Hour, RetryMax: time.Hour, DrainTimeout: 100 * time.Millisecond})
			ctx := context.Background()
			f.Fail("Put", &remote.Error{Kind: kind, Op: "PUT", Path: "/a.txt"})
			writeFile(t, c, "/a.txt", []byte("queued"))
			waitFor(t, func() bool {
				st := c.Status()
				return len(st.Queue) == 1 && st.Queue[0].Attempts >= 1 && !st.Queue[0].Uploading
			}, "the first attempt to fail")
			puts := f.Calls("Put")

			f.Fail("Put", nil)
			c.Invalidate("/")
			if _, err := c.ReadDir(ctx, "/"); err != nil { // the server answers
				t.Fatal(err)
			}
			waitFor(t, func() bool { return len(c.Status().Queue) == 0 }, "the upload to go through (backoff 1h)")
			if n := f.Calls("Put") - puts; n != 1 {
				t.Errorf("%d PUTs after the server answered, want 1", n)
			}
			if _, err := f.Stat(ctx, "/a.txt"); err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
}

// waitFor polls cond (the uploader works in the background); it fails
// after a generous bound, which only a hang reaches.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
