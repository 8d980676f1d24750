package contract

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
)

// awkwardNames are names every server in scope accepts and a client must
// carry unchanged: spaces, non-ASCII, the characters URLs reserve, a
// literal "%20", brackets and quotes.
var awkwardNames = []string{
	"a b  c.txt",
	"ünïcødé ñ 日本語 ’q’.txt",
	"#hash#.txt",
	"100% sure %20 %2F.txt",
	"[brackets] (parens) {braces}.txt",
	"it's & a+b;c=d,e!@$.txt",
}

// Names: every operation with every awkward name.
var nameCases = []testCase{
	{"Files", func(h *harness, t *testing.T, dir string) {
		var want []string
		for i, n := range awkwardNames {
			p := remote.Join(dir, n)
			data := randBytes(uint64(10+i), 1000+i)
			h.put(t, p, data)
			h.wantContent(t, p, data)
			e := h.wantFile(t, p, int64(len(data)))
			if e.Name() != n {
				t.Fatalf("Name() = %q, want %q", e.Name(), n)
			}
			if got, _ := h.get(t, p, 10, 20); !bytes.Equal(got, data[10:30]) {
				t.Fatalf("%q: ranged Get differs", n)
			}
			mt := time.Date(2003, 4, 5, 6, 7, 8, 0, time.UTC)
			mustOK(t, h.r.SetModTime(ctx, p, mt))
			if e := h.wantFile(t, p, int64(len(data))); !e.ModTime.Equal(mt) {
				t.Fatalf("%q: ModTime %v, want %v", n, e.ModTime, mt)
			}
			want = append(want, n)
		}
		wantNames(t, dir, h.names(t, dir), want...)
	}},
	{"Folders", func(h *harness, t *testing.T, dir string) {
		for i, n := range awkwardNames {
			d := remote.Join(dir, strings.TrimSuffix(n, ".txt"))
			mustOK(t, h.r.Mkdir(ctx, d))
			h.wantDir(t, d)
			inner := remote.Join(d, n)
			data := randBytes(uint64(20+i), 100)
			h.put(t, inner, data)
			wantNames(t, d, h.names(t, d), n)
			h.wantContent(t, inner, data)
		}
	}},
	{"MoveCopyDelete", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/to"))
		for i, n := range awkwardNames {
			src := remote.Join(dir, n)
			data := randBytes(uint64(30+i), 500)
			h.put(t, src, data)
			cp := remote.Join(dir, "copy "+n)
			mustOK(t, h.r.Copy(ctx, src, cp, false))
			h.wantContent(t, cp, data)
			dst := remote.Join(dir+"/to", "moved "+n)
			mustOK(t, h.r.Move(ctx, src, dst, false))
			h.wantGone(t, src)
			h.wantContent(t, dst, data)
			mustOK(t, h.r.Delete(ctx, cp))
			h.wantGone(t, cp)
		}
		wantNames(t, dir, h.names(t, dir), "to")
		if got := h.names(t, dir+"/to"); len(got) != len(awkwardNames) {
			t.Fatalf("moved: %q", got)
		}
	}},
}

// Case: SharePoint's names are case-insensitive and case-preserving;
// a plain WebDAV server on a POSIX disk keeps cases apart. Both ways are
// checked, according to Options.CaseInsensitive.
var caseCases = []testCase{
	{"Lookup", func(h *harness, t *testing.T, dir string) {
		p := dir + "/Mixed Case.TXT"
		other := dir + "/mIXED cASE.txt"
		h.put(t, p, []byte("first"))
		if !h.o.CaseInsensitive {
			_, err := h.r.Stat(ctx, other)
			wantKind(t, "Stat in another case on a case-sensitive server", err, remote.ErrNotFound)
			h.put(t, other, []byte("second"))
			h.wantContent(t, p, []byte("first"))
			h.wantContent(t, other, []byte("second"))
			wantNames(t, dir, h.names(t, dir), "Mixed Case.TXT", "mIXED cASE.txt")
			return
		}
		e, err := h.r.Stat(ctx, other)
		mustOK(t, err)
		if e.Path != p {
			t.Fatalf("Stat %s: Path %q, want the stored spelling %q", other, e.Path, p)
		}
		if got, _ := h.get(t, other, 0, -1); string(got) != "first" {
			t.Fatalf("Get in another case: %q", got)
		}
		// A Put in another case replaces the one file, whose name keeps
		// its first spelling.
		h.put(t, other, []byte("second"))
		wantNames(t, dir, h.names(t, dir), "Mixed Case.TXT")
		h.wantContent(t, p, []byte("second"))
	}},
	{"Folders", func(h *harness, t *testing.T, dir string) {
		mustOK(t, h.r.Mkdir(ctx, dir+"/Folder"))
		if !h.o.CaseInsensitive {
			mustOK(t, h.r.Mkdir(ctx, dir+"/FOLDER"))
			wantNames(t, dir, h.names(t, dir), "FOLDER", "Folder")
			return
		}
		wantKind(t, "Mkdir in another case", h.r.Mkdir(ctx, dir+"/FOLDER"), remote.ErrExists)
		h.put(t, dir+"/folder/in.txt", []byte("in"))
		wantNames(t, dir+"/Folder", h.names(t, dir+"/Folder"), "in.txt")
		self, _, err := h.r.List(ctx, dir+"/FOLDER")
		mustOK(t, err)
		if self.Path != dir+"/Folder" {
			t.Fatalf("List in another case: self %q, want the stored spelling", self.Path)
		}
		mustOK(t, h.r.Move(ctx, dir+"/FOLDER/IN.TXT", dir+"/folder/out.txt", false))
		h.wantContent(t, dir+"/Folder/out.txt", []byte("in"))
		mustOK(t, h.r.Delete(ctx, dir+"/fOLDER"))
		h.wantGone(t, dir+"/Folder")
	}},
	{"RenameCaseOnly", renameCaseOnly},
}

// renameCaseOnly moves "report.txt" to "Report.TXT": on a
// case-insensitive server the same item takes the new spelling;
// elsewhere it is an ordinary rename.
func renameCaseOnly(h *harness, t *testing.T, dir string) {
	h.put(t, dir+"/report.txt", []byte("r"))
	mustOK(t, h.r.Move(ctx, dir+"/report.txt", dir+"/Report.TXT", false))
	wantNames(t, dir, h.names(t, dir), "Report.TXT")
	h.wantFile(t, dir+"/Report.TXT", 1)
	h.wantContent(t, dir+"/Report.TXT", []byte("r"))
	mustOK(t, h.r.Mkdir(ctx, dir+"/sub"))
	h.put(t, dir+"/sub/in.txt", []byte("in"))
	mustOK(t, h.r.Move(ctx, dir+"/sub", dir+"/SUB", false))
	wantNames(t, dir, h.names(t, dir), "Report.TXT", "SUB")
	h.wantContent(t, dir+"/SUB/in.txt", []byte("in"))
}
