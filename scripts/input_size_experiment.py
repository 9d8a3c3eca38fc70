"""An interim experiment for the real-footage issue: the shipped Model 1 (camera-motion-st,
32x32, patch 8) fine-tuned on the new generator at another input size, to see what the new
clips and the input size do before a full retrain from scratch (the recipe) is run.

At 64x64 with 16-pixel patches (or any size with the same patch grid) the model starts as the
shipped one seeing a 2x-upscaled picture: the tubelet kernel is resized to the new patch (and
divided by the area ratio), the position embeddings stay, as the grid does.

    python scripts/input_size_experiment.py -o /tmp/newmodels/st-64p16 --image-size 64 --patch-size 16 \\
        --steps 1500 --pool-clips 3000
    python scripts/real_footage_check.py --model /tmp/newmodels/st-64p16.safetensors --markdown

Writes OUT.safetensors + OUT.json (card with held-out figures) and OUT.confusion.png/.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--start", type=Path, default=ROOT / "models" / "camera-motion-st.safetensors")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--pool-clips", type=int, default=3000)
    parser.add_argument("--heldout-clips", type=int, default=500)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    from vivit_desktop.model import save_model
    from vivit_desktop.model.checkpoint import read_state_dict
    from vivit_desktop.model.importers import resize_tubelet
    from vivit_desktop.train import generator, recipe
    from vivit_desktop.train.data import CameraMotionClips, CameraMotionPool
    from vivit_desktop.train.evaluate import evaluate
    from vivit_desktop.train.trainer import TrainSettings, train

    recipe.ARCH.update(image_size=args.image_size, patch_size=args.patch_size)
    model = recipe.new_model("st")
    model.load_state_dict(resize_tubelet(read_state_dict(args.start), args.patch_size))
    settings = TrainSettings(**{**recipe.SETTINGS.__dict__, **recipe.FINETUNE, "steps": args.steps})
    started = time.time()
    pool = CameraMotionPool(model.card, args.pool_clips, seed=settings.seed, processes=args.processes)
    print(f"pool of {len(pool)} clips at {args.image_size}px in {time.time() - started:.0f} s", flush=True)
    provenance = {"source": "python scripts/input_size_experiment.py (an interim fine-tune, not the recipe)",
                  "architecture": "vivit_t16x2_st", "overrides": dict(recipe.ARCH),
                  "init": f"{args.start.name}, tubelet kernel resized to {args.patch_size} px",
                  "data": f"synthetic:camera-motion, training images, a pool of {len(pool)} clips",
                  "images": recipe.image_sources(), "generator": recipe.generator_settings()}
    report = train(model, pool, args.out, settings, val_set=None, device="cpu", overwrite=True, progress=False,
                   provenance=provenance, on_log=lambda line: print(line, flush=True))
    model.to("cpu").eval()
    heldout = CameraMotionClips(model.card, generator.HELDOUT, length=args.heldout_clips, seed=settings.seed)
    evaluation = evaluate(model, heldout, batch_size=64, progress=False)
    evaluation.dataset = f"{args.heldout_clips} generated clips over held-out images (seed {settings.seed})"
    png, js = evaluation.write(args.out.with_name(args.out.name + ".confusion"), overwrite=True,
                               title=f"{args.out.name}: held-out accuracy {evaluation.accuracy:.1%}")
    figures = {"heldout_accuracy": evaluation.accuracy, "heldout_clips": evaluation.clips,
               "per_class_accuracy": evaluation.per_class, "confusion_matrix": png.name,
               "confusion_matrix_json": js.name, "training_minutes": round(report.seconds / 60, 1)}
    card = model.card.replace(provenance={**provenance, "training": settings.__dict__}, evaluation=figures)
    save_model(model, args.out, overwrite=True, card=card)
    print(f"{args.out.name}: held-out accuracy {evaluation.accuracy:.1%}; per class "
          + ", ".join(f"{k} {v:.0%}" if v is not None else f"{k} -" for k, v in evaluation.per_class.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
