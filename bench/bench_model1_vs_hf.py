"""Our Model 1 against transformers' VivitForVideoClassification: same weights, same input, CPU,
batch 1. Prints each model's median forward time and the ratio (ours / transformers).

    python bench/bench_model1_vs_hf.py                     # base and tiny, 32 x 224^2
    python bench/bench_model1_vs_hf.py --sizes tiny --repeats 10
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["base", "tiny"], choices=SIZES)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    import transformers

    from vivit_desktop.model import ViViT, convert_hf_vivit

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {platform.processor() or 'cpu'}, "
          f"{args.threads} threads, batch 1, {args.frames}x{args.image_size}², fp32, inference mode")
    print(f"{'size':<6} {'ours (ms)':>10} {'transformers (ms)':>18} {'ratio':>7} {'max |Δlogit|':>13}")
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
        with torch.inference_mode():
            diff = (ours(x) - hf(pixel_values=x).logits).abs().max().item()
            ours(x), hf(pixel_values=x)  # warm-up
            t_ours, t_hf = [], []
            for _ in range(args.repeats):  # interleaved so drift hits both alike
                t_ours.append(timed(lambda: ours(x), 1))
                t_hf.append(timed(lambda: hf(pixel_values=x), 1))
        a, b = statistics.median(t_ours) * 1e3, statistics.median(t_hf) * 1e3
        print(f"{size:<6} {a:>10.1f} {b:>18.1f} {a / b:>7.3f} {diff:>13.2e}")


if __name__ == "__main__":
    main()
