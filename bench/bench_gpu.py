"""The GPU benchmark of bench/gpu_check.sh: ViViT-B/16x2 Models 1-4 at 32x224² in bf16 (batch 1
and 8: ms per clip and windows/s, beside the paper's TPU-v3 figures), `analyze`'s real-time
factor on a 1080p clip, and live latency at 30 fps input with ViViT-B/16x2 FE. Random weights
of the official shapes (speed does not depend on them). Prints one table per part.

    python bench/bench_gpu.py [--seconds 10]

Without a CUDA GPU it says so and exits 0 (the build machine has none).
"""

from __future__ import annotations

import argparse
import os
import shutil
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
from vivit_desktop.engine.sources import FileSource, Frame, paced  # noqa: E402
from vivit_desktop.model import create_model  # noqa: E402

# the paper's Table 2 (ViViT-B, Kinetics-400, 32 frames of 224², runtime per clip on TPU-v3)
MODELS = {"Model 1 (ST)": ("vivit_b16x2_st", 58.9), "Model 2 (FE)": ("vivit_b16x2_fe", 17.4),
          "Model 3 (FSA)": ("vivit_b16x2_fsa", 31.7), "Model 4 (FDP)": ("vivit_b16x2_fdp", 22.9)}


def build(name: str):
    torch.manual_seed(0)
    return create_model(name, num_classes=400).eval()


def models(iters: int = 10) -> None:
    print("## ViViT-B/16x2 Models 1-4, 32x224², bf16 autocast (Predictor.predict: host arrays in, "
          "probabilities and attention out; forward alone timed with CUDA events)")
    print("| model | batch | forward ms per clip | predict ms per clip | windows/s | paper TPU-v3 ms | "
          "peak GPU memory (GiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    clips = rng.standard_normal((8, 32, 3, 224, 224), dtype=np.float32)
    for label, (name, paper) in MODELS.items():
        predictor = Predictor(build(name), device="cuda", reuse=False)
        model = predictor.model
        for batch in (1, 8):
            x = torch.from_numpy(clips[:batch]).cuda()
            torch.cuda.reset_peak_memory_stats()
            with torch.inference_mode(), predictor._autocast():
                for _ in range(3):
                    model.forward_with_attention(x)
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(iters):
                    model.forward_with_attention(x)
                end.record()
                torch.cuda.synchronize()
            forward_ms = start.elapsed_time(end) / iters / batch
            predictor.predict(clips[:batch])  # warm-up of the whole path
            times = []
            for _ in range(iters):
                started = time.perf_counter()
                predictor.predict(clips[:batch])
                times.append(time.perf_counter() - started)
            predict_ms = statistics.median(times) * 1000 / batch
            print(f"| {label} | {batch} | {forward_ms:.2f} | {predict_ms:.2f} | {1000 / predict_ms:.0f} | {paper} | "
                  f"{torch.cuda.max_memory_allocated() / 2**30:.2f} |", flush=True)
        del predictor, model
        torch.cuda.empty_cache()


def make_1080p(folder: Path, seconds: int = 10) -> tuple[Path, str]:
    video = folder / "testsrc2_1080p.mp4"
    if shutil.which("ffmpeg"):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
                        f"testsrc2=size=1920x1080:rate=30:duration={seconds}", "-c:v", "libx264", "-preset",
                        "ultrafast", "-pix_fmt", "yuv420p", str(video)], check=True)
        return video, "ffmpeg testsrc2, H.264"
    import cv2  # no ffmpeg on this machine: OpenCV writes MPEG-4 Part 2 instead

    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (1920, 1080))
    y, x = np.mgrid[0:1080, 0:1920]
    for i in range(seconds * 30):
        frame = np.stack([(x + 8 * i) % 256, (y + 4 * i) % 256, (x + y + 12 * i) % 256], -1).astype(np.uint8)
        writer.write(frame)
    writer.release()
    return video, "OpenCV mp4v (no ffmpeg here)"


def analyze(video: Path, how: str) -> None:
    print(f"## analyze: a 1080p 30 fps 10 s clip ({how}), ViViT-B/16x2 FE, bf16, batch 8, tubelet cache")
    print("| hop | windows | seconds | frames/s | real-time factor |")
    print("|---:|---:|---:|---:|---:|")
    predictor = Predictor(build("vivit_b16x2_fe"), device="cuda")
    with FileSource(video) as source:  # warm-up
        analyze_source(source, predictor, WindowSettings(hop=16, batch_size=8))
    for hop in (4, 16):
        predictor.cache.clear()
        with FileSource(video) as source:
            started = time.perf_counter()
            result = analyze_source(source, predictor, WindowSettings(hop=hop, batch_size=8))
            took = time.perf_counter() - started
        print(f"| {hop} | {len(result.windows)} | {took:.2f} | {result.frame_count / took:.0f} | "
              f"{result.duration / took:.1f}x |", flush=True)


def live(video: Path, seconds: float) -> None:
    print(f"## live: the 1080p clip's frames at 30 fps for {seconds:.0f} s (looped, paced by the clock), "
          "ViViT-B/16x2 FE, bf16, tubelet cache")
    print("| hop | windows due | completed | dropped | windows/s | latency p50 ms | p95 ms | compute p50 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    with FileSource(video) as source:
        images = [f.image for f in source.frames()]
    predictor = Predictor(build("vivit_b16x2_fe"), device="cuda", leave_a_core=True)
    for hop in (2, 4, 16):
        predictor.cache.clear()
        results = []
        runner = LiveRunner(predictor, fps=30.0, hop=hop, on_result=results.append)
        n = int(seconds * 30)
        started = time.perf_counter()
        runner.run(paced(Frame(i, i / 30.0, images[i % len(images)]) for i in range(n)))
        runner.stop(finish=True, timeout=60)
        took = time.perf_counter() - started
        steady = [r for r in results if r.end_time >= 3.0] or results
        latency = [r.latency_s * 1000 for r in steady]
        compute = [r.compute_s * 1000 for r in steady]
        print(f"| {hop} | {runner.submitted} | {runner.completed} | {runner.dropped} | {runner.completed / took:.1f} | "
              f"{statistics.median(latency):.1f} | {np.percentile(latency, 95):.1f} | "
              f"{statistics.median(compute):.1f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="input seconds per live run (default 10)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU here (torch " + torch.__version__ + "): the GPU benchmark is skipped")
        return 0
    props = torch.cuda.get_device_properties(0)
    print(f"{time.strftime('%Y-%m-%d')}, {props.name}, {props.total_memory / 2**30:.0f} GiB, "
          f"torch {torch.__version__}, "
          f"CUDA {torch.version.cuda}, bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no (fp16)'}, "
          f"{os.cpu_count()} CPU cores")
    models()
    with tempfile.TemporaryDirectory() as tmp:
        video, how = make_1080p(Path(tmp))
        analyze(video, how)
        live(video, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
