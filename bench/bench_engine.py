"""Engine benchmarks: offline throughput, live latency, Model 2's tubelet cache, and peak memory
against video length. Prints Markdown rows for bench/RESULTS.md.

    python bench/bench_engine.py offline   # analyze real clips: frames/s and real-time factor
    python bench/bench_engine.py live      # 30 fps input: latency p50/p95, dropped windows
    python bench/bench_engine.py cache     # Model 2 windows/s with and without reuse, hop = 1 tubelet
    python bench/bench_engine.py memory    # peak RSS of `analyze` on 1-min and 10-min 720p videos
    python bench/bench_engine.py all

Until the shipped models exist (issue 4) it uses random-weight tiny models with the shapes
given in each table; speed does not depend on the weights. CPU threads: all cores (2 here).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vivit_desktop.engine.analysis import WindowSettings, analyze_source  # noqa: E402
from vivit_desktop.engine.live import LiveRunner  # noqa: E402
from vivit_desktop.engine.predictor import Predictor  # noqa: E402
from vivit_desktop.engine.sources import FileSource, Frame, VideoSource, paced  # noqa: E402
from vivit_desktop.model import create_model, save_model  # noqa: E402

MEDIA = Path(os.environ.get("VIVIT_DESKTOP_MEDIA", ROOT.parent / "shared" / "media"))
# (name, overrides): the small shapes a live CPU model has, and ViViT-Ti at the paper's input
SHAPES = {
    "Ti/16x2 FE, 16x112²": ("vivit_t16x2_fe", {"num_frames": 16, "image_size": 112}),
    "Ti/16x2 ST, 16x112²": ("vivit_t16x2_st", {"num_frames": 16, "image_size": 112}),
    "Ti/16x2 FE, 32x224²": ("vivit_t16x2_fe", {}),
}
LABELS = [f"class {i}" for i in range(10)]


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, no GPU" if not torch.cuda.is_available() else "CUDA")


def model_for(shape: str):
    name, overrides = SHAPES[shape]
    torch.manual_seed(0)
    return create_model(name, labels=LABELS, **overrides)


def offline() -> None:
    print("| clip | model | hop | frames | seconds | frames/s | real-time factor |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for clip in ("bikes.mp4", "arm_wrestling.mp4"):
        for shape in ("Ti/16x2 FE, 16x112²", "Ti/16x2 ST, 16x112²", "Ti/16x2 FE, 32x224²"):
            predictor = Predictor(model_for(shape), device="cpu")
            with FileSource(MEDIA / clip) as source:
                started = time.perf_counter()
                result = analyze_source(source, predictor, WindowSettings(hop=8))
                seconds = time.perf_counter() - started
            fps = result.frame_count / seconds
            print(f"| {clip} | {shape} | 8 | {result.frame_count} | {seconds:.2f} | {fps:.0f} | "
                  f"{result.duration / seconds:.1f}x |", flush=True)


def live(seconds: float = 20.0) -> None:
    """A real clip's frames fed at 30 fps (looped, paced by the clock) to the LiveRunner."""
    with FileSource(MEDIA / "bikes.mp4") as source:
        images = [f.image for f in source.frames()]
    print("| model | hop | input | windows | completed | dropped | latency p50 (ms) | p95 (ms) | compute p50 (ms) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for shape, hop in (("Ti/16x2 FE, 16x112²", 8), ("Ti/16x2 FE, 16x112²", 2), ("Ti/16x2 ST, 16x112²", 8),
                       ("Ti/16x2 ST, 16x112²", 1), ("Ti/16x2 FE, 32x224²", 8)):
        results = []
        runner = LiveRunner(Predictor(model_for(shape), device="cpu"), fps=30.0, hop=hop, on_result=results.append)
        n = int(seconds * 30)
        frames = (Frame(i, i / 30.0, images[i % len(images)]) for i in range(n))
        runner.run(paced(frames))
        runner.stop(finish=True)
        latency = [r.latency_s * 1000 for r in results]
        compute = [r.compute_s * 1000 for r in results]
        print(f"| {shape} | {hop} | 30 fps, {seconds:.0f} s | {runner.submitted} | {runner.completed} | "
              f"{runner.dropped} | {statistics.median(latency):.0f} | {np.percentile(latency, 95):.0f} | "
              f"{statistics.median(compute):.0f} |", flush=True)


def cache(windows: int = 40) -> None:
    """Hop = one tubelet (frame_stride 2 x tubelet 2 = 4 frames): with reuse a window costs one
    spatial pass and the temporal encoder instead of nt spatial passes."""
    print("| model | hop | windows | no reuse (windows/s) | reuse (windows/s) | speed-up | spatial passes no reuse / reuse |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for shape in ("Ti/16x2 FE, 16x112²", "Ti/16x2 FE, 32x224²"):
        model = model_for(shape)
        frames_needed = windows * 4 + model.config.num_frames * 2
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(frames_needed)]

        class Synthetic(VideoSource):  # frames from memory: the decoder is not what is measured
            fps, name = 25.0, "synthetic"

            def frames(self):
                for i, image in enumerate(images):
                    yield Frame(i, i / 25.0, image)

        rates, passes = [], []
        for reuse in (False, True):
            predictor = Predictor(model, device="cpu", reuse=reuse)
            analyze_source(Synthetic(), predictor, WindowSettings(hop=4, batch_size=8))  # warm-up
            predictor.spatial_passes = 0
            started = time.perf_counter()
            result = analyze_source(Synthetic(), predictor, WindowSettings(hop=4, batch_size=8))
            rates.append(len(result.windows) / (time.perf_counter() - started))
            passes.append(predictor.spatial_passes)
        print(f"| {shape} | 4 frames (1 tubelet) | {len(result.windows)} | {rates[0]:.1f} | {rates[1]:.1f} | "
              f"{rates[1] / rates[0]:.1f}x | {passes[0]} / {passes[1]} |", flush=True)


def memory() -> None:
    """Peak RSS of `vivit-desktop analyze` (a child process) on 720p videos of 1 and 10 minutes."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = model_for("Ti/16x2 FE, 16x112²")
        weights, _ = save_model(model, tmp / "tiny")
        print("| video | frames | peak RSS (MiB) | analyze wall time (s) |")
        print("|---|---:|---:|---:|")
        for minutes in (1, 10):
            video = tmp / f"{minutes}min.mp4"
            subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
                            f"testsrc2=size=1280x720:rate=30:duration={minutes * 60}", "-c:v", "libx264",
                            "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video)], check=True)
            code = ("import resource, sys, time; from vivit_desktop.cli import main; t = time.perf_counter(); "
                    f"rc = main(['analyze', {str(video)!r}, '--model', {str(weights)!r}, '--hop', '16', "
                    "'--no-progress', '--no-cache']); "
                    "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - t); "
                    "sys.exit(rc)")
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            rss_line = [line for line in done.stdout.splitlines() if line.startswith("RSS")][0]
            _, kib, wall = rss_line.split()
            frames = [line for line in done.stdout.splitlines() if "frames" in line][0].split(": ")[1].split()[0]
            print(f"| 1280x720, 30 fps, {minutes} min | {frames} | {int(kib) / 1024:.0f} | {float(wall):.0f} |",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("offline", "live", "cache", "memory", "all"))
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    for name, fn in (("offline", offline), ("live", live), ("cache", cache), ("memory", memory)):
        if args.what in (name, "all"):
            print(f"### {name}\n")
            fn()
            print()


if __name__ == "__main__":
    main()
