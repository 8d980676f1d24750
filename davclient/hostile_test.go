package davclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
)

// Bad input from the server (issue 13, item 5): each hostile switch of
// spemu gives a clear error or is ignored with a warning; no entry that
// does not exist is ever returned, no size is made up, nothing panics.

func hostileSetup(t *testing.T) (*spemu.Server, *Client) {
	t.Helper()
	srv, tg := startSpemu(t, spemu.Config{})
	c := newTestClient(t, tg)
	ctx := context.Background()
	mustOK(t, c.Mkdir(ctx, "/d"))
	_, err := c.Put(ctx, "/d/a.txt", bytes.NewReader([]byte("hello world")), 11, remote.PutOptions{})
	mustOK(t, err)
	_, err = c.Put(ctx, "/d/b.txt", bytes.NewReader([]byte("0123456789")), 10, remote.PutOptions{})
	mustOK(t, err)
	return srv, c
}

func names(es []remote.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Path)
	}
	return out
}

func TestHostileListings(t *testing.T) {
	ctx := context.Background()
	srv, c := hostileSetup(t)
	for _, tc := range []struct {
		name string
		h    spemu.Hostile
		// refused: the listing must fail with ErrServer; otherwise it
		// must list exactly a.txt and b.txt with their true sizes.
		refused bool
	}{
		{"escaping hrefs", spemu.Hostile{EscapingHrefs: true}, false},
		{"duplicate entries", spemu.Hostile{DuplicateEntries: true}, false},
		{"wrong types", spemu.Hostile{WrongTypes: true}, true},
		{"negative sizes", spemu.Hostile{NegativeSizes: true}, true},
		{"truncated bodies", spemu.Hostile{TruncatedBodies: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.SetHostile(tc.h)
			defer srv.SetHostile(spemu.Hostile{})
			self, kids, err := c.List(ctx, "/d")
			if tc.refused {
				if err == nil {
					t.Fatalf("listing accepted: %v", names(kids))
				}
				if !errors.Is(err, remote.ErrServer) && !errors.Is(err, remote.ErrUnavailable) {
					t.Fatalf("error %v is neither a server error nor unavailable", err)
				}
				t.Logf("refused: %v", err)
				if _, err := c.Stat(ctx, "/d/a.txt"); err == nil {
					t.Errorf("Stat accepted the same answer")
				}
				return
			}
			mustOK(t, err)
			if !self.IsDir || self.Path != "/d" {
				t.Errorf("self %+v", self)
			}
			got := strings.Join(names(kids), ",")
			if got != "/d/a.txt,/d/b.txt" {
				t.Fatalf("children %q, want /d/a.txt,/d/b.txt", got)
			}
			if kids[0].Size != 11 || kids[1].Size != 10 {
				t.Errorf("sizes %d, %d (the first of each duplicate is the true one)", kids[0].Size, kids[1].Size)
			}
			_, root, err := c.List(ctx, "/")
			mustOK(t, err)
			if got := strings.Join(names(root), ","); got != "/d" {
				t.Errorf("root lists %q, want /d", got)
			}
			e, err := c.Stat(ctx, "/d/a.txt")
			if err != nil || e.Size != 11 {
				t.Errorf("Stat: %+v %v", e, err)
			}
		})
	}
}

// Dates far off (year 9999, year 1601) are dates: kept as they are.
func TestHostileFarDates(t *testing.T) {
	srv, c := hostileSetup(t)
	srv.SetHostile(spemu.Hostile{FarDates: true})
	_, kids, err := c.List(context.Background(), "/d")
	mustOK(t, err)
	if len(kids) != 2 || kids[0].ModTime.Year() != 1601 || kids[1].ModTime.Year() != 9999 || kids[0].Size != 11 {
		t.Errorf("entries %+v", kids)
	}
}

// A document over the size bound is refused, not read whole.
func TestHostileHugeMultistatus(t *testing.T) {
	srv, c := hostileSetup(t)
	old := maxPropfindBody
	maxPropfindBody = 1 << 20
	defer func() { maxPropfindBody = old }()
	srv.SetHostile(spemu.Hostile{HugeMultistatus: 4 << 20})
	_, _, err := c.List(context.Background(), "/d")
	if !errors.Is(err, remote.ErrServer) || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("List: %v", err)
	}
	// Under the bound the padding is harmless.
	srv.SetHostile(spemu.Hostile{HugeMultistatus: 512 << 10})
	_, kids, err := c.List(context.Background(), "/d")
	if err != nil || len(kids) != 2 {
		t.Fatalf("List under the bound: %v %v", names(kids), err)
	}
}

func TestHostileGets(t *testing.T) {
	ctx := context.Background()
	srv, c := hostileSetup(t)
	read := func(off, n int64) ([]byte, error) {
		rc, _, err := c.Get(ctx, "/d/a.txt", off, n)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}

	srv.SetHostile(spemu.Hostile{TruncatedBodies: true})
	if b, err := read(0, -1); err == nil {
		t.Errorf("truncated body read without error: %q", b)
	}
	if b, err := read(2, 6); err == nil {
		t.Errorf("truncated ranged body read without error: %q", b)
	}

	srv.SetHostile(spemu.Hostile{WrongContentRange: true})
	if b, err := read(2, 6); !errors.Is(err, remote.ErrServer) {
		t.Errorf("Content-Range one byte off: %q, %v", b, err)
	}

	srv.SetHostile(spemu.Hostile{ShortContentRange: true})
	if b, err := read(2, 6); !errors.Is(err, remote.ErrServer) {
		t.Errorf("Content-Range for half the range asked: %q, %v", b, err)
	}
	// A range past the end of the file is answered short, rightly.
	srv.SetHostile(spemu.Hostile{})
	if b, err := read(8, 10); err != nil || string(b) != "rld" {
		t.Errorf("range past the end: %q, %v", b, err)
	}
	srv.SetHostile(spemu.Hostile{LongBodies: true})
	for i := 0; i < 3; i++ {
		b, err := read(0, -1)
		if err != nil || string(b) != "hello world" {
			t.Fatalf("long body %d: %q, %v", i, b, err)
		}
	}
	srv.SetHostile(spemu.Hostile{})
	// The connections the hostile answers left are not reused for garbage.
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Stat(ctx2, "/d/b.txt"); err != nil {
		t.Errorf("Stat after hostile answers: %v", err)
	}
}
