// Command odfbbench runs odfb's benchmark: odfb mount against rclone
// mount, davfs2 and plain curl on one spemu server, in one run. `make
// bench` runs it through scripts/bench.sh; docs/bench.md explains the
// workloads and how each peer is configured.
//
// Exit codes: 0 the run completed (whatever the numbers; the benchmark
// never fails on a timing), 1 the run could not start or was interrupted,
// 2 bad flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/odfb/odfb/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("odfbbench", flag.ContinueOnError)
	var (
		binDir     = fs.String("bin", "bin", "directory holding the built odfb and spemu")
		workDir    = fs.String("workdir", "", "scratch directory for the server root, mounts and caches (default: a new temp dir, removed at the end)")
		resultDir  = fs.String("out", "bench-results", "directory for the <timestamp>.md report (empty: none)")
		quick      = fs.Bool("quick", envBool("BENCH_QUICK"), "small sizes for a smoke run of about a minute (env BENCH_QUICK=1)")
		tools      = fs.String("tools", envOr("BENCH_TOOLS", "all"), "tools to run: "+strings.Join(bench.AllTools, ",")+"; all; -name removes one (env BENCH_TOOLS)")
		workloads  = fs.String("workloads", envOr("BENCH_WORKLOADS", "all"), "workloads: "+strings.Join(bench.AllWorkloads, ",")+"; all; -name removes one (env BENCH_WORKLOADS)")
		latency    = fs.Duration("latency", envDur("BENCH_LATENCY", 20*time.Millisecond), "spemu --latency per request, like a WAN round trip (env BENCH_LATENCY)")
		bandwidth  = fs.String("bandwidth", envOr("BENCH_BANDWIDTH", "0"), "spemu --bandwidth in bytes/s (e.g. 100MiB), 0 = unlimited (env BENCH_BANDWIDTH)")
		auth       = fs.String("auth", envOr("BENCH_AUTH", "cookie"), "spemu auth for every tool: cookie (SharePoint's model) or none")
		putLimit   = fs.String("put-limit", envOr("BENCH_PUT_LIMIT", "none"), "spemu --put-limit: none (every tool can write the big file), default (spemu's 250 MiB, SharePoint's: single-PUT tools fail the 300 MiB write) or a size (env BENCH_PUT_LIMIT)")
		timeout    = fs.Duration("phase-timeout", 10*time.Minute, "limit for one tool on one workload, upload wait included")
		seed       = fs.Uint64("seed", 1, "seed of all generated data and offsets")
		serverArgs = fs.String("server-args", os.Getenv("BENCH_SERVER_ARGS"), "extra spemu flags, space separated (env BENCH_SERVER_ARGS)")
		listFiles  = fs.Int("list-files", 0, "files in the listed folder (0: by mode)")
		seqSize    = fs.String("seq-size", "", "size of the sequentially read file (e.g. 200MiB)")
		sparseSize = fs.String("sparse-size", "", "size of the sparse file for random reads")
		randReads  = fs.Int("rand-reads", 0, "number of random 4 KiB reads")
		smallFiles = fs.Int("small-files", 0, "number of small files written")
		smallDirs  = fs.Int("small-dirs", 0, "number of new folders for them")
		bigSize    = fs.String("big-size", "", "size of the big file written")
		scale      = fs.String("scale", os.Getenv("BENCH_SCALE"), "files in the scale workload's library (0: by mode, 120000 full, 5000 quick; env BENCH_SCALE); the shape stays: one sixth in one big folder, the rest in folders of 100")
		scaleDCT   = fs.Duration("scale-dir-cache-time", 0, "directory cache time every tool gets in the scale workload (0: derived from the tree and latency, at least 30s; docs/bench.md)")
	)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: odfbbench [flags]\n\nBenchmarks odfb against rclone mount, davfs2 and curl on one spemu server.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	cfg := bench.Config{
		BinDir: *binDir, ResultDir: *resultDir, Latency: *latency, Auth: *auth,
		Quick: *quick, PhaseTimeout: *timeout, Seed: *seed,
	}
	cfg.Sizes = bench.FullSizes
	if *quick {
		cfg.Sizes = bench.QuickSizes
	}
	var err error
	bad := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "odfbbench: -%s: %v\n", what, err)
		return 2
	}
	if cfg.Tools, err = bench.ParseList(*tools, bench.AllTools); err != nil {
		return bad("tools", err)
	}
	if cfg.Workloads, err = bench.ParseList(*workloads, bench.AllWorkloads); err != nil {
		return bad("workloads", err)
	}
	if cfg.Bandwidth, err = bench.ParseSize(*bandwidth); err != nil {
		return bad("bandwidth", err)
	}
	switch *putLimit {
	case "none":
		cfg.PutLimit = -1
	case "default":
		cfg.PutLimit = 0
	default:
		if cfg.PutLimit, err = bench.ParseSize(*putLimit); err != nil || cfg.PutLimit == 0 {
			return bad("put-limit", fmt.Errorf("want none, default or a size, got %q", *putLimit))
		}
	}
	for _, s := range []struct {
		name string
		val  string
		dst  *int64
	}{{"seq-size", *seqSize, &cfg.Sizes.SeqBytes}, {"sparse-size", *sparseSize, &cfg.Sizes.SparseBytes}, {"big-size", *bigSize, &cfg.Sizes.BigWriteBytes}} {
		if s.val == "" {
			continue
		}
		if *s.dst, err = bench.ParseSize(s.val); err != nil {
			return bad(s.name, err)
		}
	}
	for _, n := range []struct {
		val int
		dst *int
	}{{*listFiles, &cfg.Sizes.ListFiles}, {*randReads, &cfg.Sizes.RandReads}, {*smallFiles, &cfg.Sizes.SmallFiles}, {*smallDirs, &cfg.Sizes.SmallDirs}} {
		if n.val > 0 {
			*n.dst = n.val
		}
	}
	if *scale != "" && *scale != "0" {
		n, err := strconv.Atoi(strings.TrimSpace(*scale))
		if err != nil || n < bench.MinScaleFiles {
			return bad("scale", fmt.Errorf("want a number of files, at least %d, got %q", bench.MinScaleFiles, *scale))
		}
		cfg.Sizes.ScaleFiles = n
	}
	if *scaleDCT < 0 {
		return bad("scale-dir-cache-time", fmt.Errorf("negative: %s", *scaleDCT))
	}
	cfg.ScaleDirCacheTime = *scaleDCT
	if cfg.Sizes.SparseBytes < 4096*int64(cfg.Sizes.RandReads) {
		return bad("sparse-size", fmt.Errorf("too small for %d reads", cfg.Sizes.RandReads))
	}

	if *workDir == "" {
		d, err := os.MkdirTemp("", "odfb-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "odfbbench:", err)
			return 1
		}
		defer func() {
			if !bench.MountedUnder(d) {
				os.RemoveAll(d)
			}
		}()
		*workDir = d
	}
	if cfg.WorkDir, err = filepath.Abs(*workDir); err != nil {
		fmt.Fprintln(os.Stderr, "odfbbench:", err)
		return 1
	}
	if cfg.BinDir, err = filepath.Abs(cfg.BinDir); err != nil {
		fmt.Fprintln(os.Stderr, "odfbbench:", err)
		return 1
	}

	// Ctrl-C or SIGTERM cancels the run; the harness then unmounts and
	// stops what it started before exiting.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.Run(ctx, cfg, strings.Fields(*serverArgs), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "odfbbench:", err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envBool(name string) bool {
	v := os.Getenv(name)
	return v != "" && v != "0" && v != "false"
}

func envDur(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}
