package bench

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTreeShape(t *testing.T) {
	for _, c := range []struct {
		n, big, small, last int
	}{
		{120000, 20000, 1000, 100}, // the shape of issue 11
		{1000000, 166666, 8334, 34},
		{5000, 833, 42, 67},
		{100, 16, 1, 84},
	} {
		tr := NewTree(c.n, 1)
		if tr.Big != c.big || tr.Small != c.small || tr.FolderFiles(tr.Small-1) != c.last {
			t.Errorf("NewTree(%d): big %d, %d small folders, last holds %d; want %d, %d, %d",
				c.n, tr.Big, tr.Small, tr.FolderFiles(tr.Small-1), c.big, c.small, c.last)
		}
		sum := tr.FolderFiles(-1)
		for i := range tr.Small {
			k := tr.FolderFiles(i)
			if k < 1 || k > perFolder {
				t.Errorf("NewTree(%d): folder %d holds %d files", c.n, i, k)
			}
			sum += k
		}
		if sum != c.n {
			t.Errorf("NewTree(%d): folders hold %d files in all", c.n, sum)
		}
		if tr.Entries() != c.n+c.small+2 {
			t.Errorf("NewTree(%d).Entries() = %d", c.n, tr.Entries())
		}
	}
}

// readTree returns every file below dir as relative path → content.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestTreeWriteIsSeededAndMatchesHas(t *testing.T) {
	tr := NewTree(1234, 7)
	a, b, other := t.TempDir(), t.TempDir(), t.TempDir()
	for _, w := range []struct {
		tr  Tree
		dir string
	}{{tr, a}, {tr, b}, {NewTree(1234, 8), other}} {
		if err := w.tr.Write(w.dir); err != nil {
			t.Fatal(err)
		}
	}
	ta, tb, to := readTree(t, filepath.Join(a, scaleDir)), readTree(t, filepath.Join(b, scaleDir)), readTree(t, filepath.Join(other, scaleDir))
	if len(ta) != tr.Files {
		t.Fatalf("wrote %d files, want %d", len(ta), tr.Files)
	}
	sizes := map[int]bool{}
	for p, data := range ta {
		if !bytes.Equal(tb[p], data) {
			t.Fatalf("same seed, different trees at %q", p)
		}
		if !tr.Has(p) {
			t.Errorf("Has(%q) = false for a written file", p)
		}
		sizes[len(data)] = true
	}
	if len(sizes) < 50 {
		t.Errorf("only %d different file sizes", len(sizes))
	}
	same := 0
	for p, data := range to {
		if d, ok := ta[p]; ok && bytes.Equal(d, data) {
			same++
		}
	}
	if same > tr.Files/4 {
		t.Errorf("seed 8 gave %d of %d files with the same name and content as seed 7", same, tr.Files)
	}
	for _, p := range []string{
		"", "big", "d00000", "d00000/", "d99999/000000 data.txt", "e00000/" + tr.FileName(0, 0),
		tr.FolderName(0) + "/000100 report.txt", // index past the folder
		tr.FolderName(0) + "/" + strings.Replace(tr.FileName(0, 1), "000001", "000002", 1),
		"big/" + tr.FileName(0, 0), // a small folder's name in the big one
		tr.FolderName(0) + "/" + tr.FileName(0, 0) + "/x",
	} {
		if tr.Has(p) && ta[p] == nil {
			t.Errorf("Has(%q) = true for a path that is not in the tree", p)
		}
	}
}

// allPaths lists a tree's files the long way, for the tests.
func allPaths(tr Tree) []string {
	var ps []string
	for j := range tr.Big {
		ps = append(ps, tr.Path(-1, j))
	}
	for i := range tr.Small {
		for j := range tr.FolderFiles(i) {
			ps = append(ps, tr.Path(i, j))
		}
	}
	return ps
}

func TestCheckWalk(t *testing.T) {
	tr := NewTree(600, 3)
	all := allPaths(tr)
	ch := tr.Change()
	if !tr.Has(ch.Deleted) || tr.Has(ch.Added) || strings.Split(ch.Added, "/")[0] == strings.Split(ch.Deleted, "/")[0] {
		t.Fatalf("change %+v: want a deleted file of the tree and an added one elsewhere", ch)
	}
	changed := append([]string{ch.Added}, slices.DeleteFunc(slices.Clone(all), func(p string) bool { return p == ch.Deleted })...)

	for _, c := range []struct {
		name  string
		found []string
		c     *treeChange
		want  []string // substrings of the error; nil: no error
	}{
		{"exact", all, nil, nil},
		{"any order", append(slices.Clone(all[300:]), all[:300]...), nil, nil},
		{"one missing", all[1:], nil, []string{"599 files found, want 600"}},
		{"one twice", append(slices.Clone(all[1:]), all[2]), nil, []string{"1 listed twice"}},
		{"one unknown", append(slices.Clone(all[1:]), "d00000/stranger.txt"), nil, []string{`1 not on the server (e.g. "d00000/stranger.txt")`}},
		{"changes shown", changed, &ch, nil},
		{"stale: nothing changed", all, &ch, []string{"stale: deleted " + ch.Deleted + " still listed", "stale: added " + ch.Added + " missing"}},
		{"only the addition", append(slices.Clone(all), ch.Added), &ch, []string{"601 files found", "stale: deleted"}},
		{"only the deletion", changed[1:], &ch, []string{"599 files found", "stale: added"}},
		{"added file before the change", append(slices.Clone(all[1:]), ch.Added), nil, []string{"not on the server"}},
	} {
		err := tr.CheckWalk(c.found, c.c)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, errWrongData) {
			t.Errorf("%s: err = %v, want WRONG DATA", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
	}
}

func TestRelPaths(t *testing.T) {
	out := []byte("/mnt/x/bench-scale/big/000001 IMG.jpg\n/mnt/x/bench-scale/d00001/000000 Meeting notes.docx\n")
	got := relPaths(out, "/mnt/x/bench-scale")
	want := []string{"big/000001 IMG.jpg", "d00001/000000 Meeting notes.docx"}
	if !slices.Equal(got, want) {
		t.Errorf("relPaths = %q, want %q", got, want)
	}
}

const sampleMultistatus = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:">
<D:response><D:href>http://127.0.0.1:8080/personal/alice_contoso_com/Documents/bench-scale/</D:href>
<D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>http://127.0.0.1:8080/personal/alice_contoso_com/Documents/bench-scale/big/</D:href>
<D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>http://127.0.0.1:8080/personal/alice_contoso_com/Documents/bench-scale/000001%20Meeting%20notes.docx</D:href>
<D:propstat><D:prop><D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
<D:propstat><D:prop><Z:x/></D:prop><D:status>HTTP/1.1 404 NOT FOUND</D:status></D:propstat></D:response>
<response xmlns="DAV:"><href>/personal/alice_contoso_com/Documents/bench-scale/a%23b.txt</href>
<propstat><prop><resourcetype></resourcetype></prop></propstat></response>
</D:multistatus>`

func TestParseMultistatus(t *testing.T) {
	entries, err := parseMultistatus(strings.NewReader(sampleMultistatus))
	if err != nil {
		t.Fatal(err)
	}
	dirs, files := davChildren(entries, "/personal/alice_contoso_com/Documents/bench-scale/")
	if want := []string{"/personal/alice_contoso_com/Documents/bench-scale/big"}; !slices.Equal(dirs, want) {
		t.Errorf("dirs = %q, want %q", dirs, want)
	}
	if want := []string{"/personal/alice_contoso_com/Documents/bench-scale/000001 Meeting notes.docx",
		"/personal/alice_contoso_com/Documents/bench-scale/a#b.txt"}; !slices.Equal(files, want) {
		t.Errorf("files = %q, want %q", files, want)
	}
	if _, err := parseMultistatus(strings.NewReader(sampleMultistatus[:400])); err == nil {
		t.Error("a truncated answer parsed without an error")
	}
}

func TestScaleDirCacheTime(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		n       int
		latency time.Duration
		want    time.Duration
	}{
		{120000, 20 * ms, 100 * time.Second}, // 1,001 folders + scaleDir, 5 round trips each
		{5000, 20 * ms, 30 * time.Second},    // the floor
		{120000, 0, 30 * time.Second},
		{1000000, 20 * ms, 834 * time.Second},
	} {
		if got := ScaleDirCacheTime(NewTree(c.n, 1), c.latency); got != c.want {
			t.Errorf("ScaleDirCacheTime(%d files, %s) = %s, want %s", c.n, c.latency, got, c.want)
		}
	}
}

func TestFormatCountAndTextColumns(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 120000: "120,000", 1000000: "1,000,000", -1234: "-1,234"} {
		if got := FormatCount(n); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", n, got, want)
		}
	}
	tb := &Table{Title: "meta", TextCols: []string{"metadata on disk", "per entry"}, Plain: true, Rows: []Row{
		{Tool: "odfb", Text: []string{"29.0 MiB", "251 B"}, Note: "meta.db"},
		{Tool: "rclone", Note: "in memory"},
	}}
	header, rows := tb.Cells()
	if want := []string{"tool", "metadata on disk", "per entry", "note"}; !slices.Equal(header, want) {
		t.Errorf("header = %q, want %q", header, want)
	}
	if want := []string{"rclone", "—", "—", "in memory"}; !slices.Equal(rows[1], want) {
		t.Errorf("row = %q, want %q", rows[1], want)
	}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, []*Table{tb}); err != nil || strings.Contains(buf.String(), "meta") {
		t.Errorf("summary lists a table without times: %q (%v)", buf.String(), err)
	}
}

func TestMetaRow(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "meta.db"), make([]byte, 300000), 0o600); err != nil {
		t.Fatal(err)
	}
	r := metaRow("odfb", dir, 1000, 120000)
	if want := []string{"117 KiB", "120 B", "293 KiB", "300 B"}; !slices.Equal(r.Text, want) {
		t.Errorf("odfb: %q, want %q", r.Text, want)
	}
	r = metaRow("davfs2", dir, 1000, -1)
	if want := []string{"—", "—", "none", "—"}; !slices.Equal(r.Text, want) || !strings.Contains(r.Note, "no index") {
		t.Errorf("davfs2 without an index: %q, %q", r.Text, r.Note)
	}
	r = metaRow("rclone", dir, 1000, -1)
	if r.Text[2] != "none" || !strings.Contains(r.Note, "memory") {
		t.Errorf("rclone: %q, %q", r.Text, r.Note)
	}
}
