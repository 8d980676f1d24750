package cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/odfb/odfb/remote/remotetest"
)

// TestMissingNameNotAnsweredFromEarlierRun: a listing an earlier run
// stored is served at once, but "not there" is not answered from it
// until this run has fetched it: that run may have died after a file
// reached the server and before the batched listing naming it was
// written (internal/matrix's kill case). The fetch is the background
// revalidation's, so one listing request decides; a name the server
// does not have either is then answered "not found" without another.
func TestMissingNameNotAnsweredFromEarlierRun(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/old.txt", []byte("old"), time.Unix(1720000000, 0))
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1720000000, 0)}
	ctx := context.Background()
	c := openCache(t, dir, f, clk, 0)
	if _, err := c.ReadDir(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Reaches the server after the listing was stored.
	f.AddFile("/new.txt", []byte("new"), time.Unix(1720000100, 0))

	c = openCache(t, dir, f, clk, 0)
	defer c.Close()
	f.ResetCalls()
	if e, err := c.Lookup(ctx, "/", "new.txt"); err != nil || e.Size != 3 {
		t.Fatalf("lookup of a file the stored listing lacks: %+v, %v", e, err)
	}
	if _, err := c.Lookup(ctx, "/", "absent.txt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup of an absent name: %v, want not found", err)
	}
	if n := f.Calls("List"); n != 1 {
		t.Errorf("%d listings asked for, want 1 (the revalidation's)", n)
	}
}
