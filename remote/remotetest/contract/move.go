package contract

import (
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
)

// Move: renames in a folder and across folders, onto existing names,
// folders with their content.
var moveCases = []testCase{
	{"RenameInFolder", func(h *harness, t *testing.T, dir string) {
		data := randBytes(5, 3000)
		h.put(t, dir+"/a.bin", data)
		mustOK(t, h.r.Move(ctx, dir+"/a.bin", dir+"/b.bin", false))
		h.wantGone(t, dir+"/a.bin")
		h.wantContent(t, dir+"/b.bin", data)
		h.wantFile(t, dir+"/b.bin", 3000)
		wantNames(t, dir, h.names(t, dir), "b.bin")
	}},
	{"AcrossFolders", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/x"))
		mustOK(t, h.r.Mkdir(ctx, dir+"/y"))
		h.put(t, dir+"/x/f.txt", []byte("moving"))
		mustOK(t, h.r.Move(ctx, dir+"/x/f.txt", dir+"/y/g.txt", false))
		h.wantGone(t, dir+"/x/f.txt")
		h.wantContent(t, dir+"/y/g.txt", []byte("moving"))
		wantNames(t, dir+"/x", h.names(t, dir+"/x"))
		wantNames(t, dir+"/y", h.names(t, dir+"/y"), "g.txt")
	}},
	{"OntoExistingFile", func(h *harness, t *testing.T, dir string) {
		h.put(t, dir+"/src", []byte("source"))
		h.put(t, dir+"/dst", []byte("destination"))
		err := h.r.Move(ctx, dir+"/src", dir+"/dst", false)
		wantKind(t, "Move onto a file without overwrite", err, remote.ErrPrecondition, remote.ErrExists)
		h.wantContent(t, dir+"/src", []byte("source"))
		h.wantContent(t, dir+"/dst", []byte("destination"))
		mustOK(t, h.r.Move(ctx, dir+"/src", dir+"/dst", true))
		h.wantGone(t, dir+"/src")
		h.wantContent(t, dir+"/dst", []byte("source"))
		wantNames(t, dir, h.names(t, dir), "dst")
	}},
	{"FolderWithContent", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/d"))
		mustOK(t, h.r.Mkdir(ctx, dir+"/d/e"))
		mustOK(t, h.r.Mkdir(ctx, dir+"/other"))
		h.put(t, dir+"/d/e/f.txt", []byte("f"))
		h.put(t, dir+"/d/g.txt", []byte("g"))
		h.put(t, dir+"/d-sibling.txt", []byte("stays"))
		mustOK(t, h.r.Move(ctx, dir+"/d", dir+"/other/d2", false))
		h.wantGone(t, dir+"/d")
		h.wantGone(t, dir+"/d/g.txt")
		h.wantDir(t, dir+"/other/d2")
		h.wantDir(t, dir+"/other/d2/e")
		h.wantContent(t, dir+"/other/d2/e/f.txt", []byte("f"))
		h.wantContent(t, dir+"/other/d2/g.txt", []byte("g"))
		wantNames(t, dir+"/other/d2", h.names(t, dir+"/other/d2"), "e", "g.txt")
		wantNames(t, dir, h.names(t, dir), "d-sibling.txt", "other")
		h.wantContent(t, dir+"/d-sibling.txt", []byte("stays"))
	}},
	{"OntoExistingFolder", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/a"))
		h.put(t, dir+"/a/new.txt", []byte("new"))
		mustOK(t, h.r.Mkdir(ctx, dir+"/b"))
		h.put(t, dir+"/b/old.txt", []byte("old"))
		err := h.r.Move(ctx, dir+"/a", dir+"/b", false)
		wantKind(t, "Move onto a folder without overwrite", err, remote.ErrPrecondition, remote.ErrExists)
		h.wantContent(t, dir+"/a/new.txt", []byte("new"))
		h.wantContent(t, dir+"/b/old.txt", []byte("old"))
		// With overwrite the destination is replaced, not merged.
		mustOK(t, h.r.Move(ctx, dir+"/a", dir+"/b", true))
		h.wantGone(t, dir+"/a")
		h.wantContent(t, dir+"/b/new.txt", []byte("new"))
		h.wantGone(t, dir+"/b/old.txt")
		wantNames(t, dir+"/b", h.names(t, dir+"/b"), "new.txt")
	}},
	{"NotFound", func(h *harness, t *testing.T, dir string) {
		wantKind(t, "Move of nothing", h.r.Move(ctx, dir+"/missing", dir+"/x", false), remote.ErrNotFound)
		wantKind(t, "Move of nothing, overwriting", h.r.Move(ctx, dir+"/missing", dir+"/x", true), remote.ErrNotFound)
		h.wantGone(t, dir+"/x")
	}},
	{"MissingParent", func(h *harness, t *testing.T, dir string) {
		h.put(t, dir+"/f", []byte("f"))
		err := h.r.Move(ctx, dir+"/f", dir+"/no such folder/f", false)
		wantKind(t, "Move into a missing folder", err, remote.ErrConflict)
		h.wantContent(t, dir+"/f", []byte("f"))
	}},
	{"IntoItself", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/d"))
		mustOK(t, h.r.Mkdir(ctx, dir+"/d/sub"))
		h.put(t, dir+"/d/sub/f.txt", []byte("f"))
		err := h.r.Move(ctx, dir+"/d", dir+"/d/sub/d", false)
		wantKind(t, "Move of a folder into itself", err, remote.ErrForbidden, remote.ErrConflict)
		h.wantContent(t, dir+"/d/sub/f.txt", []byte("f"))
		wantNames(t, dir+"/d/sub", h.names(t, dir+"/d/sub"), "f.txt")
	}},
}

// Copy: like Move, and the source stays.
var copyCases = []testCase{
	{"File", func(h *harness, t *testing.T, dir string) {
		data := randBytes(6, 7000)
		h.put(t, dir+"/a.bin", data)
		mustOK(t, h.r.Copy(ctx, dir+"/a.bin", dir+"/b.bin", false))
		h.wantContent(t, dir+"/a.bin", data)
		h.wantContent(t, dir+"/b.bin", data)
		// The copy is a file of its own.
		h.put(t, dir+"/b.bin", []byte("changed"))
		h.wantContent(t, dir+"/a.bin", data)
		wantNames(t, dir, h.names(t, dir), "a.bin", "b.bin")
	}},
	{"FolderWithContent", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/d"))
		mustOK(t, h.r.Mkdir(ctx, dir+"/d/e"))
		h.put(t, dir+"/d/e/f.txt", []byte("f"))
		mustOK(t, h.r.Copy(ctx, dir+"/d", dir+"/c", false))
		h.wantContent(t, dir+"/d/e/f.txt", []byte("f"))
		h.wantContent(t, dir+"/c/e/f.txt", []byte("f"))
		wantNames(t, dir, h.names(t, dir), "c", "d")
	}},
	{"OntoExisting", func(h *harness, t *testing.T, dir string) {
		h.put(t, dir+"/src", []byte("source"))
		h.put(t, dir+"/dst", []byte("destination"))
		err := h.r.Copy(ctx, dir+"/src", dir+"/dst", false)
		wantKind(t, "Copy onto a file without overwrite", err, remote.ErrPrecondition, remote.ErrExists)
		h.wantContent(t, dir+"/dst", []byte("destination"))
		mustOK(t, h.r.Copy(ctx, dir+"/src", dir+"/dst", true))
		h.wantContent(t, dir+"/dst", []byte("source"))
		h.wantContent(t, dir+"/src", []byte("source"))
	}},
	{"Errors", func(h *harness, t *testing.T, dir string) {
		wantKind(t, "Copy of nothing", h.r.Copy(ctx, dir+"/missing", dir+"/x", false), remote.ErrNotFound)
		h.wantGone(t, dir+"/x")
		h.put(t, dir+"/f", []byte("f"))
		wantKind(t, "Copy into a missing folder", h.r.Copy(ctx, dir+"/f", dir+"/nope/f", false), remote.ErrConflict)
	}},
}

// SetModTime.
var modTimeCases = []testCase{
	{"SetAndRead", func(h *harness, t *testing.T, dir string) {
		p := dir + "/f.txt"
		h.put(t, p, []byte("x"))
		before := h.wantFile(t, p, 1)
		want := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		mustOK(t, h.r.SetModTime(ctx, p, want))
		e := h.wantFile(t, p, 1)
		if !e.ModTime.Equal(want) {
			t.Fatalf("Stat ModTime %v, want %v", e.ModTime, want)
		}
		if e.ServerModTime.Equal(want) && !before.ServerModTime.Equal(want) {
			t.Fatalf("ServerModTime took the application's time %v", want)
		}
		_, kids, err := h.r.List(ctx, dir)
		mustOK(t, err)
		if len(kids) != 1 || !kids[0].ModTime.Equal(want) {
			t.Fatalf("List: %+v, want ModTime %v", kids, want)
		}
		// Idempotent, and a second time replaces the first.
		mustOK(t, h.r.SetModTime(ctx, p, want))
		later := time.Date(2020, 12, 31, 23, 59, 59, 0, time.UTC)
		mustOK(t, h.r.SetModTime(ctx, p, later))
		if e := h.wantFile(t, p, 1); !e.ModTime.Equal(later) {
			t.Fatalf("ModTime %v after the second SetModTime, want %v", e.ModTime, later)
		}
		h.wantContent(t, p, []byte("x"))
	}},
	{"SurvivesMove", func(h *harness, t *testing.T, dir string) {
		want := time.Date(2011, 6, 7, 8, 9, 10, 0, time.UTC)
		h.put(t, dir+"/a", []byte("a"))
		mustOK(t, h.r.SetModTime(ctx, dir+"/a", want))
		mustOK(t, h.r.Move(ctx, dir+"/a", dir+"/b", false))
		if e := h.wantFile(t, dir+"/b", 1); !e.ModTime.Equal(want) {
			t.Fatalf("ModTime %v after Move, want %v", e.ModTime, want)
		}
	}},
	{"NotFound", func(h *harness, t *testing.T, dir string) {
		err := h.r.SetModTime(ctx, dir+"/missing", time.Unix(1e9, 0))
		wantKind(t, "SetModTime of nothing", err, remote.ErrNotFound)
		h.wantGone(t, dir+"/missing")
	}},
}
