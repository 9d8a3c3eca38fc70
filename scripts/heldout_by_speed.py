"""Held-out accuracy of a camera-motion model split by how fast the camera moved: are its misses
the slow zooms and rolls, or all of them?

    python scripts/heldout_by_speed.py models/camera-motion-st.safetensors [--clips 1000]

Renders the recipe's held-out clips (the same indices and seed as the card's figure), reads each
with the model, and prints accuracy per class and, for zooms and rolls, per third of the
generator's speed range (log scale, per second of video), and what the misses were read as.
A diagnostic for the next recipe, not a benchmark the README quotes.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vivit_desktop.model import load_model  # noqa: E402
from vivit_desktop.train import generator  # noqa: E402
from vivit_desktop.train.data import card_seconds, prepare  # noqa: E402
from vivit_desktop.engine.preprocess import Preprocessor  # noqa: E402


def speed_third(meta: dict, seconds: float) -> str | None:
    """'slow', 'medium' or 'fast': where the clip's per-second zoom or roll falls in the
    generator's log range, in thirds; None for the other motions."""
    if meta["label"].startswith("zoom"):
        zoom = meta["zoom_end"]
        speed, (low, high) = max(zoom, 1 / zoom) ** (1 / seconds), generator.ZOOM_SPEED
    elif meta["label"].startswith("rotate"):
        speed, (low, high) = abs(meta["angle_end_deg"]) / seconds, generator.ROLL_SPEED
    else:
        return None
    at = (math.log(speed) - math.log(low)) / (math.log(high) - math.log(low))
    return ("slow", "medium", "fast")[min(2, max(0, int(at * 3)))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model = load_model(args.model).eval()
    card = model.card
    pre, seconds = Preprocessor(card), card_seconds(card)
    size = card.resize_shorter or card.image_size
    right, total, read_as = Counter(), Counter(), defaultdict(Counter)
    batch, keys, truths = [], [], []

    def flush():
        with torch.inference_mode():
            predicted = model(torch.stack(batch)).argmax(-1).tolist()
        for key, truth, guess in zip(keys, truths, predicted):
            for k in key:
                total[k] += 1
                right[k] += guess == truth
                if guess != truth:
                    read_as[k][generator.LABELS[guess]] += 1
        batch.clear(), keys.clear(), truths.clear()

    for i in range(args.clips):
        frames, label, meta = generator.render_clip(i, split=generator.HELDOUT, seed=args.seed, size=size,
                                                    num_frames=card.num_frames, seconds=seconds)
        third = speed_third(meta, seconds)
        key = [meta["label"]] + ([f"{meta['label']} ({third})"] if third else [])
        batch.append(prepare(pre, frames)), keys.append(key), truths.append(label)
        if len(batch) == 64:
            flush()
    if batch:
        flush()
    print(f"{args.model.name}: {sum(right[k] for k in generator.LABELS)}/{sum(total[k] for k in generator.LABELS)} "
          f"held-out clips right ({seconds:.2f} s windows)")
    for k in sorted(total, key=lambda k: (generator.LABELS.index(k.split(" (")[0]), k)):
        misses = ", ".join(f"{name} {n}" for name, n in read_as[k].most_common(3))
        print(f"  {k:38s} {right[k]:4d}/{total[k]:<4d} {right[k] / total[k]:6.1%}  {'misread as ' + misses if misses else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
