package davclient

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
)

func TestChangeLogSpemu(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{})
	c := newTestClient(t, tg)
	ctx := context.Background()
	tok, err := c.ChangeToken(ctx)
	mustOK(t, err)
	mustOK(t, c.Mkdir(ctx, "/d"))
	_, err = c.Put(ctx, "/d/a b#.txt", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
	mustOK(t, err)
	mustOK(t, c.Move(ctx, "/d/a b#.txt", "/moved.txt", false))
	mustOK(t, c.Delete(ctx, "/moved.txt"))
	etag, _ := srv.ETag("/d")
	got, next, more, err := c.Changes(ctx, tok)
	mustOK(t, err)
	want := []remote.Change{
		{Type: remote.ChangeAdd, Path: "/d", IsDir: true}, {Type: remote.ChangeAdd, Path: "/d/a b#.txt"},
		{Type: remote.ChangeMoveInto, Path: "/moved.txt"}, {Type: remote.ChangeDelete},
	}
	if more || len(got) != len(want) {
		t.Fatalf("changes %+v (more %v), want %+v", got, more, want)
	}
	for i, w := range want {
		if got[i].Type != w.Type || got[i].Path != w.Path || got[i].IsDir != w.IsDir {
			t.Errorf("change %d: %+v, want %+v", i, got[i], w)
		}
	}
	if !strings.Contains(strings.ToLower(etag), got[0].ID) || got[0].ID == "" {
		t.Errorf("folder id %q is not its ETag's GUID %s", got[0].ID, etag)
	}
	if got[1].ID != got[3].ID {
		t.Errorf("the deleted file's id %q is not the added one's %q", got[3].ID, got[1].ID)
	}
	again, next2, _, err := c.Changes(ctx, next)
	mustOK(t, err)
	if len(again) != 0 || next2 != next {
		t.Fatalf("from the last token: %+v, next %q (want %q)", again, next2, next)
	}

	// Paging: a server that answers fewer than FetchLimit ends the
	// collection; one that answers exactly FetchLimit is asked again.
	srv.SetChangePageLimit(1)
	n := c.RESTCalls()
	got, _, _, err = c.Changes(ctx, tok)
	mustOK(t, err)
	if len(got) != 1 || c.RESTCalls()-n != 1 {
		t.Fatalf("a short page ends the call: %d changes in %d calls", len(got), c.RESTCalls()-n)
	}
	srv.SetChangePageLimit(0)

	// Expired token: ErrChangeToken at once, not retried like a 500.
	srv.ExpireChangeLog()
	before := len(srv.Requests())
	_, _, _, err = c.Changes(ctx, next)
	wantKind(t, err, remote.ErrChangeToken)
	if n := len(srv.Requests()) - before; n != 1 {
		t.Errorf("an expired token cost %d requests, want 1 (no retry)", n)
	}

	srv.SetChangeLogMode(spemu.ChangeLogAbsent)
	_, err = c.ChangeToken(ctx)
	wantKind(t, err, remote.ErrNotSupported)
	_, _, _, err = c.Changes(ctx, next)
	wantKind(t, err, remote.ErrNotSupported)
	srv.SetChangeLogMode(spemu.ChangeLogGarbled)
	_, err = c.ChangeToken(ctx)
	wantKind(t, err, remote.ErrNotSupported)
	_, _, _, err = c.Changes(ctx, next)
	wantKind(t, err, remote.ErrNotSupported)
}

func TestChangeLogPagesAtFetchLimit(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{})
	c := newTestClient(t, tg)
	ctx := context.Background()
	tok, err := c.ChangeToken(ctx)
	mustOK(t, err)
	for i := range ChangeFetchLimit + 1 {
		mustOK(t, srv.WriteFile(fmt.Sprintf("/f%04d", i), nil))
	}
	got, _, more, err := c.Changes(ctx, tok)
	mustOK(t, err)
	if len(got) != ChangeFetchLimit+1 || more {
		t.Fatalf("%d changes (more %v), want %d", len(got), more, ChangeFetchLimit+1)
	}
	calls := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/GetChanges") {
			calls++
		}
	}
	if calls != 2 {
		t.Errorf("%d GetChanges calls for two pages", calls)
	}
}

// A plain WebDAV server (no REST at all) has no change log.
func TestChangeLogAbsentOnPlainWebDAV(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	defer ts.Close()
	c, err := New(Options{URL: ts.URL + "/dav/lib", Logger: testLogger(t)})
	mustOK(t, err)
	_, err = c.ChangeToken(context.Background())
	wantKind(t, err, remote.ErrNotSupported)
}

func TestParseChangesRefusesWhatItDoesNotKnow(t *testing.T) {
	c, err := New(Options{URL: "https://h/sites/team/Shared%20Documents"})
	mustOK(t, err)
	for _, body := range []string{
		`{"d":{"unexpected":[1]}}`,
		`{"value":[{"ChangeType":1}]}`, // no token
		`{"value":[{"ChangeToken":{"StringValue":"1;3;x;1;2"},"ChangeType":1,"ServerRelativeUrl":"sites/other/x"}]}`,
		`not json`,
	} {
		if _, _, err := c.parseChanges([]byte(body)); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
	got, last, err := c.parseChanges([]byte(`{"value":[{"odata.type":"SP.ChangeItem","ChangeToken":{"StringValue":"1;3;x;1;2"},"ChangeType":4,"ServerRelativeUrl":"/sites/team/Shared Documents/a/b.txt","UniqueId":"AB-CD","FileSystemObjectType":0},
		{"odata.type":"SP.ChangeList","ChangeToken":{"StringValue":"1;3;x;1;3"},"ChangeType":2}]}`))
	mustOK(t, err)
	if len(got) != 1 || got[0].Path != "/a/b.txt" || got[0].ID != "ab-cd" || got[0].Type != remote.ChangeRename || last != "1;3;x;1;3" {
		t.Fatalf("got %+v last %q", got, last)
	}
}
