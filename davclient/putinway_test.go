package davclient

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/odfb/odfb/remote"
)

// A PUT answered 409 is "parent missing" unless a folder holds the name
// (Apache answers 409 for both); one PROPFIND tells them apart.
func TestPut409FolderInTheWay(t *testing.T) {
	ctx := context.Background()
	s := &scripted{steps: []http.HandlerFunc{status(409), propfindAnswer("/lib/f", true)}}
	_, err := scriptedClient(t, s, nil).Put(ctx, "/f", bytes.NewReader(nil), 0, remote.PutOptions{})
	wantKind(t, err, remote.ErrExists)
	if n := s.count(); n != 2 {
		t.Fatalf("%d requests, want the PUT and one PROPFIND", n)
	}
	s = &scripted{steps: []http.HandlerFunc{status(409), propfindAnswer("/lib/f", false)}}
	_, err = scriptedClient(t, s, nil).Put(ctx, "/f", bytes.NewReader(nil), 0, remote.PutOptions{})
	wantKind(t, err, remote.ErrConflict)
}

// A bare 400 (no X-MSDAVEXT_Error) for a path whose parent is a file is
// ErrNotDir: Apache's answer below a file. Elsewhere it stays ErrServer.
func TestBare400BelowFile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		parentDir bool
		kind      error
	}{{"parent is a file", false, remote.ErrNotDir}, {"parent is a folder", true, remote.ErrServer}} {
		steps := []http.HandlerFunc{status(400), propfindAnswer("/lib/d", tc.parentDir)}
		s := &scripted{steps: steps}
		c := scriptedClient(t, s, nil)
		_, err := c.Stat(ctx, "/d/x")
		wantKind(t, err, tc.kind)
		s = &scripted{steps: steps}
		c = scriptedClient(t, s, nil)
		_, err = c.Put(ctx, "/d/x", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
		wantKind(t, err, tc.kind)
		s = &scripted{steps: steps}
		c = scriptedClient(t, s, nil)
		wantKind(t, c.Mkdir(ctx, "/d/x"), tc.kind)
		if n := s.count(); n != 2 {
			t.Fatalf("%s: %d requests for MKCOL, want it and one PROPFIND", tc.name, n)
		}
	}
	// A name SharePoint refuses is not looked into.
	s := &scripted{steps: []http.HandlerFunc{status(400, "X-MSDAVEXT_Error", "589838; The+name+is+invalid.")}}
	wantKind(t, scriptedClient(t, s, nil).Mkdir(ctx, "/d/x"), remote.ErrInvalidName)
	if n := s.count(); n != 1 {
		t.Fatalf("%d requests after an invalid name, want 1", n)
	}
}
