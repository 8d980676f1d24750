package bench

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ---- 7. a library of many files: walks, expiry, remount, metadata ----

// scaleDirCacheTime is the directory cache time the scale workload gives
// every tool.
func (e *runEnv) scaleDirCacheTime() time.Duration {
	if e.cfg.ScaleDirCacheTime > 0 {
		return e.cfg.ScaleDirCacheTime
	}
	return ScaleDirCacheTime(e.fx.tree, e.cfg.Latency)
}

// scaleTimeout bounds one mount of the scale workload: the phase timeout
// grown with the tree, plus the wait for the listings to expire.
func (e *runEnv) scaleTimeout(dct time.Duration) time.Duration {
	f := max(1, float64(e.fx.tree.Files)/float64(FullSizes.ScaleFiles))
	return time.Duration(float64(e.cfg.PhaseTimeout)*f) + 2*dct
}

func (e *runEnv) workloadScale(ctx context.Context) []*Table {
	tr := e.fx.tree
	dct := e.scaleDirCacheTime()
	ch := tr.Change()
	shape := fmt.Sprintf("%s files (%s folders of up to %d, one of %s)",
		FormatCount(tr.Files), FormatCount(tr.Small), tr.PerFolder, FormatCount(tr.Big))
	cold := &Table{ID: "scale-cold", TimeCols: []string{"time"},
		Title: "7a. `find -type f` of " + shape + ", cold",
		Note: fmt.Sprintf("Fresh mount, empty cache; every tool runs with a directory cache time of %s (docs/bench.md). "+
			"The paths found must be exactly the server's files. Peak RSS: the mount's high-water mark up to the end of the step; "+
			"CPU: the mount's CPU time during the step. curl: a parallel PROPFIND Depth 1 walk, 8 folders at a time.", dct)}
	warm := &Table{ID: "scale-warm", TimeCols: []string{"time"},
		Title: "7b. the same `find` again, warm",
		Note:  "Right after the cold walk, same mount."}
	expiry := &Table{ID: "scale-expiry", TimeCols: []string{"time"},
		Title: "7c. `find` after the directory cache expired, with 2 changes by another client",
		Note: fmt.Sprintf("Same mount. Another client (HTTP, not the mount) adds %q and deletes %q; the walk starts %s after the cold walk ended. "+
			"A walk that misses the new file or still shows the deleted one is WRONG DATA.", ch.Added, ch.Deleted, dct+2*time.Second)}
	remount := &Table{ID: "scale-remount", TimeCols: []string{"time"},
		Title: "7d. `find` after a remount on the same cache directory",
		Note:  "Unmount, mount again with the same --cache-dir (odfb: meta.db holds the listings), `find` at once."}
	meta := &Table{ID: "scale-meta", TextCols: []string{"after the cold walk", "per entry", "after 3 walks, unmounted", "per entry"}, Plain: true,
		Title: "7e. metadata kept on disk",
		Note: fmt.Sprintf("Size of the tool's persistent metadata file right after the cold walk (mounted) and after the first mount "+
			"(cold, warm and expiry walks) was unmounted; per entry: divided by the %s files and folders.", FormatCount(tr.Entries()))}

	e.dirCacheTime = dct
	defer func() { e.dirCacheTime = 0 }()
	timeout := e.scaleTimeout(dct)
	for _, t := range e.tools {
		if ctx.Err() != nil {
			break
		}
		e.phase = "scale-" + t.Name()
		base := filepath.Join(e.cfg.WorkDir, e.phase)
		changed := false
		afterCold := int64(-1)
		rows := e.mountIn(ctx, base, t, 3, timeout, func(ctx context.Context, m *mounted, rows []Row) error {
			root := filepath.Join(m.dir, scaleDir)
			coldStart := time.Now()
			if err := e.scaleFind(ctx, m, root, &rows[0], nil); err != nil {
				return err
			}
			coldEnd := time.Now()
			if size, ok := metaSize(filepath.Join(base, "cache"), metaFile(t.Name())); ok {
				afterCold = size
			}
			if err := e.scaleFind(ctx, m, root, &rows[1], nil); err != nil {
				return err
			}
			if time.Since(coldStart) > dct {
				rows[1].Note = joinNote(rows[1].Note, fmt.Sprintf("cold+warm took longer than the %s cache time: early listings had expired", dct))
			}
			if err := e.changeServer(ctx, ch); err != nil {
				return fmt.Errorf("another client's changes: %w", err)
			}
			changed = true
			select {
			case <-time.After(time.Until(coldEnd.Add(dct + 2*time.Second))):
			case <-ctx.Done():
				return ctx.Err()
			}
			return e.scaleFind(ctx, m, root, &rows[2], &ch)
		})
		cold.Rows = append(cold.Rows, rows[0])
		warm.Rows = append(warm.Rows, rows[1])
		expiry.Rows = append(expiry.Rows, rows[2])
		meta.Rows = append(meta.Rows, metaRow(t.Name(), filepath.Join(base, "cache"), tr.Entries(), afterCold))

		var want *treeChange
		if changed {
			want = &ch
		}
		e.phase = "scale-" + t.Name() + "-remount"
		rrows := e.mountIn(ctx, base, t, 1, timeout, func(ctx context.Context, m *mounted, rows []Row) error {
			return e.scaleFind(ctx, m, filepath.Join(m.dir, scaleDir), &rows[0], want)
		})
		rrows[0].Note = joinNote(rrows[0].Note, remountNote(t.Name()))
		remount.Rows = append(remount.Rows, rrows[0])

		if !isMounted(filepath.Join(base, "mnt")) {
			os.RemoveAll(base)
		}
		if changed {
			// The next tool walks the tree as generated.
			if err := e.revertServer(ctx, ch); err != nil {
				fmt.Fprintf(e.out, "    restoring the tree: %v\n", err)
			}
		}
	}
	if e.curl {
		cold.Rows = append(cold.Rows, e.curlScaleRow(ctx))
	}
	return []*Table{cold, warm, expiry, remount, meta}
}

// scaleFind times one `find DIR -type f`, tallies its requests, records
// the mount's peak RSS so far and its CPU time during the walk, and
// checks the paths against the tree (after change c, if not nil).
func (e *runEnv) scaleFind(ctx context.Context, m *mounted, dir string, row *Row, c *treeChange) error {
	var cpu0 time.Duration
	if m.sampler != nil {
		_, cpu0 = m.sampler.now()
	}
	mark := e.mark()
	start := time.Now()
	paths, err := findFiles(ctx, dir)
	d := time.Since(start)
	if err != nil {
		return err
	}
	row.Times = []time.Duration{d}
	row.Tally = e.since(mark)
	if m.sampler != nil {
		rss, cpu := m.sampler.now()
		row.PeakRSS, row.CPU, row.stepUsage = rss, cpu-cpu0, true
	}
	if err := e.fx.tree.CheckWalk(paths, c); err != nil {
		row.Status = "failed: WRONG DATA"
		row.Note = joinNote(fmt.Sprintf("took %s; %s", FormatDuration(d), strings.TrimPrefix(err.Error(), errWrongData.Error()+": ")), row.Note)
		fmt.Fprintf(e.out, "    %s: %v\n", row.Tool, err)
	}
	return nil
}

// findFiles runs `find DIR -type f` and returns the paths it printed,
// relative to DIR.
func findFiles(ctx context.Context, dir string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "find", dir, "-type", "f")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("find %s: %v: %s", dir, err, firstLine(stderr.String()))
	}
	return relPaths(out, dir), nil
}

// relPaths splits find's output into paths relative to dir.
func relPaths(out []byte, dir string) []string {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var paths []string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		paths = append(paths, strings.TrimPrefix(line, prefix))
	}
	return paths
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// changeServer makes change c as another client would: a PUT and a
// DELETE straight to spemu, not through any mount.
func (e *runEnv) changeServer(ctx context.Context, c treeChange) error {
	if err := serverRequest(ctx, http.MethodPut, e.srv.FileURL(scaleDir+"/"+c.Added), e.srv.Cookie, addedData,
		http.StatusCreated, http.StatusNoContent, http.StatusOK); err != nil {
		return err
	}
	return serverRequest(ctx, http.MethodDelete, e.srv.FileURL(scaleDir+"/"+c.Deleted), e.srv.Cookie, nil,
		http.StatusNoContent, http.StatusOK)
}

// revertServer undoes change c: the added file goes, the deleted one
// comes back with its generated content.
func (e *runEnv) revertServer(ctx context.Context, c treeChange) error {
	if err := serverRequest(ctx, http.MethodDelete, e.srv.FileURL(scaleDir+"/"+c.Added), e.srv.Cookie, nil,
		http.StatusNoContent, http.StatusOK); err != nil {
		return err
	}
	return serverRequest(ctx, http.MethodPut, e.srv.FileURL(scaleDir+"/"+c.Deleted), e.srv.Cookie, e.fx.tree.FileData(c.delI, c.delJ),
		http.StatusCreated, http.StatusNoContent, http.StatusOK)
}

// remountNote says what a tool keeps across a remount.
func remountNote(tool string) string {
	switch tool {
	case "odfb":
		return "listings and change token from meta.db; one change query when due"
	case "davfs2":
		return "no persistent listings (davfs2 stores only directories holding cached files): cold"
	default:
		return "no persistent listings (--cache-dir holds file content only): cold"
	}
}

// metaFile names the file a tool keeps its metadata in, in its cache
// dir ("" for none).
func metaFile(tool string) string {
	switch tool {
	case "odfb":
		return "meta.db"
	case "davfs2":
		return "index" // davfs2's per-mount attribute store, written at unmount
	}
	return ""
}

// metaSize sums the sizes of the files called name below cacheDir.
func metaSize(cacheDir, name string) (size int64, found bool) {
	if name == "" {
		return 0, false
	}
	filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == name {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
				found = true
			}
		}
		return nil
	})
	return size, found
}

// metaRow reports the persistent metadata a tool keeps: its size after
// the cold walk (afterCold < 0: none found then) and now, in its cache
// dir, with each divided by the tree's entries.
func metaRow(tool, cacheDir string, entries int, afterCold int64) Row {
	r := Row{Tool: tool, Text: []string{"—", "—", "none", "—"}}
	per := func(size int64) string {
		p := float64(size) / float64(entries)
		if p < 10 {
			return fmt.Sprintf("%.1f B", p)
		}
		return fmt.Sprintf("%.0f B", p)
	}
	name := metaFile(tool)
	if name == "" {
		r.Note = "listings are kept in memory only"
		return r
	}
	if afterCold >= 0 {
		r.Text[0], r.Text[1] = FormatBytes(afterCold), per(afterCold)
	}
	size, found := metaSize(cacheDir, name)
	if !found {
		r.Note = "no " + name + " in the cache dir"
		return r
	}
	r.Text[2], r.Text[3] = FormatBytes(size), per(size)
	r.Note = name
	if tool == "davfs2" {
		r.Note += " (written at unmount; attributes of cached files and their folders only)"
	}
	return r
}

// curlScaleRow walks the tree with curl: PROPFIND Depth 1 of the top
// folder, then of every folder it names, 8 at a time (curl --parallel),
// level by level, each answer parsed for the next level. It is the floor
// for a cold walk: no file system, no cache, bounded only by parallelism.
func (e *runEnv) curlScaleRow(ctx context.Context) Row {
	e.phase = "scale-curl"
	fmt.Fprintf(e.out, "… %s\n", e.phase)
	row := Row{Tool: "curl", Note: "parallel walk, 8 folders at a time"}
	base, err := url.Parse(e.srv.FileURL(scaleDir + "/"))
	if err != nil {
		row.Status = "failed: " + err.Error()
		return row
	}
	out := filepath.Join(e.cfg.WorkDir, "curl-scale")
	defer os.RemoveAll(out)
	mark := e.mark()
	start := time.Now()
	level := []string{strings.TrimSuffix(base.Path, "/")}
	var files []string
	for n := 0; len(level) > 0; n++ {
		dir := filepath.Join(out, fmt.Sprint(n))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			row.Status = "failed: " + err.Error()
			return row
		}
		var cfg strings.Builder
		for i, p := range level {
			fmt.Fprintf(&cfg, "url = %q\noutput = %q\n", urlForPath(base, p, true), filepath.Join(dir, fmt.Sprint(i)))
		}
		r, err := runCurlArgs(ctx, e, cfg.String(), "--parallel", "--parallel-max", "8",
			"-X", "PROPFIND", "-H", "Depth: 1")
		row.PeakRSS = max(row.PeakRSS, r.rss)
		row.CPU += r.cpu
		if err != nil {
			row.Tally = e.since(mark)
			row.Status = "failed: " + shorten(err.Error(), 70)
			return row
		}
		var next []string
		for i, p := range level {
			data, err := os.ReadFile(filepath.Join(dir, fmt.Sprint(i)))
			if err == nil {
				var entries []davEntry
				if entries, err = parseMultistatus(bytes.NewReader(data)); err == nil {
					dirs, fs := davChildren(entries, p)
					next = append(next, dirs...)
					files = append(files, fs...)
				}
			}
			if err != nil {
				row.Tally = e.since(mark)
				row.Status = "failed: " + shorten(err.Error(), 70)
				return row
			}
		}
		level = next
	}
	row.Times = []time.Duration{time.Since(start)}
	row.Tally = e.since(mark)
	rel := make([]string, len(files))
	for i, f := range files {
		rel[i] = strings.TrimPrefix(f, strings.TrimSuffix(base.Path, "/")+"/")
	}
	if err := e.fx.tree.CheckWalk(rel, nil); err != nil {
		row.Status = "failed: WRONG DATA"
		row.Note = strings.TrimPrefix(err.Error(), errWrongData.Error()+": ")
	}
	return row
}

// primeServer lists the whole scale tree once, untimed, before any tool:
// spemu gives every item its id and ETag the first time it lists it (and
// writes its metadata file after), work the first tool's cold walk would
// otherwise pay for alone.
func primeServer(ctx context.Context, s *Server, tr Tree) error {
	files, err := walkHTTP(ctx, s.FileURL(scaleDir+"/"), s.Cookie, 8)
	if err != nil {
		return err
	}
	if len(files) != tr.Files {
		return fmt.Errorf("spemu lists %d files of the scale tree, want %d", len(files), tr.Files)
	}
	return nil
}
