"""Our Model 1 against transformers' VivitForVideoClassification: same weights, same input, CPU,
batch 1. Prints each model's median forward time with its range, the ratio (ours / transformers),
and the achieved GFLOP/s against this CPU's fp32 GEMM peak, measured in the same run: a
`torch.mm` of two square matrices, timed between the model runs so that it sees the same load.

    python bench/bench_model1_vs_hf.py                     # base and tiny, 32 x 224^2
    python bench/bench_model1_vs_hf.py --sizes tiny --repeats 10
    python bench/bench_model1_vs_hf.py --cpu-time          # one thread, its CPU time: robust on a shared machine

FLOPs: twice the multiply-accumulates `count_flops` measures (FlopCounterMode on the meta
device), so that they compare with the GEMM's 2·n³.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time

import torch

SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "cpu"


def gemm_gflops(n: int) -> float:
    """fp32 GFLOP/s of one n x n x n torch.mm (2·n³ FLOPs)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    return 2 * n**3 / timed(lambda: torch.mm(a, b), 3) / 1e9


def spread(values) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


CLOCK = time.perf_counter  # --cpu-time: time.thread_time (one thread: the work runs in this thread)


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["base", "tiny"], choices=SIZES)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--gemm", type=int, default=2048, help="side of the square GEMM that measures the peak")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one torch thread, timed by its CPU time (time.thread_time): what other work on the "
                             "machine does not inflate, as it does wall time")
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK, args.threads = time.thread_time, 1

    import transformers

    from vivit_desktop.model import ViViT, convert_hf_vivit, count_flops

    torch.set_num_threads(args.threads)
    print(f"{time.strftime('%Y-%m-%d')}, {cpu_name()}, torch {torch.__version__}, transformers "
          f"{transformers.__version__}, {args.threads} threads, batch 1, {args.frames}x{args.image_size}², fp32, "
          f"inference mode, {args.repeats} interleaved runs, {'thread CPU' if args.cpu_time else 'wall'} time; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| size | ours (ms), median (range) | transformers (ms) | ratio ours/theirs (range) | max \\|Δlogit\\| | "
          "GFLOPs (2·MAC) | ours GFLOP/s | transformers GFLOP/s | fp32 GEMM peak GFLOP/s (range) | ours / peak |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        width, depth, heads = SIZES[size]
        config = transformers.VivitConfig(hidden_size=width, num_hidden_layers=depth, num_attention_heads=heads,
                                          intermediate_size=4 * width, num_frames=args.frames,
                                          image_size=args.image_size, num_labels=400)
        hf = transformers.VivitForVideoClassification(config).eval()
        native, ours_config = convert_hf_vivit(hf.state_dict(), config.to_dict())
        ours = ViViT(ours_config).eval()
        ours.load_state_dict(native)
        x = torch.randn(1, args.frames, 3, args.image_size, args.image_size)
        flops = 2 * count_flops(ours_config)
        with torch.inference_mode():
            diff = (ours(x) - hf(pixel_values=x).logits).abs().max().item()
            ours(x), hf(pixel_values=x)  # warm-up
            t_ours, t_hf, peaks = [], [], []
            for _ in range(args.repeats):  # interleaved so drift hits all three alike
                t_ours.append(timed(lambda: ours(x), 1) * 1e3)
                t_hf.append(timed(lambda: hf(pixel_values=x), 1) * 1e3)
                peaks.append(gemm_gflops(args.gemm))
        a, b, peak = statistics.median(t_ours), statistics.median(t_hf), statistics.median(peaks)
        ratios = [o / h for o, h in zip(t_ours, t_hf)]  # per interleaved pair
        print(f"| {size} | {spread(t_ours)} | {spread(t_hf)} | {a / b:.3f} ({min(ratios):.3f}–{max(ratios):.3f}) | "
              f"{diff:.1e} | {flops / 1e9:.1f} | {flops / a / 1e6:.1f} | {flops / b / 1e6:.1f} | {spread(peaks)} | "
              f"{flops / a / 1e6 / peak:.2f} |", flush=True)


if __name__ == "__main__":
    main()
