#!/usr/bin/env bash
# Builds the Linux bundle and its installers from this checkout:
#
#   dist/vivit-desktop/                               the one-folder bundle (run dist/vivit-desktop/vivit-desktop)
#   dist/vivit-desktop-VERSION-linux-MACHINE.tar.gz   the bundle, to unpack anywhere
#   dist/vivit-desktop_VERSION_ARCH.deb               installs to /opt/vivit-desktop, with a menu entry,
#                                                     the icon and /usr/bin/vivit-desktop
#   dist/vivit-desktop-VERSION-MACHINE.AppImage       only when `appimagetool` is on PATH (it is
#                                                     not on PyPI, Debian or npm, see the README)
#
# Usage: packaging/build_linux.sh            (PYTHON=/path/to/python picks the interpreter whose
#        packages are bundled; default python3. It needs the program's dependencies installed,
#        e.g. `pip install torch==2.13.0 -e '.[build]'`; PyInstaller is installed if missing.)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
APP=vivit-desktop

"$PY" -m PyInstaller --version >/dev/null 2>&1 || "$PY" -m pip install -q "pyinstaller>=6.5"
VERSION=$("$PY" -c 'import vivit_desktop; print(vivit_desktop.__version__)')
MACHINE=$(uname -m)
ARCH=$(dpkg --print-architecture 2>/dev/null || echo "$MACHINE")

echo "== PyInstaller: dist/$APP/"
PYTHONWARNINGS=ignore::DeprecationWarning "$PY" -m PyInstaller build.spec --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller
# Debug symbols of the two largest libraries: 89 MB of libtorch_cpu.so and 17 MB of libpython.
# (Not every library: stripping ones that auditwheel patched can break them.)
strip --strip-unneeded "dist/$APP/_internal/torch/lib/libtorch_cpu.so" "dist/$APP/_internal/"libpython3*.so*

echo "== dist/$APP-$VERSION-linux-$MACHINE.tar.gz"
tar -C dist -czf "dist/$APP-$VERSION-linux-$MACHINE.tar.gz.part" "$APP"
mv "dist/$APP-$VERSION-linux-$MACHINE.tar.gz.part" "dist/$APP-$VERSION-linux-$MACHINE.tar.gz"

echo "== dist/${APP}_${VERSION}_${ARCH}.deb"
stage="build/deb/${APP}_${VERSION}_${ARCH}"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
         "$stage/usr/share/icons/hicolor/256x256/apps"
cp -a "dist/$APP" "$stage/opt/$APP"
ln -s "/opt/$APP/$APP" "$stage/usr/bin/$APP"
install -m 0644 packaging/linux/$APP.desktop "$stage/usr/share/applications/$APP.desktop"
install -m 0644 resources/icon.png "$stage/usr/share/icons/hicolor/256x256/apps/$APP.png"
# The system libraries the bundle links to but does not carry (PyInstaller leaves out libc, the
# X11/xcb, OpenGL and font libraries, which must match the machine), as Debian packages.
depends=$("$PY" packaging/linux/deb_depends.py "$stage/opt/$APP")
cat > "$stage/DEBIAN/control" <<EOF
Package: $APP
Version: $VERSION
Architecture: $ARCH
Maintainer: ViViT Desktop developers <vivit-desktop@users.noreply.github.com>
Installed-Size: $(du -sk "$stage" | cut -f1)
Depends: $depends
Section: video
Priority: optional
Homepage: https://github.com/vivit-desktop/vivit-desktop
Description: watch what a video transformer sees
 ViViT Desktop opens a video file, a webcam or a network stream, runs a
 sliding-window ViViT classifier (Arnab et al., ICCV 2021) on the CPU or GPU and
 shows its predictions and temporal attention beside the playback. It ships
 small camera-motion models and imports your own checkpoints.
 .
 Check an installation without a screen: vivit-desktop --self-test VIDEO
EOF
dpkg-deb --root-owner-group -Zgzip --build "$stage" "dist/${APP}_${VERSION}_${ARCH}.deb" >/dev/null

if command -v appimagetool >/dev/null; then
  echo "== dist/$APP-$VERSION-$MACHINE.AppImage"
  appdir="build/$APP.AppDir"
  rm -rf "$appdir" && mkdir -p "$appdir/usr"
  cp -a "dist/$APP" "$appdir/usr/$APP"
  install -m 0644 packaging/linux/$APP.desktop resources/icon.png "$appdir/"
  mv "$appdir/icon.png" "$appdir/$APP.png"
  printf '#!/bin/sh\nexec "$(dirname "$(readlink -f "$0")")/usr/%s/%s" "$@"\n' "$APP" "$APP" > "$appdir/AppRun"
  chmod 0755 "$appdir/AppRun"
  ARCH=$MACHINE appimagetool --no-appstream "$appdir" "dist/$APP-$VERSION-$MACHINE.AppImage"
else
  echo "(no appimagetool on PATH: AppImage skipped)"
fi
du -sh "dist/$APP" dist/*.tar.gz dist/*.deb
