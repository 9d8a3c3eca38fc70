"""One window's forward pass of each camera-motion variant at other input sizes (the
real-footage issue: choose the input size by accuracy on real footage per millisecond, every
window within 15 ms on the 2-core build CPU).

The shipped architecture (width 128, depth 4, 4 heads, MLP 512, Model 2 temporal depth 2, 16
frames, tubelets 2 x p x p) at each (image size, patch size); random weights (the time does not
depend on them), float32, batch of one, median of --repeats after 5 warm-ups. With one thread
(the default) it reports the thread's CPU time (time.thread_time), which other work sharing the
CPU barely changes; the wall time on an idle machine with two threads is below it.

    python bench/bench_input_size.py [--threads 1] [--repeats 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = ((32, 8), (64, 8), (64, 16), (112, 14), (112, 16))  # (image size, patch size)
CODES = ("st", "fe", "fsa", "fdp")
BUDGET_MS = 15.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    import torch

    from vivit_desktop.model import create_model
    from vivit_desktop.train.recipe import ARCH

    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    what = "CPU time of the one thread" if args.threads == 1 else "wall time"
    print(f"torch {torch.__version__}, {args.threads} thread(s), {what}, load average {os.getloadavg()[0]:.2f}")
    print("| input | patch | tokens (nt x S) | " + " | ".join(f"Model {CODES.index(c) + 1} ({c}) ms" for c in CODES) + " |")
    print("|---|---|---|" + "---|" * len(CODES))
    for size, patch in SIZES:
        row = []
        for code in CODES:
            model = create_model(f"vivit_t16x2_{code}", num_classes=10,
                                 **{**ARCH, "image_size": size, "patch_size": patch}).eval()
            clip = torch.randn(1, model.config.num_frames, 3, size, size)
            times = []
            with torch.inference_mode():
                for i in range(args.repeats + 5):
                    start = clock()
                    model(clip)
                    if i >= 5:
                        times.append((clock() - start) * 1000)
            ms = statistics.median(times)
            row.append(f"{ms:.1f}" + ("" if ms <= BUDGET_MS else " (over 15)"))
        cfg = model.config
        print(f"| {size}x{size} | {patch} | {cfg.temporal_tokens} x {cfg.spatial_tokens} | " + " | ".join(row) + " |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
