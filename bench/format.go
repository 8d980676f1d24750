package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Baseline is the tool every ratio is computed against.
const Baseline = "odfb"

// Table is the result of one workload: one row per tool.
type Table struct {
	ID    string // short workload id, e.g. "ls-cold"
	Title string // human title with sizes
	Note  string // what is measured, printed under the title

	// TimeCols names the measured times, e.g. {"time"} or
	// {"to close", "on server"}. Every Row.Times is aligned with it.
	TimeCols []string
	// Bytes is the payload one run moves (file size); when > 0 a MiB/s
	// column is derived from the time in column RateCol.
	Bytes   int64
	RateCol int

	// TextCols are columns of text after the times (Row.Text fills
	// them), for results that are not times, like a file's size.
	TextCols []string
	// Plain leaves out the columns of the mount process (requests,
	// bytes, peak RSS, CPU) for a table that did not measure them.
	Plain bool

	Rows []Row
}

// Row is one tool's result for one workload.
type Row struct {
	Tool   string
	Times  []time.Duration // aligned with Table.TimeCols; 0 = not measured
	Status string          // empty when measured, else "failed: …", "skipped: …"
	Tally  Tally           // requests seen by the server during the phase
	// PeakRSS is the mount process's high-water resident set in bytes
	// (0 = unknown); CPU its user+system time over the whole mount.
	PeakRSS int64
	CPU     time.Duration
	Note    string
	Text    []string // aligned with Table.TextCols
	// stepUsage: PeakRSS and CPU were measured for this step (the scale
	// workload), not for the whole mount; onMount leaves them alone.
	stepUsage bool
}

// Ratio says how t compares to base, the baseline's time: "2.4× slower",
// "1.3× faster", "≈ same" within 5 %, "—" when either is unknown.
func Ratio(t, base time.Duration) string {
	if t <= 0 || base <= 0 {
		return "—"
	}
	r := float64(t) / float64(base)
	switch {
	case r >= 1.05:
		return fmtFactor(r) + " slower"
	case r <= 1/1.05:
		return fmtFactor(1/r) + " faster"
	default:
		return "≈ same"
	}
}

func fmtFactor(f float64) string {
	if f >= 10 {
		return fmt.Sprintf("%.0f×", math.Round(f))
	}
	return fmt.Sprintf("%.1f×", f)
}

// FormatDuration prints a duration with three significant digits in the
// unit a reader expects: "850 µs", "12.3 ms", "4.56 s", "2m05s".
func FormatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + " ms"
	case d < 100*time.Second:
		return sig3(d.Seconds()) + " s"
	default:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// FormatBytes prints a byte count in IEC units: "512 B", "4.0 KiB",
// "200 MiB", "1.00 GiB".
func FormatBytes(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return sig3(float64(n)/k) + " KiB"
	case n < k*k*k:
		return sig3(float64(n)/(k*k)) + " MiB"
	default:
		return sig3(float64(n)/(k*k*k)) + " GiB"
	}
}

// FormatCount prints a count with thousands separators: "120,000".
func FormatCount(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + FormatCount(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Rate prints bytes per duration in MiB/s.
func Rate(n int64, d time.Duration) string {
	if n <= 0 || d <= 0 {
		return "—"
	}
	return sig3(float64(n)/(1<<20)/d.Seconds()) + " MiB/s"
}

func (t *Table) baseline() *Row {
	for i := range t.Rows {
		if t.Rows[i].Tool == Baseline && t.Rows[i].Status == "" {
			return &t.Rows[i]
		}
	}
	return nil
}

// Cells returns the header and the rows of the table as text cells.
func (t *Table) Cells() (header []string, rows [][]string) {
	header = []string{"tool"}
	for _, c := range t.TimeCols {
		header = append(header, c, "vs "+Baseline)
	}
	if t.Bytes > 0 {
		header = append(header, "MiB/s")
	}
	header = append(header, t.TextCols...)
	if !t.Plain {
		header = append(header, "requests", "down", "up", "peak RSS", "CPU")
	}
	header = append(header, "note")
	base := t.baseline()
	for _, r := range t.Rows {
		cells := []string{r.Tool}
		// A failed row shows what it did measure (say, the time to
		// close) and its status in the first column it has no time for;
		// a row with every time but a status (wrong data) shows the
		// status instead of the first time.
		statusAt := -1
		if r.Status != "" {
			statusAt = 0
			for i := range t.TimeCols {
				if i >= len(r.Times) || r.Times[i] <= 0 {
					statusAt = i
					break
				}
			}
		}
		for i := range t.TimeCols {
			switch {
			case i == statusAt:
				cells = append(cells, shorten(r.Status, 48), "")
			case r.Status != "" && (i >= len(r.Times) || r.Times[i] <= 0):
				cells = append(cells, "", "")
			case i >= len(r.Times) || r.Times[i] <= 0:
				cells = append(cells, "—", "")
			case r.Status != "":
				cells = append(cells, FormatDuration(r.Times[i]), "")
			default:
				ratio := "—"
				if r.Tool == Baseline {
					ratio = "1× (baseline)"
				} else if base != nil && i < len(base.Times) {
					ratio = Ratio(r.Times[i], base.Times[i])
				}
				cells = append(cells, FormatDuration(r.Times[i]), ratio)
			}
		}
		if t.Bytes > 0 {
			rate := "—"
			if r.Status == "" && t.RateCol < len(r.Times) {
				rate = strings.TrimSuffix(Rate(t.Bytes, r.Times[t.RateCol]), " MiB/s")
			}
			cells = append(cells, rate)
		}
		for i := range t.TextCols {
			c := "—"
			if i < len(r.Text) && r.Text[i] != "" {
				c = r.Text[i]
			} else if i == 0 && r.Status != "" && len(t.TimeCols) == 0 {
				c = shorten(r.Status, 48)
			}
			cells = append(cells, c)
		}
		if !t.Plain {
			rss, cpu := "—", "—"
			if r.PeakRSS > 0 {
				rss = FormatBytes(r.PeakRSS)
			}
			if r.CPU > 0 {
				cpu = FormatDuration(r.CPU)
			}
			cells = append(cells, r.Tally.String(), FormatBytes(r.Tally.RespBytes),
				FormatBytes(r.Tally.ReqBytes), rss, cpu)
		}
		cells = append(cells, r.Note)
		rows = append(rows, cells)
	}
	return header, rows
}

// WriteMarkdown writes the table as a Markdown section with aligned
// columns, readable both on a terminal and rendered.
func (t *Table) WriteMarkdown(w io.Writer) error {
	header, rows := t.Cells()
	return writeGrid(w, t.Title, t.Note, header, rows)
}

func writeGrid(w io.Writer, title, note string, header []string, rows [][]string) error {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = displayWidth(h)
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], displayWidth(c))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", title)
	if note != "" {
		fmt.Fprintf(&b, "%s\n\n", note)
	}
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-displayWidth(c)) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// displayWidth counts runes, which is right for the text we print
// (×, µ, ≈, — are one column wide).
func displayWidth(s string) int { return len([]rune(s)) }

// WriteSummary writes one line per workload table and one column per
// tool: the tool's main time (the last time column, e.g. "on server")
// and its ratio to odfb, or its status.
func WriteSummary(w io.Writer, tables []*Table) error {
	var tools []string
	seen := map[string]bool{}
	for _, t := range tables {
		for _, r := range t.Rows {
			if !seen[r.Tool] {
				seen[r.Tool] = true
				tools = append(tools, r.Tool)
			}
		}
	}
	if len(tables) == 0 {
		return nil
	}
	summary := &Table{Title: "Summary"}
	header := append([]string{"workload"}, tools...)
	var rows [][]string
	for _, t := range tables {
		if len(t.TimeCols) == 0 {
			continue // no time to summarise (the scale workload's sizes)
		}
		col := len(t.TimeCols) - 1
		base := t.baseline()
		cells := []string{t.ID}
		for _, tool := range tools {
			cell := ""
			for _, r := range t.Rows {
				if r.Tool != tool {
					continue
				}
				switch {
				case r.Status != "":
					cell = shorten(r.Status, 30)
				case col < 0 || col >= len(r.Times) || r.Times[col] <= 0:
					cell = "—"
				case tool == Baseline:
					cell = FormatDuration(r.Times[col])
				case base != nil && col < len(base.Times):
					cell = FormatDuration(r.Times[col]) + " (" + Ratio(r.Times[col], base.Times[col]) + ")"
				default:
					cell = FormatDuration(r.Times[col])
				}
			}
			cells = append(cells, cell)
		}
		rows = append(rows, cells)
	}
	summary.Note = "Main time of each workload (for writes: until the data is on the server), ratio to odfb in parentheses."
	return writeGrid(w, summary.Title, summary.Note, header, rows)
}
