#!/usr/bin/env bash
# Screenshots of the window under Xvfb at 1280x720 and 1920x1080, playing a real clip with the
# default model's predictions and plots: docs/window-1280x720.png and docs/window-1920x1080.png.
#   scripts/screenshots.sh [VIDEO] [SECONDS]     (default: ../shared/media/bikes.mp4, 10 s in)
# Needs xvfb-run (apt-get install xvfb) and Qt's xcb libraries (libxcb-cursor0 libxcb-icccm4
# libxcb-keysyms1 libxkbcommon-x11-0 ...).
set -euo pipefail
cd "$(dirname "$0")/.."
video=${1:-../shared/media/bikes.mp4}
after=${2:-10}
py=${PYTHON:-python3}
[ -x .venv/bin/python ] && py=.venv/bin/python
export VIVIT_DESKTOP_CACHE=$(mktemp -d)  # the model runs: no cached results
for size in 1280x720 1920x1080; do
  w=${size%x*}; h=${size#*x}
  XDG_CONFIG_HOME=$(mktemp -d) xvfb-run -a -s "-screen 0 ${w}x${h}x24" \
    "$py" -m vivit_desktop "$video" --size "$size" --screenshot "docs/window-$size.png" --screenshot-after "$after"
  echo "docs/window-$size.png"
done
