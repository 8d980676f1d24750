package contract

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/odfb/odfb/remote"
)

// Put.
var putCases = []testCase{
	{"NewAndOverwrite", func(h *harness, t *testing.T, dir string) {
		p := dir + "/f.bin"
		big := randBytes(4, 200_000)
		tag1 := h.put(t, p, big)
		h.checkPutETag(t, p, tag1)
		h.wantContent(t, p, big)
		e1 := h.wantFile(t, p, int64(len(big)))
		// A shorter file replaces the longer one whole (no stale tail).
		small := []byte("short")
		tag2 := h.put(t, p, small)
		h.checkPutETag(t, p, tag2)
		h.wantContent(t, p, small)
		e2 := h.wantFile(t, p, int64(len(small)))
		if stripWeak(e2.ETag) == stripWeak(e1.ETag) {
			t.Fatalf("ETag %s did not change with the content", e2.ETag)
		}
		wantNames(t, dir, h.names(t, dir), "f.bin")
	}},
	{"Empty", func(h *harness, t *testing.T, dir string) {
		p := dir + "/empty.txt"
		h.put(t, p, nil)
		h.wantContent(t, p, nil)
		h.wantFile(t, p, 0)
		h.put(t, p, []byte("now not empty"))
		h.put(t, p, []byte{})
		h.wantContent(t, p, nil)
	}},
	{"IfNoneMatch", func(h *harness, t *testing.T, dir string) {
		p := dir + "/f.txt"
		_, err := h.r.Put(ctx, p, bytes.NewReader([]byte("first")), 5, remote.PutOptions{IfNoneMatch: true})
		mustOK(t, err)
		_, err = h.r.Put(ctx, p, bytes.NewReader([]byte("second")), 6, remote.PutOptions{IfNoneMatch: true})
		wantKind(t, "Put If-None-Match onto a file", err, remote.ErrPrecondition, remote.ErrExists)
		h.wantContent(t, p, []byte("first"))
	}},
	{"IfMatch", func(h *harness, t *testing.T, dir string) {
		p := dir + "/f.txt"
		h.put(t, p, []byte("version 1"))
		e := h.wantFile(t, p, 9)
		_, err := h.r.Put(ctx, p, bytes.NewReader([]byte("other")), 5, remote.PutOptions{IfMatch: `"{00000000-0000-0000-0000-000000000000},99"`})
		wantKind(t, "Put If-Match with a wrong ETag", err, remote.ErrPrecondition)
		h.wantContent(t, p, []byte("version 1"))
		tag, err := h.r.Put(ctx, p, bytes.NewReader([]byte("version 2!")), 10, remote.PutOptions{IfMatch: e.ETag})
		mustOK(t, err)
		h.checkPutETag(t, p, tag)
		h.wantContent(t, p, []byte("version 2!"))
		// The old ETag no longer matches.
		_, err = h.r.Put(ctx, p, bytes.NewReader([]byte("v3")), 2, remote.PutOptions{IfMatch: e.ETag})
		wantKind(t, "Put If-Match with the replaced ETag", err, remote.ErrPrecondition)
		h.wantContent(t, p, []byte("version 2!"))
		// No file: nothing can match.
		_, err = h.r.Put(ctx, dir+"/missing.txt", bytes.NewReader([]byte("x")), 1, remote.PutOptions{IfMatch: e.ETag})
		wantKind(t, "Put If-Match onto no file", err, remote.ErrPrecondition)
		h.wantGone(t, dir+"/missing.txt")
	}},
	{"MissingParent", func(h *harness, t *testing.T, dir string) {
		_, err := h.r.Put(ctx, dir+"/no such folder/f.txt", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
		wantKind(t, "Put into a missing folder", err, remote.ErrConflict)
		h.wantGone(t, dir+"/no such folder")
	}},
	{"BelowFile", func(h *harness, t *testing.T, dir string) {
		h.put(t, dir+"/file", []byte("x"))
		_, err := h.r.Put(ctx, dir+"/file/f.txt", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
		wantKind(t, "Put below a file", err, remote.ErrConflict, remote.ErrNotDir)
		h.wantContent(t, dir+"/file", []byte("x"))
	}},
	{"OntoFolder", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/sub"))
		h.put(t, dir+"/sub/kept.txt", []byte("kept"))
		_, err := h.r.Put(ctx, dir+"/sub", bytes.NewReader([]byte("x")), 1, remote.PutOptions{})
		wantKind(t, "Put onto a folder", err, remote.ErrExists)
		h.wantDir(t, dir+"/sub")
		h.wantContent(t, dir+"/sub/kept.txt", []byte("kept"))
	}},
}

// checkPutETag holds Put's answer to Options.PutETag: the ETag Stat then
// reports, or "" from a server that sends none.
func (h *harness) checkPutETag(t *testing.T, p, tag string) {
	t.Helper()
	if !h.o.PutETag {
		if tag != "" {
			t.Fatalf("Put %s returned ETag %q from a server said to send none", p, tag)
		}
		return
	}
	e, err := h.r.Stat(ctx, p)
	mustOK(t, err)
	if tag == "" || stripWeak(tag) != stripWeak(e.ETag) {
		t.Fatalf("Put %s returned ETag %q, Stat says %q", p, tag, e.ETag)
	}
}

// Mkdir.
var mkdirCases = []testCase{
	{"Create", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/a"))
		mustOK(t, h.r.Mkdir(ctx, dir+"/a/b"))
		h.wantDir(t, dir+"/a")
		h.wantDir(t, dir+"/a/b")
		wantNames(t, dir, h.names(t, dir), "a")
		wantNames(t, dir+"/a/b", h.names(t, dir+"/a/b"))
	}},
	{"Exists", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/a"))
		h.put(t, dir+"/a/keep.txt", []byte("keep"))
		wantKind(t, "Mkdir onto a folder", h.r.Mkdir(ctx, dir+"/a"), remote.ErrExists)
		h.wantContent(t, dir+"/a/keep.txt", []byte("keep"))
		h.put(t, dir+"/f", []byte("file"))
		wantKind(t, "Mkdir onto a file", h.r.Mkdir(ctx, dir+"/f"), remote.ErrExists)
		h.wantContent(t, dir+"/f", []byte("file"))
	}},
	{"MissingParent", func(h *harness, t *testing.T, dir string) {
		wantKind(t, "Mkdir in a missing folder", h.r.Mkdir(ctx, dir+"/x/y"), remote.ErrConflict)
		h.wantGone(t, dir+"/x")
	}},
	{"BelowFile", func(h *harness, t *testing.T, dir string) {
		h.put(t, dir+"/f", []byte("file"))
		wantKind(t, "Mkdir below a file", h.r.Mkdir(ctx, dir+"/f/y"), remote.ErrConflict, remote.ErrNotDir)
		h.wantFile(t, dir+"/f", 4)
	}},
}

// Delete.
var deleteCases = []testCase{
	{"File", func(h *harness, t *testing.T, dir string) {
		h.put(t, dir+"/a", []byte("a"))
		h.put(t, dir+"/b", []byte("b"))
		mustOK(t, h.r.Delete(ctx, dir+"/a"))
		h.wantGone(t, dir+"/a")
		wantNames(t, dir, h.names(t, dir), "b")
		wantKind(t, "Delete again", h.r.Delete(ctx, dir+"/a"), remote.ErrNotFound)
	}},
	{"FolderWithContent", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/d"))
		mustOK(t, h.r.Mkdir(ctx, dir+"/d/e"))
		h.put(t, dir+"/d/e/f.txt", []byte("f"))
		h.put(t, dir+"/d/g.txt", []byte("g"))
		h.put(t, dir+"/d2.txt", []byte("sibling with the same prefix"))
		mustOK(t, h.r.Delete(ctx, dir+"/d"))
		h.wantGone(t, dir+"/d")
		h.wantGone(t, dir+"/d/e/f.txt")
		h.wantGone(t, dir+"/d/g.txt")
		_, _, err := h.r.List(ctx, dir+"/d")
		wantKind(t, "List of a deleted folder", err, remote.ErrNotFound)
		wantNames(t, dir, h.names(t, dir), "d2.txt")
		h.wantContent(t, dir+"/d2.txt", []byte("sibling with the same prefix"))
	}},
	{"NotFound", func(h *harness, t *testing.T, dir string) {
		wantKind(t, "Delete of nothing", h.r.Delete(ctx, dir+"/missing"), remote.ErrNotFound)
		wantKind(t, "Delete in a missing folder", h.r.Delete(ctx, dir+"/missing/x"), remote.ErrNotFound)
	}},
}

// Quota and concurrency.
var miscCases = []testCase{
	{"Quota", func(h *harness, t *testing.T, dir string) {
		q, err := h.r.Quota(ctx)
		mustOK(t, err)
		if !q.Known && (q.Used != 0 || q.Available != 0) {
			t.Fatalf("unknown quota with figures: %+v", q)
		}
		if q.Known && (q.Used < 0 || q.Available < 0) {
			t.Fatalf("quota %+v", q)
		}
	}},
	{"Concurrent", func(h *harness, t *testing.T, dir string) {
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data := randBytes(uint64(100+i), 5000+i)
				p := fmt.Sprintf("%s/c%d.bin", dir, i)
				if _, err := h.r.Put(ctx, p, bytes.NewReader(data), int64(len(data)), remote.PutOptions{}); err != nil {
					errs[i] = err
					return
				}
				if _, _, err := h.r.List(ctx, dir); err != nil {
					errs[i] = err
					return
				}
				_, errs[i] = h.r.Stat(ctx, p)
			}()
		}
		wg.Wait()
		var want []string
		for i, err := range errs {
			mustOK(t, err)
			want = append(want, fmt.Sprintf("c%d.bin", i))
			h.wantContent(t, fmt.Sprintf("%s/c%d.bin", dir, i), randBytes(uint64(100+i), 5000+i))
		}
		wantNames(t, dir, h.names(t, dir), want...)
	}},
}
