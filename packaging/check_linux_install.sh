#!/usr/bin/env bash
# Builds the Linux bundle and installers, installs the .deb into a temporary root (dpkg --root:
# a real dpkg install and removal, outside the system's own package database), runs the
# installed program's self-test with no display and an empty home, removes the package and
# checks nothing of it is left; then does the same self-test from the unpacked .tar.gz.
#
# Usage: packaging/check_linux_install.sh [VIDEO]     (default ../shared/media/carphone.mp4)
#        NO_BUILD=1 packaging/check_linux_install.sh   checks the installers already in dist/
set -euo pipefail
cd "$(dirname "$0")/.."
VIDEO=$(realpath "${1:-../shared/media/carphone.mp4}")
APP=vivit-desktop
SECONDS=0
[ "${NO_BUILD:-}" = 1 ] || packaging/build_linux.sh
build_s=$SECONDS
deb=$(ls -t dist/${APP}_*.deb | head -1)
tarball=$(ls -t dist/${APP}-*-linux-*.tar.gz | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$work/home"
touch "$root/var/lib/dpkg/status"
# the temporary root has none of the system libraries the package depends on: the installed
# program uses the host's, as it would on a machine that had them
dpkg --root="$root" --force-depends --force-not-root -i "$deb" >"$work/dpkg.log" 2>&1 ||
  { cat "$work/dpkg.log"; echo "FAIL: dpkg -i $deb"; exit 1; }
echo "installed $deb into $root: $(dpkg --root="$root" -L $APP | wc -l) paths"
launcher="$root/usr/bin/$APP"
target=$(readlink "$launcher")
[ "$target" = "/opt/$APP/$APP" ] && [ -x "$root$target" ] || { echo "FAIL: $launcher -> $target"; exit 1; }
[ -f "$root/usr/share/applications/$APP.desktop" ] || { echo "FAIL: no menu entry"; exit 1; }

clean_env=(env -i PATH=/usr/bin:/bin HOME="$work/home" LANG=C.UTF-8)  # no DISPLAY, no user settings
echo "== the installed program's self-test"
SECONDS=0
"${clean_env[@]}" "$root$target" --self-test "$VIDEO"
selftest_s=$SECONDS

dpkg --root="$root" -r $APP >/dev/null
left=$(find "$root" -path "$root/var/lib/dpkg" -prune -o \( -type f -o -type l \) -print | head)
[ -z "$left" ] && [ ! -e "$root/opt/$APP" ] || { echo "FAIL: removal left: $left"; exit 1; }
echo "removed: nothing of $APP is left in $root"

echo "== the unpacked .tar.gz's self-test"
mkdir "$work/tar" && tar -C "$work/tar" -xzf "$tarball"
"${clean_env[@]}" "$work/tar/$APP/$APP" --self-test "$VIDEO" | tail -1

echo "build ${build_s}s, installed self-test ${selftest_s}s"
du -sh "dist/$APP" "$tarball" "$deb"
