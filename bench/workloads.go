package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ---- 1. ls -l, cold and warm ----

func (e *runEnv) workloadList(ctx context.Context) []*Table {
	n := e.cfg.Sizes.ListFiles
	cold := &Table{ID: "ls-cold", TimeCols: []string{"time"},
		Title: fmt.Sprintf("1a. `ls -l` of a folder with %d files, cold", n),
		Note:  "First `ls -l` on a fresh mount (readdir + lstat + xattr probes of every entry). curl: one PROPFIND Depth: 1."}
	warm := &Table{ID: "ls-warm", TimeCols: []string{"time"},
		Title: "1b. `ls -l` of the same folder again, warm",
		Note:  "Second `ls -l` right after the first, same mount. curl has no cache: the same PROPFIND again."}
	for _, t := range e.tools {
		rows := e.onMount(ctx, "ls", t, 2, func(ctx context.Context, m *mounted, rows []Row) error {
			dir := filepath.Join(m.dir, listDir)
			for i := range rows {
				mark := e.mark()
				start := time.Now()
				got, err := lsL(ctx, dir)
				d := time.Since(start)
				if err != nil {
					return err
				}
				rows[i].Times = []time.Duration{d}
				rows[i].Tally = e.since(mark)
				if got != n {
					rows[i].Note = fmt.Sprintf("WRONG: listed %d of %d files", got, n)
				}
			}
			return nil
		})
		cold.Rows = append(cold.Rows, rows[0])
		warm.Rows = append(warm.Rows, rows[1])
	}
	if e.curl {
		for _, tb := range []*Table{cold, warm} {
			tb.Rows = append(tb.Rows, e.curlRow(ctx, "ls", []string{"-X", "PROPFIND", "-H", "Depth: 1", e.srv.FileURL(listDir + "/")}))
		}
	}
	return []*Table{cold, warm}
}

// lsL runs `ls -l` and returns the number of entries it printed.
func lsL(ctx context.Context, dir string) (int, error) {
	cmd := exec.CommandContext(ctx, "ls", "-l", "--color=never", dir)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("ls -l %s: %v: %s", dir, err, firstLine(stderr.String()))
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" && !strings.HasPrefix(line, "total ") {
			n++
		}
	}
	return n, nil
}

// ---- 2. stat every file after a listing ----

func (e *runEnv) workloadStat(ctx context.Context) []*Table {
	n := e.cfg.Sizes.ListFiles
	tb := &Table{ID: "stat", TimeCols: []string{"time"},
		Title: fmt.Sprintf("2. `stat` of each of the %d files after a readdir", n),
		Note: "Fresh mount; readdir of the folder (names only, not timed), then lstat() of every entry, timed. " +
			"Requests are those of the stat loop only: a listing that serves its children's metadata needs none."}
	for _, t := range e.tools {
		rows := e.onMount(ctx, "stat", t, 1, func(ctx context.Context, m *mounted, rows []Row) error {
			dir := filepath.Join(m.dir, listDir)
			mark := e.mark()
			ents, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			listing := e.since(mark)
			mark = e.mark()
			start := time.Now()
			for _, ent := range ents {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if _, err := os.Lstat(filepath.Join(dir, ent.Name())); err != nil {
					return err
				}
			}
			rows[0].Times = []time.Duration{time.Since(start)}
			rows[0].Tally = e.since(mark)
			rows[0].Note = "readdir before: " + listing.String()
			if len(ents) != n {
				rows[0].Note += fmt.Sprintf("; WRONG: %d of %d entries", len(ents), n)
			}
			return nil
		})
		tb.Rows = append(tb.Rows, rows...)
	}
	return []*Table{tb}
}

// ---- 3. sequential read, cold and warm ----

func (e *runEnv) workloadSeqRead(ctx context.Context) []*Table {
	size := e.cfg.Sizes.SeqBytes
	cold := &Table{ID: "seq-cold", TimeCols: []string{"time"}, Bytes: size,
		Title: fmt.Sprintf("3a. sequential read of a %s file, cold", FormatBytes(size)),
		Note:  "read() with a 1 MiB buffer from a fresh mount; every byte checked (SHA-256). curl: one GET to /dev/null."}
	warm := &Table{ID: "seq-warm", TimeCols: []string{"time"}, Bytes: size,
		Title: "3b. second read of the same file, warm",
		Note:  "Same mount, read again; curl fetches it again."}
	for _, t := range e.tools {
		rows := e.onMount(ctx, "seqread", t, 2, func(ctx context.Context, m *mounted, rows []Row) error {
			for i := range rows {
				mark := e.mark()
				start := time.Now()
				sum, n, err := readAll(ctx, filepath.Join(m.dir, seqFile))
				d := time.Since(start)
				if err != nil {
					return err
				}
				rows[i].Times = []time.Duration{d}
				rows[i].Tally = e.since(mark)
				if n != size || sum != e.fx.seqSum {
					rows[i].Status = fmt.Sprintf("failed: WRONG DATA (%d bytes, checksum differs)", n)
				}
			}
			return nil
		})
		cold.Rows = append(cold.Rows, rows[0])
		warm.Rows = append(warm.Rows, rows[1])
	}
	if e.curl {
		for _, tb := range []*Table{cold, warm} {
			tb.Rows = append(tb.Rows, e.curlRow(ctx, "seqread", []string{e.srv.FileURL(seqFile)}))
		}
	}
	return []*Table{cold, warm}
}

// readAll reads a file with 1 MiB reads, like cp or dd bs=1M would.
func readAll(ctx context.Context, p string) ([32]byte, int64, error) {
	var sum [32]byte
	f, err := os.Open(p)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if ctx.Err() != nil {
			return sum, n, ctx.Err()
		}
		k, err := f.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, n, err
		}
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

// ---- 4. random 4 KiB reads in a big sparse file ----

func (e *runEnv) workloadRandRead(ctx context.Context) []*Table {
	sz := e.cfg.Sizes
	tb := &Table{ID: "randread", TimeCols: []string{"time"},
		Title: fmt.Sprintf("4. %d random 4 KiB reads in a %s file", len(e.fx.randOff), FormatBytes(sz.SparseBytes)),
		Note: "pread() of 4 KiB at seeded offsets, every block checked; cold mount. `down` against the file size shows " +
			"whether a tool fetches ranges or the whole file. curl: one process, one ranged GET per block."}
	for _, t := range e.tools {
		rows := e.onMount(ctx, "randread", t, 1, func(ctx context.Context, m *mounted, rows []Row) error {
			// open() is timed too: davfs2 downloads the whole file there.
			buf := make([]byte, randBlock)
			mark := e.mark()
			start := time.Now()
			f, err := os.Open(filepath.Join(m.dir, sparseFile))
			if err != nil {
				return err
			}
			defer f.Close()
			bad := 0
			for i, off := range e.fx.randOff {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
					return err
				}
				if !bytes.Equal(buf, e.fx.randBlocks[i]) {
					bad++
				}
			}
			rows[0].Times = []time.Duration{time.Since(start)}
			rows[0].Tally = e.since(mark)
			rows[0].Note = fmt.Sprintf("down = %.1f%% of the file", 100*float64(rows[0].Tally.RespBytes)/float64(sz.SparseBytes))
			if bad > 0 {
				rows[0].Status = fmt.Sprintf("failed: WRONG DATA in %d blocks", bad)
			}
			return nil
		})
		tb.Rows = append(tb.Rows, rows...)
	}
	if e.curl {
		var transfers [][]string
		for _, off := range e.fx.randOff {
			transfers = append(transfers, []string{"-r", fmt.Sprintf("%d-%d", off, off+randBlock-1), e.srv.FileURL(sparseFile)})
		}
		r := e.curlRow(ctx, "randread", transfers...)
		r.Note = fmt.Sprintf("down = %.1f%% of the file", 100*float64(r.Tally.RespBytes)/float64(sz.SparseBytes))
		tb.Rows = append(tb.Rows, r)
	}
	return []*Table{tb}
}

// ---- 5. many small new files ----

func (e *runEnv) workloadSmallWrite(ctx context.Context) []*Table {
	sz := e.cfg.Sizes
	tb := &Table{ID: "smallwrite", TimeCols: []string{"to close", "on server"}, RateCol: 1,
		Title: fmt.Sprintf("5. write %d new %s files in %d new folders", sz.SmallFiles, FormatBytes(int64(sz.SmallFileBytes)), sz.SmallDirs),
		Note: "mkdir + create/write/close, timed until the last close and until spemu holds every file with the right bytes " +
			"(odfb: `odfb sync`; davfs2: umount, which uploads; rclone: nothing to trigger, so its --vfs-write-back delay counts). " +
			"curl: one process, MKCOL each folder then one PUT per file."}
	files := e.smallFiles()
	for _, t := range e.tools {
		prefix := "bench-small-" + t.Name()
		rows := e.onMount(ctx, "smallwrite", t, 1, func(ctx context.Context, m *mounted, rows []Row) error {
			mark := e.mark()
			start := time.Now()
			for d := range sz.SmallDirs {
				if err := os.Mkdir(filepath.Join(m.dir, fmt.Sprintf("%s-%d", prefix, d)), 0o755); err != nil {
					return err
				}
			}
			for _, f := range files {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err := os.WriteFile(filepath.Join(m.dir, prefix+f.rel), f.data, 0o644); err != nil {
					return err
				}
			}
			closed := time.Since(start)
			want := map[string]int64{}
			for _, f := range files {
				want[prefix+f.rel] = int64(len(f.data))
			}
			onServer, note, err := e.waitOnServer(ctx, start, mark, t, m, want)
			if err != nil {
				rows[0].Times = []time.Duration{closed}
				rows[0].Tally = e.since(mark)
				rows[0].Status = "failed: " + shorten(firstLine(err.Error()), 60)
				return nil
			}
			rows[0].Times = []time.Duration{closed, onServer}
			rows[0].Tally = e.since(mark)
			rows[0].Note = note
			for _, f := range files {
				got, err := os.ReadFile(e.srv.Local(prefix + f.rel))
				if err != nil || !bytes.Equal(got, f.data) {
					rows[0].Status = "failed: WRONG DATA on the server for " + prefix + f.rel
					break
				}
			}
			return nil
		})
		tb.Rows = append(tb.Rows, rows...)
		for d := range sz.SmallDirs {
			os.RemoveAll(e.srv.Local(fmt.Sprintf("%s-%d", prefix, d)))
		}
	}
	if e.curl {
		prefix := "bench-small-curl"
		local := filepath.Join(e.cfg.WorkDir, "curl-small")
		var transfers [][]string
		for d := range sz.SmallDirs {
			transfers = append(transfers, []string{"-X", "MKCOL", e.srv.FileURL(fmt.Sprintf("%s-%d/", prefix, d))})
		}
		for i, f := range files {
			lp := filepath.Join(local, fmt.Sprint(i))
			os.MkdirAll(local, 0o700)
			os.WriteFile(lp, f.data, 0o600)
			transfers = append(transfers, []string{"-T", lp, e.srv.FileURL(prefix + f.rel)})
		}
		r := e.curlRow(ctx, "smallwrite", transfers...)
		if r.Status == "" {
			r.Times = append(r.Times, r.Times[0])
		}
		tb.Rows = append(tb.Rows, r)
		os.RemoveAll(local)
		for d := range sz.SmallDirs {
			os.RemoveAll(e.srv.Local(fmt.Sprintf("%s-%d", prefix, d)))
		}
	}
	return []*Table{tb}
}

type smallFile struct {
	rel  string // "-<dir>/file-NNN.bin", appended to a per-tool prefix
	data []byte
}

func (e *runEnv) smallFiles() []smallFile {
	sz := e.cfg.Sizes
	rng := rand.New(rand.NewPCG(e.cfg.Seed, 5))
	files := make([]smallFile, sz.SmallFiles)
	for i := range files {
		data := make([]byte, sz.SmallFileBytes)
		fillRandom(rng, data)
		files[i] = smallFile{rel: fmt.Sprintf("-%d/file-%03d.bin", i%max(sz.SmallDirs, 1), i), data: data}
	}
	return files
}

// ---- 6. one big file ----

func (e *runEnv) workloadBigWrite(ctx context.Context) []*Table {
	size := e.cfg.Sizes.BigWriteBytes
	seed := e.cfg.Seed + 6
	tb := &Table{ID: "bigwrite", TimeCols: []string{"to close", "on server"}, Bytes: size, RateCol: 1,
		Title: fmt.Sprintf("6. write one %s file", FormatBytes(size)),
		Note: "create + 1 MiB writes + close, timed until close and until spemu holds the whole file (checked by SHA-256); " +
			"MiB/s is to the server. curl: one PUT of a local file."}
	want := seededSum(size, seed)
	for _, t := range e.tools {
		rel := "bench-big-" + t.Name() + ".bin"
		rows := e.onMount(ctx, "bigwrite", t, 1, func(ctx context.Context, m *mounted, rows []Row) error {
			mark := e.mark()
			start := time.Now()
			if err := writeStream(ctx, filepath.Join(m.dir, rel), size, seed); err != nil {
				return err
			}
			closed := time.Since(start)
			onServer, note, err := e.waitOnServer(ctx, start, mark, t, m, map[string]int64{rel: size})
			if err != nil {
				rows[0].Times = []time.Duration{closed}
				rows[0].Tally = e.since(mark)
				rows[0].Status = "failed: " + shorten(firstLine(err.Error()), 60)
				return nil
			}
			rows[0].Times = []time.Duration{closed, onServer}
			rows[0].Tally = e.since(mark)
			rows[0].Note = note
			if got, _, err := fileSum(e.srv.Local(rel)); err != nil || got != want {
				rows[0].Status = "failed: WRONG DATA on the server"
			}
			return nil
		})
		tb.Rows = append(tb.Rows, rows...)
		os.Remove(e.srv.Local(rel))
	}
	if e.curl {
		rel := "bench-big-curl.bin"
		local := filepath.Join(e.cfg.WorkDir, "curl-big.bin")
		if _, err := writeSeeded(local, size, seed); err != nil {
			tb.Rows = append(tb.Rows, Row{Tool: "curl", Status: "failed: " + err.Error()})
		} else {
			r := e.curlRow(ctx, "bigwrite", []string{"-T", local, e.srv.FileURL(rel)})
			if r.Status == "" {
				r.Times = append(r.Times, r.Times[0])
			}
			tb.Rows = append(tb.Rows, r)
		}
		os.Remove(local)
		os.Remove(e.srv.Local(rel))
	}
	return []*Table{tb}
}

// writeStream writes size seeded bytes to p in 1 MiB writes and closes.
func writeStream(ctx context.Context, p string, size int64, seed uint64) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	src := bufio.NewReaderSize(seededReader(size, seed), 1<<20)
	buf := make([]byte, 1<<20)
	for {
		if ctx.Err() != nil {
			f.Close()
			return ctx.Err()
		}
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			f.Close()
			return rerr
		}
	}
	return f.Close()
}

// ---- shared helpers ----

// waitOnServer waits until every file in want (library-relative path →
// size) is in spemu's root with its full size, doing what a user of the
// tool would do to get the data there: `odfb sync` for odfb, umount for
// davfs2 (it uploads on unmount), nothing for rclone (it uploads after
// --vfs-write-back). It returns the time from start until the server had
// everything and the tool's trigger (sync, umount) had returned.
func (e *runEnv) waitOnServer(ctx context.Context, start time.Time, mark int64, t mountTool, m *mounted, want map[string]int64) (time.Duration, string, error) {
	type result struct {
		note string
		err  error
	}
	trigger := make(chan result, 1)
	switch tt := t.(type) {
	case odfbTool:
		go func() { trigger <- result{note: "on server = `odfb sync` done", err: tt.Sync(ctx, m.dir)} }()
	case davfsTool:
		go func() { trigger <- result{note: "on server = umount done", err: m.Close()} }()
	default:
		trigger <- result{}
	}
	var trig result
	trigDone := false
	var refused time.Time // when spemu first answered 413 to an upload
	for {
		if !trigDone {
			select {
			case trig = <-trigger:
				trigDone = true
			default:
			}
		}
		if trigDone && trig.err != nil {
			return 0, trig.note, trig.err
		}
		if serverHas(e.srv, want) {
			if !trigDone { // sync or umount must still return before we go on
				select {
				case trig = <-trigger:
				case <-ctx.Done():
					return 0, trig.note, ctx.Err()
				}
			}
			return time.Since(start), trig.note, trig.err
		}
		// A tool that sends the file in one PUT over spemu's --put-limit
		// (SharePoint's 250 MB) gets 413 and will never get there: give
		// it a little while to recover, then report it.
		if refused.IsZero() {
			if tl, err := e.srv.Log.Since(mark); err == nil && tl.ByStatus[http.StatusRequestEntityTooLarge] > 0 {
				refused = time.Now()
			}
		} else if time.Since(refused) > 20*time.Second {
			return 0, trig.note, errors.New("413: single PUT over the server's limit")
		}
		select {
		case <-ctx.Done():
			return 0, trig.note, fmt.Errorf("files not on the server: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func serverHas(s *Server, want map[string]int64) bool {
	for rel, size := range want {
		fi, err := os.Stat(s.Local(rel))
		if err != nil || fi.Size() != size {
			return false
		}
	}
	return true
}

// curlRow runs one curl process and turns it into a table row.
func (e *runEnv) curlRow(ctx context.Context, workload string, transfers ...[]string) Row {
	e.phase = workload + "-curl"
	fmt.Fprintf(e.out, "… %s: curl\n", workload)
	row := Row{Tool: "curl"}
	mark := e.mark()
	r, err := runCurl(ctx, e, transfers...)
	row.Tally = e.since(mark)
	row.PeakRSS, row.CPU = r.rss, r.cpu
	if err != nil {
		fmt.Fprintf(e.out, "    curl: %v\n", err)
		if row.Tally.Errors > 0 {
			row.Status = "failed: HTTP " + row.Tally.errorStatuses()
		} else {
			row.Status = "failed: " + shorten(err.Error(), 70)
		}
		return row
	}
	row.Times = []time.Duration{r.dur}
	return row
}
