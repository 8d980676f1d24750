package contract

import (
	"bytes"
	"testing"

	"github.com/odfb/odfb/remote"
)

// Stat, List and Get.
var readCases = []testCase{
	{"StatFileAndFolder", func(h *harness, t *testing.T, dir string) {
		data := randBytes(1, 1000)
		p := remote.Join(dir, "f.bin")
		putTag := h.put(t, p, data)
		e := h.wantFile(t, p, 1000)
		if e.ETag == "" {
			t.Fatalf("Stat %s: no ETag", p)
		}
		if putTag != "" && putTag != e.ETag {
			t.Fatalf("Put returned ETag %s, Stat says %s", putTag, e.ETag)
		}
		if e.ServerModTime.IsZero() || e.ModTime.IsZero() {
			t.Fatalf("Stat %s: no modification time: %+v", p, e)
		}
		if e.Name() != "f.bin" {
			t.Fatalf("Name() = %q", e.Name())
		}
		h.wantDir(t, dir)
	}},
	{"StatNotFound", func(h *harness, t *testing.T, dir string) {
		p := remote.Join(dir, "f.txt")
		h.put(t, p, []byte("x"))
		for _, q := range []string{dir + "/missing", dir + "/missing/child", "/no such folder/x"} {
			_, err := h.r.Stat(ctx, q)
			wantKind(t, "Stat "+q, err, remote.ErrNotFound)
		}
	}},
	{"StatBelowFile", func(h *harness, t *testing.T, dir string) {
		// Nothing is there; a server may say "not a folder".
		p := remote.Join(dir, "f.txt")
		h.put(t, p, []byte("x"))
		_, err := h.r.Stat(ctx, p+"/child")
		wantKind(t, "Stat below a file", err, remote.ErrNotFound, remote.ErrNotDir)
	}},
	{"List", func(h *harness, t *testing.T, dir string) {
		a := randBytes(2, 10)
		h.put(t, dir+"/a.txt", a)
		h.put(t, dir+"/b.txt", nil)
		mustOK(t, h.r.Mkdir(ctx, dir+"/sub"))
		h.put(t, dir+"/sub/deep.txt", []byte("deep"))
		self, kids, err := h.r.List(ctx, dir)
		mustOK(t, err)
		if !self.IsDir || self.Path != dir {
			t.Fatalf("self = %+v", self)
		}
		if len(kids) != 3 {
			t.Fatalf("%d children, want a.txt, b.txt and sub (only direct children): %+v", len(kids), kids)
		}
		for _, k := range kids {
			st, err := h.r.Stat(ctx, k.Path)
			mustOK(t, err)
			if st.IsDir != k.IsDir || st.Size != k.Size || st.ETag != k.ETag || !st.ModTime.Equal(k.ModTime) {
				t.Fatalf("List and Stat disagree on %s:\n list %+v\n stat %+v", k.Path, k, st)
			}
			switch k.Name() {
			case "a.txt":
				if k.IsDir || k.Size != 10 || k.ETag == "" {
					t.Fatalf("a.txt = %+v", k)
				}
			case "b.txt":
				if k.IsDir || k.Size != 0 {
					t.Fatalf("b.txt = %+v", k)
				}
			case "sub":
				if !k.IsDir || k.Size != 0 {
					t.Fatalf("sub = %+v", k)
				}
			default:
				t.Fatalf("unexpected child %+v", k)
			}
		}
		wantNames(t, dir+"/sub", h.names(t, dir+"/sub"), "deep.txt")
		_, rootKids, err := h.r.List(ctx, "/")
		mustOK(t, err)
		found := false
		for _, k := range rootKids {
			found = found || (k.Path == dir && k.IsDir)
		}
		if !found {
			t.Fatalf("List(/) lacks %s", dir)
		}
	}},
	{"ListEmptyFolder", func(h *harness, t *testing.T, dir string) {
		wantNames(t, dir, h.names(t, dir))
	}},
	{"ListErrors", func(h *harness, t *testing.T, dir string) {
		h.put(t, dir+"/f.txt", []byte("x"))
		_, _, err := h.r.List(ctx, dir+"/f.txt")
		wantKind(t, "List of a file", err, remote.ErrNotDir)
		_, _, err = h.r.List(ctx, dir+"/missing")
		wantKind(t, "List of a missing folder", err, remote.ErrNotFound)
	}},
	{"GetRanges", func(h *harness, t *testing.T, dir string) {
		data := randBytes(3, 300_000)
		p := dir + "/r.bin"
		h.put(t, p, data)
		e := h.wantFile(t, p, int64(len(data)))
		got, info := h.get(t, p, 0, -1)
		if !bytes.Equal(got, data) || info.Size != int64(len(data)) {
			t.Fatalf("whole file: %d bytes, Size %d", len(got), info.Size)
		}
		if info.ETag != "" && stripWeak(info.ETag) != stripWeak(e.ETag) {
			t.Fatalf("Get ETag %s, Stat ETag %s", info.ETag, e.ETag)
		}
		for _, r := range []struct{ off, n int64 }{
			{0, 1}, {1000, 5000}, {299_990, 10}, {299_990, 100}, {123_456, -1}, {299_999, -1},
		} {
			got, info := h.get(t, p, r.off, r.n)
			end := int64(len(data))
			if r.n >= 0 {
				end = min(end, r.off+r.n)
			}
			if !bytes.Equal(got, data[r.off:end]) {
				t.Fatalf("range %d+%d: %d bytes, want %d (%s)", r.off, r.n, len(got), end-r.off, diffAt(got, data[r.off:end]))
			}
			if info.Size != int64(len(data)) {
				t.Fatalf("range %d+%d: ObjectInfo.Size %d, want the whole file's %d", r.off, r.n, info.Size, len(data))
			}
		}
		// At or past the end, or no bytes asked: an empty read, no error.
		for _, r := range []struct{ off, n int64 }{{300_000, -1}, {300_000, 10}, {400_000, 10}, {10, 0}} {
			got, _ := h.get(t, p, r.off, r.n)
			if len(got) != 0 {
				t.Fatalf("range %d+%d: %d bytes, want none", r.off, r.n, len(got))
			}
		}
		// An empty file reads as empty.
		h.put(t, dir+"/empty", nil)
		if got, info := h.get(t, dir+"/empty", 0, -1); len(got) != 0 || info.Size > 0 {
			t.Fatalf("empty file: %d bytes, Size %d", len(got), info.Size)
		}
	}},
	{"GetErrors", func(h *harness, t *testing.T, dir string) {
		_, _, err := h.r.Get(ctx, dir+"/missing", 0, -1)
		wantKind(t, "Get of a missing file", err, remote.ErrNotFound)
		_, _, err = h.r.Get(ctx, dir+"/missing", 10, 10)
		wantKind(t, "ranged Get of a missing file", err, remote.ErrNotFound)
	}},
}

// stripWeak drops a weak ETag's W/ (Apache marks an ETag weak during the
// second after a change).
func stripWeak(etag string) string {
	if len(etag) > 2 && etag[:2] == "W/" {
		return etag[2:]
	}
	return etag
}
