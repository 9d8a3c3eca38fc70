"""What int8 costs in accuracy: held-out accuracy of each shipped model in float32 and int8 (on
the same generated clips), and the largest difference float32 vs int8 on the real clips in
../shared/media for a ViViT-B/16x2 FE of the official shape (random weights). Prints Markdown
rows for bench/RESULTS.md.

    python bench/bench_precision.py accuracy [--clips 1000]   # as `vivit-desktop evaluate ... --precision int8`
    python bench/bench_precision.py real-clips
    python bench/bench_precision.py all

`accuracy` renders the held-out clips once (synthetic:camera-motion, seed 0: the clips the cards'
figures come from) and evaluates every model on them both ways with train.evaluate, as
`vivit-desktop evaluate CHECKPOINT synthetic:camera-motion --clips N [--precision int8]` does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vivit_desktop.engine.analysis import WindowSettings, analyze_source  # noqa: E402
from vivit_desktop.engine.predictor import Predictor, quantize_int8  # noqa: E402
from vivit_desktop.engine.sources import SourceError, open_source  # noqa: E402
from vivit_desktop.model import create_model, load_model  # noqa: E402
from vivit_desktop.train import evaluate, open_dataset  # noqa: E402

MEDIA = Path(os.environ.get("VIVIT_DESKTOP_MEDIA", ROOT.parent / "shared" / "media"))
VARIANTS = ("st", "fe", "fsa", "fdp")


def accuracy(clips: int) -> None:
    models = {v: load_model(ROOT / "models" / f"camera-motion-{v}.safetensors") for v in VARIANTS}
    card = models["st"].card
    assert all(m.card.arch.num_frames == card.arch.num_frames and m.card.image_size == card.image_size
               for m in models.values())
    started = time.perf_counter()
    dataset = open_dataset("synthetic:camera-motion", card, training=False, seed=0, length=clips)
    items = [dataset[i] for i in range(len(dataset))]
    data = TensorDataset(torch.stack([x for x, _ in items]), torch.tensor([int(y) for _, y in items]))
    data.name = getattr(dataset, "name", "synthetic:camera-motion")
    print(f"{clips} held-out clips rendered in {time.perf_counter() - started:.0f} s; "
          f"{torch.get_num_threads()} torch threads")
    print("| model | float32 accuracy | int8 accuracy | difference (points) | clips whose label changed | "
          "card's figure |")
    print("|---|---:|---:|---:|---:|---:|")
    for variant, model in models.items():
        results, predictions = {}, {}
        for precision in ("float32", "int8"):
            m = model if precision == "float32" else quantize_int8(model)
            results[precision] = evaluate(m, data, device="cpu", batch_size=32, progress=False)
            with torch.inference_mode():
                predictions[precision] = torch.cat([m(x).argmax(1) for x in data.tensors[0].split(64)])
        changed = int((predictions["float32"] != predictions["int8"]).sum())
        f, q = results["float32"].accuracy, results["int8"].accuracy
        card_figure = model.card.evaluation.get("heldout_accuracy")
        card_text = f"{card_figure:.1%} ({model.card.evaluation.get('heldout_clips')} clips)" if card_figure else "-"
        print(f"| camera-motion-{variant} | {f:.1%} | {q:.1%} | {(q - f) * 100:+.1f} | {changed} of {clips} | "
              f"{card_text} |", flush=True)


def real_clips(hop: int = 32) -> None:
    torch.manual_seed(0)
    model = create_model("vivit_b16x2_fe", num_classes=400).eval()
    predictors = {"float32": Predictor(model, device="cpu", precision="float32"),
                  "int8": Predictor(model, device="cpu", precision="int8")}
    print(f"ViViT-B/16x2 FE, random weights, 32x224², 400 classes; hop {hop}, batch 8, tubelet cache; "
          f"{torch.get_num_threads()} torch threads")
    print("| clip | windows | max \\|Δp\\| | max \\|Δlogit\\| / logit std | top-1 agreement | "
          "max \\|Δattention\\| | "
          "float32 s | int8 s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    worst = {"p": 0.0, "logit": 0.0, "attention": 0.0}
    agree_all = []
    for clip in sorted(MEDIA.iterdir()):
        if clip.suffix.lower() not in (".mp4", ".avi", ".mkv", ".webm"):
            continue
        out, seconds = {}, {}
        try:
            for name, predictor in predictors.items():
                predictor.cache.clear()
                with open_source(clip) as source:
                    started = time.perf_counter()
                    result = analyze_source(source, predictor, WindowSettings(hop=hop, batch_size=8))
                    seconds[name] = time.perf_counter() - started
                out[name] = (np.stack([w.probs for w in result.windows]),
                             np.stack([w.attention for w in result.windows]))
        except (SourceError, ValueError) as e:
            print(f"  {clip.name}: skipped ({e})", file=sys.stderr)
            continue
        (pf, af), (pq, aq) = out["float32"], out["int8"]
        dp, da = float(np.abs(pf - pq).max()), float(np.abs(af - aq).max())
        lf, lq = np.log(pf), np.log(pq)  # log-probabilities: logits up to a per-window constant
        lf, lq = lf - lf.mean(1, keepdims=True), lq - lq.mean(1, keepdims=True)
        dl = float(np.abs(lf - lq).max() / lf.std())
        agree = float((pf.argmax(1) == pq.argmax(1)).mean())
        agree_all.append(agree)
        worst = {"p": max(worst["p"], dp), "logit": max(worst["logit"], dl), "attention": max(worst["attention"], da)}
        print(f"| {clip.name} | {len(pf)} | {dp:.1e} | {dl:.3f} | {agree:.0%} | {da:.1e} | {seconds['float32']:.1f} | "
              f"{seconds['int8']:.1f} |", flush=True)
    print(f"worst over the clips: max |Δp| {worst['p']:.1e}, max |Δlogit| / logit std {worst['logit']:.3f}, "
          f"max |Δattention| {worst['attention']:.1e}; top-1 agreement median {statistics.median(agree_all):.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("accuracy", "real-clips", "all"))
    parser.add_argument("--clips", type=int, default=1000, help="held-out clips (default 1000, as the cards)")
    args = parser.parse_args()
    if args.what in ("accuracy", "all"):
        accuracy(args.clips)
    if args.what in ("real-clips", "all"):
        real_clips()


if __name__ == "__main__":
    main()
