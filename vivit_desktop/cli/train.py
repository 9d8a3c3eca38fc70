"""`vivit-desktop train`: a ViViT trained on a folder of labelled clips (or generated ones)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import DATA_HELP, UserError, non_negative_float, non_negative_int, positive_float, positive_int

NAME = "train"


def add_parser(sub) -> None:
    train = sub.add_parser("train", help="train a model on a folder of labelled clips (or generated ones)",
                           description="Train a ViViT on DATA_DIR/<class>/<clips>. Writes OUT.safetensors + "
                                       "OUT.json (the model and its card) and OUT.train.pt (to --resume) at every "
                                       "checkpoint, then evaluates on the held-out clips and writes "
                                       "OUT.confusion.png and OUT.confusion.json.")
    train.add_argument("data", metavar="DATA_DIR", help=DATA_HELP)
    train.add_argument("--model", required=True, metavar="NAME",
                       help="architecture from `vivit-desktop models`, e.g. vivit_t16x2_fe")
    train.add_argument("-o", "--out", required=True, type=Path, metavar="OUT", help="output path without extension")
    train.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="override an architecture field, e.g. --set image_size=112 --set depth=6 (repeatable)")
    train.add_argument("--frame-stride", type=positive_int, default=2, help="one frame every N source frames (default 2)")
    train.add_argument("--fps", type=positive_float, help="the frame rate clips are sampled at (default: each clip's own)")
    train.add_argument("--steps", type=positive_int, default=2000, help="optimisation steps (default 2000)")
    train.add_argument("--batch", type=positive_int, default=32, help="clips per step (default 32)")
    train.add_argument("--lr", type=positive_float, default=1e-3, help="peak learning rate of AdamW (default 1e-3)")
    train.add_argument("--weight-decay", type=non_negative_float, default=0.05, help="AdamW weight decay (default 0.05)")
    train.add_argument("--warmup", type=non_negative_int, default=100, help="linear warm-up steps before cosine decay (default 100)")
    train.add_argument("--label-smoothing", type=non_negative_float, default=0.1, help="(default 0.1)")
    train.add_argument("--seed", type=int, default=0, help="seeds the initialisation, the data order and the split")
    train.add_argument("--val-fraction", type=float, default=0.2,
                       help="share of each class's clips held out for validation (default 0.2)")
    train.add_argument("--val-clips", type=positive_int, default=500,
                       help="held-out clips to validate on with synthetic data (default 500)")
    train.add_argument("--eval-every", type=positive_int, default=250, help="validate and checkpoint every N steps (default 250)")
    train.add_argument("--init", default="random", metavar="random|PATH",
                       help="random, or weights to start from (safetensors or a PyTorch state dict): an image ViT's, "
                            "or a trained Model 1's of the same size (for any variant)")
    train.add_argument("--tubelet-init", choices=("central_frame", "filter_inflation"), default="central_frame",
                       help="how an image ViT's patch filter becomes a tubelet filter (paper, Section 3.4)")
    train.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    train.add_argument("--workers", type=non_negative_int, default=1, help="data loading processes (default 1)")
    train.add_argument("--resume", action="store_true", help="continue the run saved at OUT")
    train.add_argument("--force", action="store_true", help="start over, replacing a run saved at OUT")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..engine.predictor import pick_device
    from ..model import create_model
    from ..model.importers import init_from_image_vit, init_from_model1, is_model1_state
    from ..model.scenic import read_init_weights
    from ..train import TrainSettings, class_folders, open_dataset, train
    from ..train.data import SYNTHETIC_PREFIX
    from ..train.generator import LABELS
    from ..train.trainer import check_outputs

    out = check_outputs(args.out, resume=args.resume, overwrite=args.force)
    synthetic = args.data.startswith(SYNTHETIC_PREFIX)
    # a folder's classes name the model's outputs; the dataset refuses a single class
    labels = LABELS if synthetic else tuple(p.name for p in class_folders(args.data))
    settings = TrainSettings(steps=args.steps, batch_size=args.batch, lr=args.lr, weight_decay=args.weight_decay,
                             warmup_steps=args.warmup, label_smoothing=args.label_smoothing, seed=args.seed,
                             eval_every=args.eval_every, workers=args.workers)
    overrides = _config_overrides(args.set)
    torch.manual_seed(args.seed)
    model = create_model(args.model, labels=labels, **overrides)
    fps = args.fps if args.fps is not None else (30.0 if synthetic else None)
    provenance = {"source": "trained with `vivit-desktop train`", "architecture": args.model,
                  "overrides": overrides, "data": str(args.data), "init": args.init}
    if args.init != "random":
        state = read_init_weights(args.init)
        if is_model1_state(state):
            init_from_model1(model, state)
        else:
            init_from_image_vit(model, state, args.tubelet_init)
            provenance["tubelet_init"] = args.tubelet_init
    model.card = model.card.replace(name=out.name, frame_stride=args.frame_stride, fps=fps)
    if synthetic:
        train_set = open_dataset(args.data, model.card, training=True, seed=args.seed)
        val_set = open_dataset(args.data, model.card, training=False, seed=args.seed, length=args.val_clips)
    else:
        everything = open_dataset(args.data, model.card, training=True, seed=args.seed)
        train_set, val_set = everything.split(args.val_fraction)
        provenance["skipped_clips"] = len(everything.skipped)
        if everything.skipped:
            print(f"warning: skipped {len(everything.skipped)} unreadable clip(s) of "
                  f"{len(everything.skipped) + len(everything)}:", file=sys.stderr)
            for path, reason in everything.skipped[:10]:
                print(f"  {reason}", file=sys.stderr)
        print(f"{len(train_set)} training and {len(val_set)} validation clips in {len(labels)} classes", file=sys.stderr)
    device = pick_device(args.device)
    report = train(model, train_set, out, settings, val_set=val_set, device=device, resume=args.resume,
                   overwrite=True, progress=not args.no_progress, provenance=provenance)
    print(f"trained {report.steps} steps in {report.seconds / 60:.1f} min; saved {report.weights}")
    if report.evaluation is not None:
        png, js = report.evaluation.write(out.with_name(out.name + ".confusion"), overwrite=True)
        print(report.evaluation.summary())
        print(f"wrote {png} and {js}")
    return 0


def _config_overrides(pairs: list[str]) -> dict:
    """--set FIELD=VALUE pairs, typed by the config field (int, float, bool or text); never evaluated."""
    import dataclasses

    from ..model.config import ViViTConfig

    fields = {f.name: f.type for f in dataclasses.fields(ViViTConfig)}
    out = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise UserError(f"--set {pair!r}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}")
        kind = str(fields[name])
        try:
            if kind == "int":
                value = int(text)
            elif kind == "float":
                value = float(text)
            elif kind == "bool":
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                value = text.lower() in ("true", "1")
            else:
                value = text
        except ValueError:
            raise UserError(f"--set {pair!r}: {name} takes a{'n' if kind == 'int' else ''} {kind}") from None
        out[name] = value
    return out
