"""How long the window takes to appear, and the process to end after it is closed.

    python bench/bench_startup.py [VIDEO] [--runs 5] [--platform offscreen|xcb]

Start: from launching `python -m vivit_desktop VIDEO` to the window shown (the event loop's first
turn after show(), reported by the program under VIVIT_DESKTOP_REPORT_SHOWN=1); torch loads after
that, in the background. Exit: the program is let run until its analysis is busy (3 s after the
window is shown), then sent SIGINT (what closing the window does: window.close()), and the time to
the process's end is measured. Median of --runs; figures go to bench/RESULTS.md with the command."""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def once(video: str, platform: str, busy_s: float) -> tuple[float, float]:
    env = dict(os.environ, VIVIT_DESKTOP_REPORT_SHOWN="1", QT_QPA_PLATFORM=platform,
               XDG_CONFIG_HOME=tempfile.mkdtemp(), VIVIT_DESKTOP_CACHE=tempfile.mkdtemp())
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "vivit_desktop", video], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    shown = None
    for line in proc.stdout:
        if "window shown" in line:
            shown = time.perf_counter() - start
            break
    if shown is None:
        raise SystemExit(f"the program ended without showing its window (exit {proc.wait()})")
    time.sleep(busy_s)
    closing = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    return shown, time.perf_counter() - closing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", nargs="?", default=str(ROOT / "resources" / "sample.mp4"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default="offscreen")
    parser.add_argument("--busy", type=float, default=3.0, help="seconds between shown and closing")
    args = parser.parse_args()
    starts, exits = [], []
    for i in range(args.runs):
        shown, ended = once(args.video, args.platform, args.busy)
        starts.append(shown)
        exits.append(ended)
        print(f"run {i + 1}: window shown after {shown:.2f} s; ended {ended:.2f} s after closing", flush=True)
    print(f"median of {args.runs}: window shown after {statistics.median(starts):.2f} s "
          f"(max {max(starts):.2f}); process ended {statistics.median(exits):.2f} s after closing "
          f"(max {max(exits):.2f})")


if __name__ == "__main__":
    main()
