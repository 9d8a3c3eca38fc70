#!/usr/bin/env bash
# Screenshots of the window under Xvfb at 1280x720 and 1920x1080, playing a real clip with the
# default model's predictions and plots: docs/window-1280x720.png and docs/window-1920x1080.png.
#   scripts/screenshots.sh [VIDEO] [SECONDS]     (default: ../shared/media/bikes.mp4, 10 s in)
#   PROGRAM=/opt/vivit-desktop/vivit-desktop NAME=frozen-window SIZES=1280x720 scripts/screenshots.sh
#                                                (an installed or frozen build instead of the source)
# Needs xvfb-run (apt-get install xvfb) and Qt's xcb libraries (libxcb-cursor0 libxcb-icccm4
# libxcb-keysyms1 libxkbcommon-x11-0 ...; a frozen build carries its own).
set -euo pipefail
cd "$(dirname "$0")/.."
video=${1:-../shared/media/bikes.mp4}
after=${2:-10}
py=${PYTHON:-python3}
[ -x .venv/bin/python ] && py=.venv/bin/python
if [ -n "${PROGRAM:-}" ]; then program=("$PROGRAM"); else program=("$py" -m vivit_desktop); fi
export VIVIT_DESKTOP_CACHE=$(mktemp -d)  # the model runs: no cached results
for size in ${SIZES:-1280x720 1920x1080}; do
  w=${size%x*}; h=${size#*x}
  out="docs/${NAME:-window}-$size.png"
  XDG_CONFIG_HOME=$(mktemp -d) xvfb-run -a -s "-screen 0 ${w}x${h}x24" \
    "${program[@]}" "$video" --size "$size" --screenshot "$out" --screenshot-after "$after"
  echo "$out"
done
