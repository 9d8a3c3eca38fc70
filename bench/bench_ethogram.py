"""The ethogram with Kinetics-sized label sets over a long video: set_data, the first paint after
it, a repaint (what scrolling or an expose costs), a playhead move, a resize and a filter.

    QT_QPA_PLATFORM=offscreen python bench/bench_ethogram.py [--minutes 30] [--fps 30] [--repeats 5]

Each figure is the median of --repeats runs, in ms. The probabilities are made up: a little
noise for every class plus a few classes that take turns over the video, as a real analysis
looks; float64, as the analysis results hand them over, and float32. Frames of the first minute
are NaN (not analysed yet).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_probs(frames: int, classes: int, dtype, fps: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    probs = (rng.random((frames, classes), dtype=np.float32) * 0.02).astype(dtype)
    frame_labels = np.full(frames, -1)
    bout = int(20 * fps)  # a new leading class every 20 s
    for start in range(0, frames, bout):
        k = int(rng.integers(classes))
        probs[start:start + bout, k] = 0.6 + 0.3 * rng.random()
        frame_labels[start:start + bout] = k
    probs[:int(60 * fps)] = np.nan
    frame_labels[:int(60 * fps)] = -1
    return probs, frame_labels


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from vivit_desktop.ui.ethogram import Ethogram

    app = QApplication.instance() or QApplication([])
    frames = int(args.minutes * 60 * args.fps)
    print(f"{frames} frames ({args.minutes:g} min at {args.fps:g} fps), widget 1000x300, median of {args.repeats}, ms")
    header = (f"{'classes':>7} {'dtype':>7} {'set_data':>9} {'+paint':>7} {'repaint':>8} {'playhead':>9} "
              f"{'resize':>7} {'filter':>7}")
    print(header)
    print("-" * len(header))
    for classes in (400, 600):
        for dtype in (np.float64, np.float32):
            probs, frame_labels = make_probs(frames, classes, dtype, args.fps)
            labels = tuple(f"class {i}" for i in range(classes))
            e = Ethogram()
            e.resize(1000, 300)
            e.show()
            app.processEvents()

            def set_data():
                e.set_data(probs, labels, frame_labels, args.fps)

            def set_and_paint():
                set_data()
                e.repaint()  # synchronous: pools to the width, colours the rows, paints what is on screen
                app.processEvents()

            def repaint():
                e.rows.repaint()

            playhead = iter(range(1000, 10 ** 9, 997))

            def move_playhead():
                e.set_playhead(next(playhead))
                app.processEvents()  # the two strips repaint

            widths = iter([980, 1000] * args.repeats)

            def resize():
                e.resize(next(widths), 300)
                app.processEvents()
                e.repaint()

            texts = iter(["class 1", ""] * args.repeats)

            def filter_rows():
                e.filter_box.setText(next(texts))
                e.repaint()

            set_and_paint()  # warm up
            row = [median_ms(set_data, args.repeats), median_ms(set_and_paint, args.repeats),
                   median_ms(repaint, args.repeats), median_ms(move_playhead, args.repeats),
                   median_ms(resize, args.repeats), median_ms(filter_rows, args.repeats)]
            print(f"{classes:>7} {np.dtype(dtype).name:>7} {row[0]:>9.1f} {row[1]:>7.1f} {row[2]:>8.1f} "
                  f"{row[3]:>9.1f} {row[4]:>7.1f} {row[5]:>7.1f}")
            e.close()
    print("set_data: pooling, means, sorting; +paint: set_data then the first paint (pooling to the width, "
          "colouring); repaint: the visible rows again; playhead: a move (two strips); resize: a new width; "
          "filter: typing a filter (the rows re-picked from the cached width)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
