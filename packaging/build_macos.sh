#!/usr/bin/env bash
# Builds the macOS app and disk image (not run by the developers: no Mac here).
#   dist/ViViT Desktop.app                     the app bundle (build.spec's BUNDLE step)
#   dist/vivit-desktop-VERSION-macos-ARCH.dmg  a disk image with the app and a link to /Applications
# Needs Python 3.10+ with the program's dependencies (pip install torch==2.13.0 -e '.[build]' pillow;
# Pillow turns the PNG icon into .icns). Sign and notarise the app before giving it to others:
# codesign --deep --options runtime -s "Developer ID Application: ..." then xcrun notarytool.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m PyInstaller --version >/dev/null 2>&1 || "$PY" -m pip install -q "pyinstaller>=6.5" pillow
VERSION=$("$PY" -c 'import vivit_desktop; print(vivit_desktop.__version__)')
"$PY" -m PyInstaller build.spec --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller
app="dist/ViViT Desktop.app"
# the frozen program proves itself before it is packed
"$app/Contents/MacOS/vivit-desktop" --self-test resources/sample.mp4
stage=build/dmg && rm -rf "$stage" && mkdir -p "$stage"
cp -R "$app" "$stage/" && ln -s /Applications "$stage/Applications"
hdiutil create -volname "ViViT Desktop" -srcfolder "$stage" -ov -format UDZO "dist/vivit-desktop-$VERSION-macos-$(uname -m).dmg"
