package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Workload ids, in the order they run.
var AllWorkloads = []string{"ls", "stat", "seqread", "randread", "smallwrite", "bigwrite", "scale"}

// AllTools are the tools the harness knows, in report order. rclone-full
// is rclone mount with --vfs-cache-mode full instead of writes.
var AllTools = []string{"odfb", "rclone", "rclone-full", "davfs2", "curl"}

// Sizes are the workload parameters.
type Sizes struct {
	ListFiles      int   // files in the listed folder (workloads ls, stat)
	SeqBytes       int64 // size of the sequentially read file
	SparseBytes    int64 // size of the mostly sparse file for random reads
	RandReads      int   // number of random 4 KiB reads
	SmallFiles     int   // new small files written …
	SmallDirs      int   // … spread over this many new folders
	SmallFileBytes int   // size of each small file
	BigWriteBytes  int64 // size of the one big file written
	// ScaleFiles is the size of the scale workload's library (files;
	// the folders follow from it, see Tree); BENCH_SCALE sets it.
	ScaleFiles int
}

// FullSizes are the sizes the project's benchmark is defined with.
var FullSizes = Sizes{
	ListFiles:      1000,
	SeqBytes:       200 << 20,
	SparseBytes:    1 << 30,
	RandReads:      64,
	SmallFiles:     200,
	SmallDirs:      5,
	SmallFileBytes: 4 << 10,
	BigWriteBytes:  300 << 20,
	ScaleFiles:     120000,
}

// QuickSizes make a smoke run of about a minute (BENCH_QUICK=1).
var QuickSizes = Sizes{
	ListFiles:      100,
	SeqBytes:       16 << 20,
	SparseBytes:    64 << 20,
	RandReads:      16,
	SmallFiles:     20,
	SmallDirs:      2,
	SmallFileBytes: 4 << 10,
	BigWriteBytes:  24 << 20,
	ScaleFiles:     5000,
}

// Config is everything one run needs.
type Config struct {
	BinDir    string        // holds odfb and spemu
	WorkDir   string        // scratch: server root, mounts, caches, logs
	ResultDir string        // where <timestamp>.md goes ("" = none)
	Latency   time.Duration // spemu --latency per request
	Bandwidth int64         // spemu --bandwidth in bytes/s, 0 = unlimited
	Auth      string        // "cookie" (default) or "none"
	// PutLimit is spemu's --put-limit: < 0 no limit (the default, so
	// every tool can write the big file), 0 spemu's own default (250 MiB,
	// SharePoint's), > 0 that many bytes.
	PutLimit  int64
	Tools     []string
	Workloads []string
	Sizes     Sizes
	Quick     bool
	// PhaseTimeout bounds one tool's run of one workload, including the
	// wait for uploads to reach the server.
	PhaseTimeout time.Duration
	Seed         uint64
	// ScaleDirCacheTime is the directory cache time every tool gets in
	// the scale workload; 0 derives it from the tree (ScaleDirCacheTime).
	ScaleDirCacheTime time.Duration
}

// MinScaleFiles is the smallest tree the scale workload accepts: one big
// folder and at least one small one.
const MinScaleFiles = 100

// ScaleDirCacheTime is the directory cache time of the scale workload:
// long enough that the warm walk still finds every listing fresh after
// a cold walk of one request per folder (five times the folders' round
// trips; at 120,000 files and 20 ms that is 100 s), and at least 30 s,
// so davfs2's whole-second setting and the kernel's 1 s attribute cache
// are small against it.
func ScaleDirCacheTime(t Tree, latency time.Duration) time.Duration {
	d := 5 * time.Duration(t.Folders()+1) * latency
	d = max(d, 30*time.Second)
	return d.Round(time.Second)
}

// ParseList splits a comma separated selection and checks every item
// against known. "all" or "" selects everything; a leading "-" on an item
// removes it ("all,-davfs2").
func ParseList(s string, known []string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "all"
	}
	sel := map[string]bool{}
	for _, it := range strings.Split(s, ",") {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		neg := strings.HasPrefix(it, "-")
		it = strings.TrimPrefix(it, "-")
		if it == "all" {
			for _, k := range known {
				sel[k] = !neg
			}
			continue
		}
		found := false
		for _, k := range known {
			if k == it {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown %q (known: %s)", it, strings.Join(known, ", "))
		}
		sel[it] = !neg
	}
	var out []string
	for _, k := range known {
		if sel[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// ParseSize reads a byte count: "4096", "4KiB", "200MiB", "1GiB", "1G"
// (binary units; K/M/G are read as KiB/MiB/GiB).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	upper := strings.ToUpper(s)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(upper, u.suffix) {
			mult = u.m
			s = strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
