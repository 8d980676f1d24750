package remotetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
)

func TestFake(t *testing.T) {
	ctx := context.Background()
	f := New()
	mt := time.Unix(1700000000, 0)
	etag := f.AddFile("/A/b.txt", []byte("hello world"), mt)
	self, kids, err := f.List(ctx, "/a")
	if err != nil || !self.IsDir || len(kids) != 1 || kids[0].Path != "/A/b.txt" || kids[0].ETag != etag {
		t.Fatalf("List: %+v %+v %v", self, kids, err)
	}
	body, info, err := f.Get(ctx, "/a/B.TXT", 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(body)
	if string(data) != "wor" || info.Size != 11 || info.ETag != etag {
		t.Fatalf("Get: %q %+v", data, info)
	}
	if g := f.Gets(); len(g) != 1 || g[0].Sent != 3 {
		t.Fatalf("Gets: %+v", g)
	}
	if _, err := f.Put(ctx, "/A/b.txt", bytes.NewReader([]byte("x")), 1, remote.PutOptions{IfMatch: `"other"`}); !errors.Is(err, remote.ErrPrecondition) {
		t.Fatalf("Put If-Match: %v", err)
	}
	f.Fail("Stat", remote.ErrUnavailable)
	if _, err := f.Stat(ctx, "/A"); !errors.Is(err, remote.ErrUnavailable) {
		t.Fatalf("injected failure: %v", err)
	}
	var re *remote.Error
	if _, err := f.Stat(ctx, "/A"); !errors.As(err, &re) || re.Op != "Stat" {
		t.Fatalf("injected failure is not a *remote.Error: %v", err)
	}
	f.Fail("Stat", nil)
	if _, err := f.Stat(ctx, "/nope"); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Stat missing: %v", err)
	}
	if err := f.Move(ctx, "/A", "/C", false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(ctx, "/c/b.txt"); err != nil {
		t.Fatalf("moved child: %v", err)
	}
	if f.Calls("Stat") != 4 || f.Calls("List") != 1 || f.Calls("Get") != 1 {
		t.Fatalf("calls: Stat %d List %d Get %d", f.Calls("Stat"), f.Calls("List"), f.Calls("Get"))
	}
	f.ResetCalls()
	if f.TotalCalls() != 0 {
		t.Fatal("ResetCalls")
	}
}
