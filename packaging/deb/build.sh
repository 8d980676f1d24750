#!/usr/bin/env bash
# make deb: builds bin/odfb_VERSION_ARCH.deb with dpkg-deb from the
# static binary make deb built (bin/deb/odfb) and the man pages and completions make man
# wrote (odfb gendocs). Not a Debian source package: one binary package,
# laid out by hand, checked with lintian (packaging/deb/lintian-overrides
# lists what is overridden and why).
#
#   packaging/deb/build.sh VERSION   (VERSION as dpkg wants it, e.g. 0.3.1
#                                     or 0.0~git20261205.1ccd5c1)
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=${1:?usage: build.sh VERSION}
ARCH=$(dpkg --print-architecture)
HERE=packaging/deb
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
# Reproducible: every file dated at the last commit.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

for f in bin/deb/odfb bin/man/odfb.1 bin/man/mount.odfb.8 bin/man/odfb.bash-completion bin/man/_odfb; do
  [ -e "$f" ] || { echo "deb: $f is missing (make deb runs make build man first)" >&2; exit 1; }
done

d="$ROOT/pkg"
install -d -m 0755 "$d/DEBIAN" "$d/usr/bin" "$d/sbin" "$d/lib/systemd/system" \
  "$d/usr/share/man/man1" "$d/usr/share/man/man8" \
  "$d/usr/share/bash-completion/completions" "$d/usr/share/zsh/vendor-completions" \
  "$d/usr/share/doc/odfb/docs" "$d/usr/share/lintian/overrides"
install -m 0755 bin/deb/odfb "$d/usr/bin/odfb"
# mount(8) looks for helpers in /sbin (absolute: another top directory).
ln -s /usr/bin/odfb "$d/sbin/mount.odfb"
sed 's|/usr/local/bin/odfb|/usr/bin/odfb|g' contrib/odfb@.service > "$d/lib/systemd/system/odfb@.service"
chmod 0644 "$d/lib/systemd/system/odfb@.service"
gzip -9n < bin/man/odfb.1 > "$d/usr/share/man/man1/odfb.1.gz"
gzip -9n < bin/man/mount.odfb.8 > "$d/usr/share/man/man8/mount.odfb.8.gz"
install -m 0644 bin/man/odfb.bash-completion "$d/usr/share/bash-completion/completions/odfb"
install -m 0644 bin/man/_odfb "$d/usr/share/zsh/vendor-completions/_odfb"
install -m 0644 README.md "$d/usr/share/doc/odfb/README.md"
for f in docs/*.md; do
  install -m 0644 "$f" "$d/usr/share/doc/odfb/docs/"
done
install -m 0644 $HERE/copyright "$d/usr/share/doc/odfb/copyright"
{
  echo "odfb ($VERSION) unstable; urgency=medium"
  echo
  echo "  * Built from the odfb source at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
  echo " -- odfb developers <odfb@users.noreply.github.com>  $(date -R -u -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$d/usr/share/doc/odfb/changelog.gz"
install -m 0644 $HERE/lintian-overrides "$d/usr/share/lintian/overrides/odfb"

size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$size/" $HERE/control.in > "$d/DEBIAN/control"
(cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$d/DEBIAN/md5sums"
chmod 0644 "$d/DEBIAN/control" "$d/DEBIAN/md5sums"
find "$d" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

out="bin/odfb_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$d" "$out" >/dev/null
echo "$out"
