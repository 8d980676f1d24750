#!/usr/bin/env bash
# CI check of the Debian package (.ci/run calls it after make deb): lintian
# finds nothing (overrides in packaging/deb/lintian-overrides, each with
# its reason), `apt install ./odfb_….deb` installs it with its
# dependencies, its files are where Debian looks for them, and an fstab
# line of each type (odfb: /sbin/mount.odfb; fuse.odfb: mount.fuse3 runs
# /usr/bin/odfb) mounts a library served by spemu: a file reads, a file
# written through the mount is on the server once umount returned. The
# package is purged at the end, the fstab lines removed. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=$(dpkg --print-architecture)
deb=$(ls -t bin/odfb_*_"$arch".deb | head -1)
fail() { echo "deb check: $*" >&2; exit 1; }

lintian --fail-on error,warning "$deb" || fail "lintian found problems in $deb"
apt-get install -y -qq "./$deb" >/dev/null || fail "apt install ./$deb failed"
work=$(mktemp -d)
spemu_pid=
cleanup() {
  for m in "$work"/mnt-*; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
  [ -n "$spemu_pid" ] && kill "$spemu_pid" 2>/dev/null
  sed -i "\\|$work|d" /etc/fstab
  apt-get purge -y -qq odfb >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

for f in /usr/bin/odfb /lib/systemd/system/odfb@.service /usr/share/man/man1/odfb.1.gz \
  /usr/share/man/man8/mount.odfb.8.gz /usr/share/bash-completion/completions/odfb \
  /usr/share/zsh/vendor-completions/_odfb /usr/share/doc/odfb/copyright /usr/share/doc/odfb/docs/mount.md; do
  [ -e "$f" ] || fail "$f is not installed"
done
[ "$(readlink -f /sbin/mount.odfb)" = "$(readlink -f /usr/bin/odfb)" ] || fail "/sbin/mount.odfb does not lead to /usr/bin/odfb"
grep -q '^ExecStart=/usr/bin/odfb ' /lib/systemd/system/odfb@.service || fail "the unit does not run /usr/bin/odfb"
odfb version | grep -q '^odfb ' || fail "odfb version"

mkdir -p "$work/lib"
echo hello > "$work/lib/hello.txt"
bin/spemu --listen 127.0.0.1:0 --root "$work/lib" --write-cookie-file "$work/cookie" --log-level warn > "$work/url" &
spemu_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && [ -s "$work/cookie" ] && break; sleep 0.1; done
url=$(head -1 "$work/url")
[ -n "$url" ] || fail "spemu did not start"
for type in odfb fuse.odfb; do
  mnt="$work/mnt-$type"
  mkdir -p "$mnt"
  echo "$url $mnt $type cookie_file=$work/cookie,cache_dir=$work/cache-$type,write_back=1h,noauto,_netdev 0 0" >> /etc/fstab
  mount "$mnt" || fail "mount $mnt (type $type) from /etc/fstab failed"
  [ "$(cat "$mnt/hello.txt")" = hello ] || fail "type $type: reading hello.txt"
  grep -q " $mnt fuse.odfb " /proc/mounts || fail "type $type: not in /proc/mounts as fuse.odfb"
  echo "written through $type" > "$mnt/from-$type.txt"
  umount "$mnt" || fail "umount $mnt"
  # write_back=1h: only the drain at unmount sends it; umount returns
  # before the daemon has finished draining, so give it a moment.
  for _ in $(seq 300); do [ -s "$work/lib/from-$type.txt" ] && break; sleep 0.1; done
  [ "$(cat "$work/lib/from-$type.txt" 2>/dev/null)" = "written through $type" ] || fail "type $type: the file written is not on the server"
done
echo "deb check: $deb passes lintian, installs with apt and mounts from fstab (odfb and fuse.odfb)"
