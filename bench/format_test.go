package bench

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRatio(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		t, base time.Duration
		want    string
	}{
		{244 * ms, 100 * ms, "2.4× slower"},
		{50 * ms, 100 * ms, "2.0× faster"},
		{103 * ms, 100 * ms, "≈ same"},
		{97 * ms, 100 * ms, "≈ same"},
		{1260 * ms, 100 * ms, "13× slower"},
		{10 * ms, 1000 * ms, "100× faster"},
		{0, 100 * ms, "—"},
		{100 * ms, 0, "—"},
	} {
		if got := Ratio(c.t, c.base); got != c.want {
			t.Errorf("Ratio(%v, %v) = %q, want %q", c.t, c.base, got, c.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{FormatDuration(850 * time.Microsecond), "850 µs"},
		{FormatDuration(12345 * time.Microsecond), "12.3 ms"},
		{FormatDuration(4560 * time.Millisecond), "4.56 s"},
		{FormatDuration(125 * time.Second), "2m05s"},
		{FormatDuration(0), "—"},
		{FormatBytes(512), "512 B"},
		{FormatBytes(4096), "4.00 KiB"},
		{FormatBytes(200 << 20), "200 MiB"},
		{FormatBytes(1 << 30), "1.00 GiB"},
		{Rate(200<<20, 2*time.Second), "100 MiB/s"},
		{Rate(0, time.Second), "—"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestTableRatiosAndStatus(t *testing.T) {
	s := time.Second
	tb := &Table{Title: "6. write one 300 MiB file", TimeCols: []string{"to close", "on server"}, Bytes: 300 << 20, RateCol: 1,
		Rows: []Row{
			{Tool: "odfb", Times: []time.Duration{1 * s, 4 * s}, PeakRSS: 30 << 20, CPU: 2 * s},
			{Tool: "rclone", Times: []time.Duration{2 * s, 10 * s}, Tally: tallyOf("PUT", "PROPFIND", "PUT")},
			{Tool: "davfs2", Times: []time.Duration{5 * s}, Status: "failed: 413: single PUT over the server's limit"},
			{Tool: "rclone-full", Times: []time.Duration{s, 4 * s}, Status: "failed: WRONG DATA on the server"},
			{Tool: "curl", Times: []time.Duration{3 * s}},
		}}
	header, rows := tb.Cells()
	col := func(name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %q in %v", name, header)
		return -1
	}
	if len(header) != 1+2*2+1+6 {
		t.Fatalf("header = %v", header)
	}
	if got := rows[0][2]; got != "1× (baseline)" {
		t.Errorf("odfb ratio = %q", got)
	}
	if rows[1][1] != "2.00 s" || rows[1][2] != "2.0× slower" || rows[1][4] != "2.5× slower" {
		t.Errorf("rclone row = %v", rows[1])
	}
	if rows[1][col("MiB/s")] != "30.0" || rows[0][col("MiB/s")] != "75.0" {
		t.Errorf("MiB/s: odfb %q rclone %q, want 75.0 and 30.0", rows[0][col("MiB/s")], rows[1][col("MiB/s")])
	}
	if rows[1][col("requests")] != "PUT 2, PROPFIND 1" {
		t.Errorf("requests = %q", rows[1][col("requests")])
	}
	if rows[0][col("peak RSS")] != "30.0 MiB" || rows[1][col("peak RSS")] != "—" || rows[0][col("CPU")] != "2.00 s" {
		t.Errorf("rss/cpu: %v / %v", rows[0], rows[1])
	}
	// A failed upload keeps its time to close, the status goes where the
	// missing time would be, and no ratio is drawn from a failed row.
	if rows[2][1] != "5.00 s" || rows[2][2] != "" || rows[2][3] != "failed: 413: single PUT over the server's limit" || rows[2][col("MiB/s")] != "—" {
		t.Errorf("failed row = %v", rows[2])
	}
	if rows[3][1] != "failed: WRONG DATA on the server" || rows[3][2] != "" || rows[3][3] != "4.00 s" || rows[3][4] != "" {
		t.Errorf("wrong-data row = %v", rows[3])
	}
	if rows[4][3] != "—" { // a second time the tool did not measure
		t.Errorf("curl on-server cell = %q, want —", rows[4][3])
	}

	// Without a measured baseline no ratio is invented.
	tb.Rows[0].Status = "failed: mount: exited"
	_, rows = tb.Cells()
	if rows[0][1] != "failed: mount: exited" || rows[1][2] != "—" {
		t.Errorf("no baseline: %v / %v", rows[0], rows[1])
	}

	var out strings.Builder
	if err := tb.WriteMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[0] != "### 6. write one 300 MiB file" {
		t.Errorf("title line = %q", lines[0])
	}
	var width int
	for _, l := range lines[2:] {
		if width == 0 {
			width = displayWidth(l)
		}
		if displayWidth(l) != width || !strings.HasPrefix(l, "| ") || !strings.HasSuffix(l, " |") {
			t.Errorf("misaligned table line %q", l)
		}
	}
	if len(lines) != 2+2+5 {
		t.Errorf("%d lines:\n%s", len(lines), out.String())
	}
}

func tallyOf(methods ...string) Tally {
	var tl Tally
	for _, m := range methods {
		tl.Add(Request{Method: m, Status: 200})
	}
	return tl
}

func TestFailMarksOnlyEmptyRows(t *testing.T) {
	rows := []Row{{Tool: "odfb", Times: []time.Duration{time.Second}}, {Tool: "odfb"}}
	fail(rows, &os.PathError{Op: "mkdir", Path: "/mnt/x", Err: syscall.EROFS})
	if rows[0].Status != "" || rows[1].Status != "failed: mkdir /mnt/x: read-only file system" {
		t.Errorf("EROFS: %+v", rows)
	}
	rows = []Row{{Tool: "rclone"}}
	fail(rows, errors.Join(fmt.Errorf("mount: %w", errors.New("exited\nlog line")), errors.New("x")))
	if rows[0].Status != "failed: mount: exited" {
		t.Errorf("failure status = %q", rows[0].Status)
	}
}

func TestParseList(t *testing.T) {
	known := []string{"a", "b", "c"}
	for _, c := range []struct {
		in, want string
	}{
		{"", "a,b,c"}, {"all", "a,b,c"}, {"c,a", "a,c"}, {"all,-b", "a,c"}, {" b , ", "b"},
	} {
		got, err := ParseList(c.in, known)
		if err != nil || strings.Join(got, ",") != c.want {
			t.Errorf("ParseList(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := ParseList("a,zz", known); err == nil || !strings.Contains(err.Error(), "zz") {
		t.Errorf("unknown item: err = %v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "4KiB": 4096, "200MiB": 200 << 20, "1GiB": 1 << 30, "1g": 1 << 30, "10 M": 10 << 20, "0": 0} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5G", "12X"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): want an error", in)
		}
	}
}

func TestSummary(t *testing.T) {
	s := time.Second
	tables := []*Table{
		{ID: "ls-cold", TimeCols: []string{"time"}, Rows: []Row{
			{Tool: "odfb", Times: []time.Duration{s}},
			{Tool: "rclone", Times: []time.Duration{3 * s}},
			{Tool: "curl", Times: []time.Duration{s / 2}},
		}},
		{ID: "bigwrite", TimeCols: []string{"to close", "on server"}, Rows: []Row{
			{Tool: "odfb", Status: "failed: x"},
			{Tool: "rclone", Times: []time.Duration{s, 6 * s}},
			{Tool: "davfs2", Times: []time.Duration{s, 2 * s}},
		}},
	}
	var b strings.Builder
	if err := WriteSummary(&b, tables); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| workload | odfb      | rclone               | curl                 | davfs2 |",
		"| ls-cold  | 1.00 s    | 3.00 s (3.0× slower) | 500 ms (2.0× faster) |        |",
		"| bigwrite | failed: x | 6.00 s               |                      | 2.00 s |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
