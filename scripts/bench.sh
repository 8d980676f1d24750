#!/bin/sh
# make bench: odfb against rclone mount, davfs2 and curl on one spemu,
# in one run (docs/bench.md). `make bench` builds bin/odfb and bin/spemu
# first; this script builds the harness, checks the peers, runs it and
# makes sure nothing it mounted or started outlives it.
#
# Environment (all optional):
#   BENCH_QUICK=1          small sizes, a smoke run of about a minute
#   BENCH_TOOLS=odfb,curl  tools (odfb,rclone,rclone-full,davfs2,curl; all; -name)
#   BENCH_WORKLOADS=ls,…   workloads (ls,stat,seqread,randread,smallwrite,bigwrite,scale)
#   BENCH_SCALE=120000     files in the scale workload's library (default 120000, quick 5000)
#   BENCH_LATENCY=20ms     spemu --latency per request
#   BENCH_BANDWIDTH=0      spemu --bandwidth (bytes/s, 0 = unlimited)
#   BENCH_PUT_LIMIT=none   spemu --put-limit: none, default (250 MiB, SharePoint's) or a size
#   BENCH_SERVER_ARGS=…    extra spemu flags
#   BENCH_FLAGS=…          extra odfbbench flags (see bin/odfbbench -h)
#   BENCH_KEEP=1           keep the scratch directory (logs, request log)
#   BENCH_BIN=bin          where odfb and spemu are (default: bin, as make build leaves them)
#   ODFB_BENCH_INSTALL=1   as root: apt-get install missing peers
# Arguments are passed to odfbbench as flags.
set -eu
cd "$(dirname "$0")/.."

GO=${GO:-go}
PATH=$PATH:/usr/sbin:/sbin

# Peers: missing ones are skipped (the run benchmarks what it can).
missing=""
command -v rclone >/dev/null 2>&1 || missing="$missing rclone"
command -v mount.davfs >/dev/null 2>&1 || missing="$missing davfs2"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v fusermount3 >/dev/null 2>&1 || command -v fusermount >/dev/null 2>&1 || missing="$missing fuse3"
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && [ "${ODFB_BENCH_INSTALL:-0}" = 1 ]; then
		echo "bench: installing$missing"
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
	else
		echo "bench: not installed:$missing — those tools are skipped."
		echo "bench: to include them: apt-get install -y$missing  (or run as root with ODFB_BENCH_INSTALL=1)"
	fi
fi
if [ "$(id -u)" != 0 ]; then
	echo "bench: not root: davfs2 is skipped and FUSE mounts need fusermount (run as root for the full comparison)"
fi

mkdir -p bin
$GO build -o bin/odfbbench ./bench/cmd/odfbbench

work=$(mktemp -d "${TMPDIR:-/tmp}/odfb-bench.XXXXXX")
chmod 0755 "$work" # davfs2's daemon drops to its own user and needs to reach its cache dir

cleanup() {
	status=$?
	trap - EXIT INT TERM
	# The harness unmounts and stops what it started; this is the safety
	# net if it was killed: lazy-unmount whatever is still mounted under
	# our scratch dir, end the processes it recorded (by pid, only if
	# still alive), then remove the scratch dir.
	if [ -d "$work" ]; then
		awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
			m=$(printf '%b' "$(echo "$m" | sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g')")
			echo "bench: cleaning up leftover mount $m"
			umount -l "$m" 2>/dev/null || fusermount -uz "$m" 2>/dev/null || true
		done
		if [ -f "$work/pids" ]; then
			while read -r pid name; do
				if kill -0 "$pid" 2>/dev/null; then
					echo "bench: stopping leftover $name (pid $pid)"
					kill "$pid" 2>/dev/null || true
				fi
			done <"$work/pids"
		fi
		if awk -v w="$work/" 'index($5, w) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
			# Never rm -rf through a live mount: it would delete on the server.
			echo "bench: something is still mounted under $work; left in place" >&2
		elif [ "${BENCH_KEEP:-0}" = 1 ]; then
			echo "bench: scratch directory kept: $work"
		else
			rm -rf "$work"
		fi
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
bin/odfbbench -bin "${BENCH_BIN:-bin}" -workdir "$work" -out bench-results ${BENCH_FLAGS:-} "$@"
