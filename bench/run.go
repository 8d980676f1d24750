package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// runEnv is the state of one benchmark run.
type runEnv struct {
	cfg     Config
	srv     *Server
	fx      *fixtures
	tools   []mountTool // selected and available mount tools, report order
	curl    bool        // curl selected and available
	phase   string      // "<workload>-<tool>", names logs and configs
	out     io.Writer   // progress lines
	skipped []string    // "tool: why"
	// dirCacheTime, when > 0, is given to every mount as its directory
	// cache time (odfb and rclone --dir-cache-time, davfs2 dir_refresh);
	// the scale workload sets it, the others run with each tool's default.
	dirCacheTime time.Duration
}

// Run runs the selected workloads with the selected tools and writes each
// table to out as it completes; the whole report also goes to
// cfg.ResultDir/<timestamp>.md. It returns an error only when the run
// could not start (no spemu); a tool that fails a workload gets a
// "failed: …" row instead.
func Run(ctx context.Context, cfg Config, serverArgs []string, out io.Writer) error {
	if err := os.MkdirAll(filepath.Join(cfg.WorkDir, "logs"), 0o700); err != nil {
		return err
	}
	pidFile.Lock()
	pidFile.path = filepath.Join(cfg.WorkDir, "pids")
	pidFile.Unlock()

	e := &runEnv{cfg: cfg, out: out}
	known := map[string]mountTool{
		"odfb":        odfbTool{bin: filepath.Join(cfg.BinDir, "odfb")},
		"rclone":      rcloneTool{name: "rclone", cacheMode: "writes"},
		"rclone-full": rcloneTool{name: "rclone-full", cacheMode: "full"},
		"davfs2":      davfsTool{},
	}
	for _, name := range cfg.Tools {
		if name == "curl" {
			if _, ok := lookTool("curl"); ok {
				e.curl = true
			} else {
				e.skipped = append(e.skipped, "curl: not installed (apt-get install curl)")
			}
			continue
		}
		t := known[name]
		if ok, why := t.Available(); !ok {
			e.skipped = append(e.skipped, name+": "+why)
			continue
		}
		e.tools = append(e.tools, t)
	}
	for _, s := range e.skipped {
		fmt.Fprintf(out, "skipping %s\n", s)
	}

	started := time.Now().UTC()
	srv, err := StartServer(ctx, cfg, serverArgs)
	if err != nil {
		return err
	}
	defer srv.Close()
	e.srv = srv
	fmt.Fprintf(out, "spemu at %s (latency %s, auth %s); making fixtures…\n", srv.URL, cfg.Latency, cfg.Auth)
	need := map[string]bool{}
	for _, w := range cfg.Workloads {
		need[w] = true
	}
	fxStart := time.Now()
	if e.fx, err = makeFixtures(srv, cfg.Sizes, cfg.Seed, need); err != nil {
		return fmt.Errorf("fixtures: %w", err)
	}
	if need["scale"] {
		fmt.Fprintf(out, "fixtures written in %s; listing the scale tree once so spemu knows every item…\n", time.Since(fxStart).Round(time.Millisecond))
		pStart := time.Now()
		if err := primeServer(ctx, srv, e.fx.tree); err != nil {
			return fmt.Errorf("listing the scale tree: %w", err)
		}
		fmt.Fprintf(out, "listed in %s\n", time.Since(pStart).Round(time.Millisecond))
	}

	header := e.header(started)
	fmt.Fprint(out, header)
	var body bytes.Buffer
	var all []*Table
	for _, w := range cfg.Workloads {
		if ctx.Err() != nil {
			break
		}
		var tables []*Table
		switch w {
		case "ls":
			tables = e.workloadList(ctx)
		case "stat":
			tables = e.workloadStat(ctx)
		case "seqread":
			tables = e.workloadSeqRead(ctx)
		case "randread":
			tables = e.workloadRandRead(ctx)
		case "smallwrite":
			tables = e.workloadSmallWrite(ctx)
		case "bigwrite":
			tables = e.workloadBigWrite(ctx)
		case "scale":
			tables = e.workloadScale(ctx)
		}
		for _, t := range tables {
			t.WriteMarkdown(out)
			t.WriteMarkdown(&body)
		}
		all = append(all, tables...)
	}
	var summary bytes.Buffer
	WriteSummary(&summary, all)
	out.Write(summary.Bytes())
	// The report file puts the summary first.
	var report bytes.Buffer
	report.WriteString(header)
	report.Write(summary.Bytes())
	report.Write(body.Bytes())
	footer := fmt.Sprintf("Finished %s after %s; load average at the end: %s.\n",
		time.Now().UTC().Format(time.RFC3339), time.Since(started).Round(time.Second), loadAvg())
	if ctx.Err() != nil {
		footer = "**Interrupted**: the tables above are incomplete.\n\n" + footer
	}
	fmt.Fprint(out, footer)
	report.WriteString(footer)
	if cfg.ResultDir != "" {
		if err := os.MkdirAll(cfg.ResultDir, 0o755); err != nil {
			return err
		}
		name := filepath.Join(cfg.ResultDir, started.Format("20060102T150405Z")+".md")
		if err := os.WriteFile(name, report.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "report written to %s\n", name)
	}
	return ctx.Err()
}

func (e *runEnv) header(started time.Time) string {
	var b strings.Builder
	sz := e.cfg.Sizes
	fmt.Fprintf(&b, "# odfb benchmark, %s\n\n", started.Format(time.RFC3339))
	fmt.Fprintf(&b, "- machine: %d CPUs, load average %s, %s\n", runtime.NumCPU(), loadAvg(), kernel())
	fmt.Fprintf(&b, "- server: spemu on loopback, --latency %s per request", e.cfg.Latency)
	if e.cfg.Bandwidth > 0 {
		fmt.Fprintf(&b, ", --bandwidth %s/s", FormatBytes(e.cfg.Bandwidth))
	}
	fmt.Fprintf(&b, ", --auth %s", e.cfg.Auth)
	switch {
	case e.cfg.PutLimit < 0:
		b.WriteString(", no PUT limit (SharePoint refuses single requests over 250 MB: the single-PUT tools' big write would fail there; -put-limit default shows it)\n")
	case e.cfg.PutLimit == 0:
		b.WriteString(", spemu's default PUT limit (250 MiB, SharePoint's)\n")
	default:
		fmt.Fprintf(&b, ", --put-limit %s\n", FormatBytes(e.cfg.PutLimit))
	}
	mode := "full"
	if e.cfg.Quick {
		mode = "quick (BENCH_QUICK=1)"
	}
	fmt.Fprintf(&b, "- sizes (%s): %d files listed; %s sequential; %d × 4 KiB random reads in %s; %d × %s files in %d new folders; one %s write\n",
		mode, sz.ListFiles, FormatBytes(sz.SeqBytes), sz.RandReads, FormatBytes(sz.SparseBytes),
		sz.SmallFiles, FormatBytes(int64(sz.SmallFileBytes)), sz.SmallDirs, FormatBytes(sz.BigWriteBytes))
	if slices.Contains(e.cfg.Workloads, "scale") {
		tr := e.fx.tree
		fmt.Fprintf(&b, "- scale library (%s): %s files in %s folders of up to %d and one of %s, seed %d; directory cache time %s for every tool\n",
			mode, FormatCount(tr.Files), FormatCount(tr.Small), tr.PerFolder, FormatCount(tr.Big), tr.Seed, e.scaleDirCacheTime())
	}
	b.WriteString("- versions: " + strings.Join(e.versions(), "; ") + "\n")
	for _, s := range e.skipped {
		fmt.Fprintf(&b, "- skipped %s\n", s)
	}
	b.WriteString("- each tool × workload runs on a fresh mount with an empty cache; requests are counted from spemu's request log; " +
		"peak RSS is the mount process's high-water mark (VmHWM/rusage) over that mount; ratios are against odfb " +
		"(time ÷ odfb's time). One run on a shared machine: read ratios, not absolute numbers.\n\n")
	return b.String()
}

func (e *runEnv) versions() []string {
	var v []string
	// run adds "<label> <first words of the first output line>".
	run := func(label string, words int, argv ...string) {
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			return
		}
		f := strings.Fields(firstLine(string(out)))
		v = append(v, strings.TrimSpace(label+" "+strings.Join(f[:min(words, len(f))], " ")))
	}
	for _, t := range e.tools {
		switch t.Name() {
		case "odfb":
			run("", 5, filepath.Join(e.cfg.BinDir, "odfb"), "version") // "odfb VERSION (goX, os/arch)"
		case "rclone":
			run("", 2, "rclone", "version")
		case "davfs2":
			run("davfs2", 1, "dpkg-query", "-W", "-f", "${Version}", "davfs2")
		}
	}
	if e.curl {
		run("", 2, "curl", "--version")
	}
	return v
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func kernel() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return "Linux " + string(b)
}

// onMount gives one tool a fresh mount for one workload, runs fn with
// it, and unmounts. rows has one Row per table of the workload; fn fills
// in times and tallies. If the mount fails, fn fails, or the phase times
// out or is interrupted, the rows fn left empty say "failed: …". Peak RSS
// and CPU of the mount go into every row. A syscall stuck in a hung mount
// is released by aborting the mount (lazy unmount, then killing the mount
// process), which FUSE answers with ENOTCONN.
func (e *runEnv) onMount(ctx context.Context, workload string, t mountTool, nrows int,
	fn func(ctx context.Context, m *mounted, rows []Row) error) []Row {
	e.phase = workload + "-" + t.Name()
	base := filepath.Join(e.cfg.WorkDir, e.phase)
	defer func() {
		// Never remove through a live mount: that would delete on the server.
		if !isMounted(filepath.Join(base, "mnt")) {
			os.RemoveAll(base)
		}
	}()
	return e.mountIn(ctx, base, t, nrows, e.cfg.PhaseTimeout, fn)
}

// mountIn mounts t at base/mnt with its cache in base/cache (both made
// when missing, neither removed: a caller that remounts on the same
// cache, as the scale workload does, removes base itself), runs fn,
// unmounts, and fills every row fn left without a status, peak RSS or
// CPU time as onMount describes. e.phase names the logs.
func (e *runEnv) mountIn(ctx context.Context, base string, t mountTool, nrows int, timeout time.Duration,
	fn func(ctx context.Context, m *mounted, rows []Row) error) []Row {
	rows := make([]Row, nrows)
	for i := range rows {
		rows[i].Tool = t.Name()
	}
	fmt.Fprintf(e.out, "… %s\n", e.phase)
	dir, cache := filepath.Join(base, "mnt"), filepath.Join(base, "cache")
	// base and mnt 0755: davfs2's daemon drops to the davfs2 group and
	// must reach its cache dir (davfsTool opens that one up itself); the
	// cache dirs are 0700 as odfb wants its own.
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{base, 0o755}, {dir, 0o755}, {cache, 0o700}} {
		if err := os.Mkdir(d.path, d.mode); err != nil && !os.IsExist(err) {
			fail(rows, err)
			return rows
		}
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := t.Mount(pctx, e, dir, cache)
	if err != nil {
		fmt.Fprintf(e.out, "    %s: mount failed: %v\n", t.Name(), err)
		fail(rows, fmt.Errorf("mount: %w", err))
		return rows
	}
	done := make(chan error, 1)
	go func() { done <- fn(pctx, m, rows) }()
	select {
	case err = <-done:
	case <-pctx.Done():
		err = fmt.Errorf("%w (aborted the mount)", pctx.Err())
		abortMount(m)
		<-done
	}
	if cerr := m.Close(); cerr != nil {
		fmt.Fprintf(e.out, "    %s: unmount: %v\n", t.Name(), cerr)
		err = errors.Join(err, cerr)
	}
	if err != nil {
		fmt.Fprintf(e.out, "    %s: %v\n", t.Name(), err)
		fail(rows, err)
	}
	for i := range rows {
		if !rows[i].stepUsage {
			rows[i].PeakRSS, rows[i].CPU = m.rss, m.cpu
		}
	}
	return rows
}

// abortMount releases a hung mount: lazy unmount, then kill its process.
func abortMount(m *mounted) {
	exec.Command("umount", "-l", m.dir).Run()
	if m.p != nil {
		m.p.cmd.Process.Kill()
	} else if m.sampler != nil {
		syscall.Kill(m.sampler.pid, syscall.SIGKILL)
	}
}

// fail marks every row that has no result yet as failed with err.
func fail(rows []Row, err error) {
	msg := "failed: " + shorten(firstLine(err.Error()), 70)
	for i := range rows {
		if rows[i].Status == "" && len(rows[i].Times) == 0 {
			rows[i].Status = msg
		}
	}
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// mark and since bracket a measured phase in spemu's request log.
func (e *runEnv) mark() int64 {
	m, err := e.srv.Log.Mark()
	if err != nil {
		fmt.Fprintf(e.out, "    request log: %v\n", err)
	}
	return m
}

func (e *runEnv) since(mark int64) Tally {
	// spemu logs a request once it is answered; give the last answer a
	// moment to reach the file.
	time.Sleep(50 * time.Millisecond)
	t, err := e.srv.Log.Since(mark)
	if err != nil {
		fmt.Fprintf(e.out, "    request log: %v\n", err)
	}
	return t
}
