#!/usr/bin/env bash
# Screenshots of the window as a user sees it: a real X server (Xvfb) with a window manager
# (openbox), the window playing a real clip with the default model, the heatmap turned on with its
# key (H) through xdotool, and the whole screen taken with ImageMagick's `import -window root`.
#   scripts/screenshots.sh [VIDEO] [SECONDS]   (default: ../shared/media/arm_wrestling.mp4, 6 s in)
#   SIZES="800x600 1280x720 1920x1080" NAME=window PROGRAM=/opt/vivit-desktop/vivit-desktop scripts/screenshots.sh
# Writes docs/NAME-WxH.png. Needs: apt-get install xvfb openbox xdotool imagemagick, and Qt's xcb
# libraries (libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 …; a frozen build
# carries its own).
set -euo pipefail
cd "$(dirname "$0")/.."
video=${1:-../shared/media/arm_wrestling.mp4}
after=${2:-6}
py=${PYTHON:-python3}
[ -x .venv/bin/python ] && py=.venv/bin/python
if [ -n "${PROGRAM:-}" ]; then program=("$PROGRAM"); else program=("$py" -m vivit_desktop); fi
display=:$((90 + RANDOM % 100))
for size in ${SIZES:-800x600 1280x720 1920x1080}; do
  w=${size%x*}; h=${size#*x}
  out="docs/${NAME:-window}-$size.png"
  Xvfb "$display" -screen 0 "${w}x${h}x24" >/dev/null 2>&1 & xvfb=$!
  sleep 1
  DISPLAY=$display openbox >/dev/null 2>&1 & wm=$!
  sleep 1
  # a fresh settings folder and cache: the model runs, as on a first start
  DISPLAY=$display QT_QPA_PLATFORM=xcb XDG_CONFIG_HOME=$(mktemp -d) VIVIT_DESKTOP_CACHE=$(mktemp -d) \
    "${program[@]}" "$video" --size "${w}x$((h - 30))" 2> "/tmp/vivit-screenshot-$size.log" & app=$!
  sleep "$after"
  window=$(DISPLAY=$display xdotool search --name "ViViT Desktop" | head -1)
  DISPLAY=$display xdotool windowactivate "$window" 2>/dev/null || true  # (--sync can wait for seconds)
  sleep 0.3
  DISPLAY=$display xdotool key h
  sleep 1.5
  DISPLAY=$display import -window root "$out"
  kill "$app" 2>/dev/null || true
  sleep 1
  kill "$wm" "$xvfb" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "$out (stderr in /tmp/vivit-screenshot-$size.log)"
done
