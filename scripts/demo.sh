#!/usr/bin/env bash
# make demo: serve two small sample libraries with spemu on loopback (a
# personal "Documents" and a team site's "Team Files", each its own
# server) and mount both with odfb, read-write, as two folders of one
# mount. Usage: scripts/demo.sh [MOUNTPOINT]   (default ./mnt)
# Ctrl-C unmounts (odfb first uploads what is queued, for up to 10 s) and
# then stops the emulator; no mount and no process is left behind.
# Everything lives in ./.demo.
set -euo pipefail
cd "$(dirname "$0")/.."

MNT=${1:-./mnt}
DEMO=./.demo
LIB=$DEMO/library
TEAM=$DEMO/team
ODFB=bin/odfb
SPEMU=bin/spemu

for b in "$ODFB" "$SPEMU"; do
  [ -x "$b" ] || { echo "demo: $b is missing; run 'make demo' (it builds first)" >&2; exit 1; }
done
if [ ! -e /dev/fuse ]; then
  echo "demo: /dev/fuse is missing (load the fuse module, or run in a container with --device /dev/fuse)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  if ! command -v fusermount3 >/dev/null; then
    echo "demo: as a non-root user odfb needs fusermount3 (Debian: apt install fuse3)" >&2
    exit 1
  fi
  if [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
    echo "demo: /dev/fuse is not readable and writable by $(id -un) ($(ls -l /dev/fuse)); run as root or fix its mode (usually 0666)" >&2
    exit 1
  fi
fi
# The mountpoint's absolute path, as /proc/self/mountinfo shows it (the
# parent resolved, so that a dead mount at $MNT does not stop us here).
ABS_MNT="$(cd "$(dirname -- "$MNT")" && pwd -P)/$(basename -- "$MNT")"
# mounted: is $ABS_MNT a mountpoint (also a dead one, which stat cannot see)?
mounted() {
  M="${ABS_MNT// /\\040}" awk '$5 == ENVIRON["M"] { found = 1 } END { exit !found }' /proc/self/mountinfo
}
if mounted; then
  echo "demo: $MNT is already mounted; unmount it first (umount $MNT, or fusermount3 -uz $MNT if an earlier odfb was killed)" >&2
  exit 1
fi

mkdir -p "$DEMO" "$MNT"
chmod 700 "$DEMO"

# --- the sample library (server names, as SharePoint stores them) ---------
if [ ! -e "$LIB/.sample-done" ]; then
  mkdir -p "$LIB/Projects/2025 Plans" "$LIB/Pictures" "$LIB/Big files" "$LIB/Ünïcödé & spaces"
  cat > "$LIB/README.txt" <<'TXT'
Hello from the odfb demo.
This folder is a SharePoint document library served by spemu, the
SharePoint Online emulator, and mounted by odfb.
TXT
  printf 'Plans for 2025\n- ship odfb\n' > "$LIB/Projects/2025 Plans/plan #1 (100%).md"
  # "Q1: results?.txt" as SharePoint stores it: ':' and '?' are forbidden
  # there, so they are full-width look-alikes; odfb shows them as ASCII.
  printf 'revenue: up\n' > "$LIB/Projects/Q1：results？.txt"
  printf 'ça marche\n' > "$LIB/Ünïcödé & spaces/café.txt"
  base64 -d > "$LIB/Pictures/gradient.png" <<'PNG'
iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAIAAAD8GO2jAAAGy0lEQVR42hXVkb/GIBTG8ReHYTgMw+EwHIbDMBwOh8Pwh+FwOAyHYRiG4d3tD+jb53TOc36/H8MP8UP+GH+oH/rH9GP+YX4sP+yP9Yf74X9sP/Yfx4/zR/jBj/jj+nH/eH6kH++P/KP8qD/aj/7j9xsYBsSAHBgH1IAemAbmATOwDNiBdcAN+IFtYB84Bs6BMMBAHLgG7oFnIA28A3mgDNSBNtCHDxAMAiGQglGgBFowCWaBESwCK1gFTuAFm2AXHIJTEAQIouAS3IJHkASvIAuKoAqaoIsPkAwSIZGSUaIkWjJJZomRLBIrWSVO4iWbZJccklMSJEii5JLckkeSJK8kS4qkSpqkyw8YGUbEiBwZR9SIHplG5hEzsozYkXXEjfiRbWQfOUbOkTDCSBy5Ru6RZySNvCN5pIzUkTbSxw9QDAqhkIpRoRRaMSlmhVEsCqtYFU7hFZtiVxyKUxEUKKLiUtyKR5EUryIriqIqmqKrD9AMGqGRmlGjNFozaWaN0Swaq1k1TuM1m2bXHJpTEzRooubS3JpHkzSvJmuKpmqapusPmBgmxIScGCfUhJ6YJuYJM7FM2Il1wk34iW1inzgmzokwwUScuCbuiWciTbwTeaJM1Ik20acPmBlmxIycGWfUjJ6ZZuYZM7PM2Jl1xs34mW1mnzlmzpkww0ycuWbumWcmzbwzeabM1Jk20+cPMAwGYZCG0aAM2jAZZoMxLAZrWA3O4A2bYTcchtMQDBii4TLchseQDK8hG4qhGpqhmw9YGBbEglwYF9SCXpgW5gWzsCzYhXXBLfiFbWFfOBbOhbDAQly4Fu6FZyEtvAt5oSzUhbbQlw+wDBZhkZbRoizaMllmi7EsFmtZLc7iLZtltxyW0xIsWKLlstyWx5IsryVbiqVamqXbD1gZVsSKXBlX1IpemVbmFbOyrNiVdcWt+JVtZV85Vs6VsMJKXLlW7pVnJa28K3mlrNSVttLXD3AMDuGQjtGhHNoxOWaHcSwO61gdzuEdm2N3HI7TERw4ouNy3I7HkRyvIzuKozqao7sP8Awe4ZGe0aM82jN5Zo/xLB7rWT3O4z2bZ/ccntMTPHii5/LcnseTPK8ne4qnepqn+w/YGDbEhtwYN9SG3pg25g2zsWzYjXXDbfiNbWPfODbOjbDBRty4Nu6NZyNtvBt5o2zUjbbRtw/YGXbEjtwZd9SO3pl25h2zs+zYnXXH7fidbWffOXbOnbDDTty5du6dZyftvDt5p+zUnbbT9w84GA7EgTwYD9SBPpgO5gNzsBzYg/XAHfiD7WA/OA7Og3DAQTy4Du6D5yAdvAf5oBzUg3bQjw84GU7EiTwZT9SJPplO5hNzspzYk/XEnfiT7WQ/OU7Ok3DCSTy5Tu6T5ySdvCf5pJzUk3bSzw8IDAERkIExoAI6MAXmgAksARtYAy7gA1tgDxyBMxACBGLgCtyBJ5ACbyAHSqAGWqCHD/hffN9q+pbHF+9fAH8R+YXYFzNfEHyj+g3T1+5fQ34t833qV/avMN/Tv8v/T4QLbnggwQsZClRo0L+1/YsMERGRkTGiIjoyReaIiSwRG1kjLuIjW2SPHJEzEuL/9TFyRe7IE0mRN5IjJVIjLdLjB1wMF+JCXowX6kJfTBfzhblYLuzFeuEu/MV2sV8cF+dFuP4fHy+ui/viuUgX70W+KBf1ol306wNuhhtxI2/GG3Wjb6ab+cbcLDf2Zr1xN/5mu9lvjpvzJtz/pYk3181989ykm/cm35SbetNu+v0BD8ODeJAP44N60A/Tw/xgHpYH+7A+uAf/sD3sD8fD+RCe/8LHh+vhfnge0sP7kB/KQ31oD/35gMSQEAmZGBMqoRNTYk6YxJKwiTXhEj6xJfbEkTgTIf1/a0xciTvxJFLiTeRESdRES/T0AS/Di3iRL+OLetEv08v8Yl6WF/uyvrgX/7K97C/Hy/kS3v+miS/Xy/3yvKSX9yW/lJf60l76+wGZISMyMjNmVEZnpsycMZklYzNrxmV8ZsvsmSNzZkL+b8mYuTJ35smkzJvJmZKpmZbp+QMKQ0EUZGEsqIIuTIW5YApLwRbWgiv4wlbYC0fhLITy3/CxcBXuwlNIhbeQC6VQC63QywdUhoqoyMpYURVdmSpzxVSWiq2sFVfxla2yV47KWQn1f5xi5arclaeSKm8lV0qlVlql1w9oDA3RkI2xoRq6MTXmhmksDdtYG67hG1tjbxyNsxHa/7DGxtW4G08jNd5GbpRGbbRGbx/QGTqiIztjR3V0Z+rMHdNZOrazdlzHd7bO3jk6Zyf0/yiInatzd55O6ryd3Cmd2mmd3vkD4XNgWyf/NBMAAAAASUVORK5CYII=
PNG
  # 50 MiB of data that is not all zeros (so sha256sum proves the bytes).
  head -c $((50 * 1024 * 1024)) /dev/urandom > "$LIB/Big files/fifty-MiB.bin"
  touch "$LIB/.sample-done"
fi
if [ ! -e "$TEAM/.sample-done" ]; then
  mkdir -p "$TEAM/Minutes"
  printf 'Team library of the odfb demo: a second library in the same mount.\n' > "$TEAM/About this library.txt"
  printf '2025-01-10: agreed to try odfb\n' > "$TEAM/Minutes/2025-01-10.md"
  touch "$TEAM/.sample-done"
fi

# --- start the emulator ----------------------------------------------------
# spemu runs in its own session: a Ctrl-C in the terminal goes to the whole
# foreground process group, and spemu must outlive odfb, which still
# uploads what is queued when it is told to stop. cleanup stops odfb
# first, then spemu.
DRAIN=10s
cleanup() {
  trap - INT TERM EXIT
  echo
  if [ -n "${ODFB_PID:-}" ] && kill -0 "$ODFB_PID" 2>/dev/null; then
    echo "demo: unmounting $MNT (odfb uploads what is queued first, for up to $DRAIN)…"
    kill -TERM "$ODFB_PID" 2>/dev/null || true
    # --drain-timeout plus time to unmount and close.
    for _ in $(seq 100); do kill -0 "$ODFB_PID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$ODFB_PID" 2>/dev/null; then
      echo "demo: odfb did not exit; killing it (what it had queued resumes at the next make demo)" >&2
      kill -KILL "$ODFB_PID" 2>/dev/null || true
    fi
  fi
  if [ -n "${ODFB_PID:-}" ]; then
    local code=${ODFB_CODE:-}
    if [ -z "$code" ]; then
      code=0
      wait "$ODFB_PID" 2>/dev/null || code=$?
    fi
    case $code in
      0|130|143) ;;
      7) echo "demo: odfb exited with uploads pending; they resume at the next make demo (see $DEMO/odfb.log)" >&2 ;;
      *) echo "demo: odfb exited with status $code (see $DEMO/odfb.log)" >&2 ;;
    esac
  fi
  if mounted; then
    umount "$ABS_MNT" 2>/dev/null || fusermount3 -u "$ABS_MNT" 2>/dev/null ||
      umount -l "$ABS_MNT" 2>/dev/null || fusermount3 -uz "$ABS_MNT" 2>/dev/null || true
  fi
  for pid in ${SPEMU_PID:-} ${SPEMU2_PID:-}; do
    kill -0 "$pid" 2>/dev/null || continue
    echo "demo: stopping spemu ($pid)…"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if mounted; then
    echo "demo: $MNT is still mounted; run: umount -l $ABS_MNT" >&2
  else
    echo "demo: done (logs in $DEMO/*.log)"
  fi
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

rm -f "$DEMO/cookie" "$DEMO/spemu.url"
setsid "$SPEMU" --listen 127.0.0.1:0 --root "$LIB" --auth cookie \
  --write-cookie-file "$DEMO/cookie" --request-log "$DEMO/requests.log" \
  > "$DEMO/spemu.url" 2> "$DEMO/spemu.log" < /dev/null &
SPEMU_PID=$!
for _ in $(seq 100); do
  [ -s "$DEMO/spemu.url" ] && [ -s "$DEMO/cookie" ] && break
  kill -0 "$SPEMU_PID" 2>/dev/null || { echo "demo: spemu exited; see $DEMO/spemu.log" >&2; cat "$DEMO/spemu.log" >&2; exit 1; }
  sleep 0.1
done
URL=$(head -n 1 "$DEMO/spemu.url")
[ -n "$URL" ] || { echo "demo: spemu printed no URL; see $DEMO/spemu.log" >&2; exit 1; }
chmod 600 "$DEMO/cookie"
# The team library: a second server (another "host" to odfb), open
# without sign-in so the demo needs no second cookie.
rm -f "$DEMO/spemu2.url"
setsid "$SPEMU" --listen 127.0.0.1:0 --root "$TEAM" --auth none --site /sites/team --library "Team Files" \
  > "$DEMO/spemu2.url" 2> "$DEMO/spemu2.log" < /dev/null &
SPEMU2_PID=$!
for _ in $(seq 100); do
  [ -s "$DEMO/spemu2.url" ] && break
  kill -0 "$SPEMU2_PID" 2>/dev/null || { echo "demo: the second spemu exited; see $DEMO/spemu2.log" >&2; exit 1; }
  sleep 0.1
done
URL2=$(head -n 1 "$DEMO/spemu2.url")

# --- mount -------------------------------------------------------------------
: > "$DEMO/odfb.log"
"$ODFB" mount --cookie-file "$DEMO/cookie" --cache-dir "$DEMO/cache" \
  --dir-cache-time 10s --drain-timeout "$DRAIN" "$URL" "$URL2" "$MNT" 2> "$DEMO/odfb.log" &
ODFB_PID=$!
for _ in $(seq 150); do
  grep -q "mounted " "$DEMO/odfb.log" && break
  kill -0 "$ODFB_PID" 2>/dev/null || { echo "demo: odfb mount failed:" >&2; cat "$DEMO/odfb.log" >&2; exit 1; }
  sleep 0.1
done
grep -q "mounted " "$DEMO/odfb.log" || { echo "demo: odfb did not mount in 15s:" >&2; cat "$DEMO/odfb.log" >&2; exit 1; }

BIN=$(pwd -P)/bin
ABS_LIB=$(cd "$LIB" && pwd -P)
ABS_TEAM=$(cd "$TEAM" && pwd -P)
cat <<MSG

  odfb demo: two libraries, $URL
  and $URL2,
  are mounted read-write at $ABS_MNT, as the folders Documents and Team Files.

  Try, in another terminal — reading:
    ls -l $ABS_MNT $ABS_MNT/*
    cat "$ABS_MNT/Documents/README.txt" "$ABS_MNT/Team Files/About this library.txt"
    ls -l "$ABS_MNT/Documents/Projects"   # 'Q1:results?.txt' is 'Q1：results？.txt' on the server
    sha256sum "$ABS_MNT/Documents/Big files/fifty-MiB.bin" "$ABS_LIB/Big files/fifty-MiB.bin"
    df -h $ABS_MNT; stat "$ABS_MNT/Documents/Pictures/gradient.png"
  … and writing:
    cp /etc/os-release "$ABS_MNT/Documents/Projects/" "$ABS_MNT/Team Files/"
    $BIN/odfb status $ABS_MNT        # the upload queues (uploads start 2 s after the last close)
    $BIN/odfb sync $ABS_MNT          # waits until everything is on both servers
    ls -l "$ABS_LIB/Projects" "$ABS_TEAM"   # spemu's files on disk: os-release arrived
  More:
    $BIN/odfb mount --help           # every option
    tail -f $(pwd -P)/.demo/requests.log   # what odfb asks the first server (spemu's request log)

  Ctrl-C here unmounts (after uploading what is queued, for up to $DRAIN)
  and stops the emulators.
MSG

ODFB_CODE=0
wait "$ODFB_PID" || ODFB_CODE=$?
