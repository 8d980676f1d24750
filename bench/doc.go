// Package bench is odfb's benchmark harness: it measures odfb mount against
// rclone mount, davfs2 and plain curl on the same spemu server in the same
// run, and reports times, ratios to odfb, request counts by method, bytes
// on the wire, peak memory and CPU time of each mount process.
//
// It owns the workloads (listing, stat, sequential and random reads, small
// and big writes, and "scale": walks of a generated library of 120,000
// files, cold, warm, after the directory cache expired with changes by
// another client, and after a remount), the drivers that mount and unmount each tool, the
// parsing of spemu's JSON request log and the Markdown report. The program
// that runs it is bench/cmd/odfbbench, started by `make bench`
// (scripts/bench.sh); docs/bench.md says how each peer is configured.
//
// Why a program and not `go test -bench`: the workloads drive other
// programs (spemu, three FUSE mounts, curl), need root and minutes of wall
// time, and produce one comparison table per workload rather than ns/op of
// one function. `go test ./...` (make test) must stay fast and mount
// nothing, so only the pure parts of this package — request-log parsing,
// tallies, ratios and table rendering, the scale tree's shape and the
// check of what a walk found — have unit tests and a Go benchmark.
//
// What it must not do: assert on timings (the report only prints numbers),
// import odfb's client packages (it drives the built binaries, as a user
// would), leave a mount or a process behind, or put a secret on a command
// line or in the report. It talks to loopback addresses only.
package bench
