"""`vivit-desktop evaluate`: a checkpoint's accuracy and confusion matrix on a folder of clips."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import DATA_HELP, UserError, load_for_analysis, positive_int

NAME = "evaluate"


def add_parser(sub) -> None:
    ev = sub.add_parser("evaluate", help="accuracy, per-class accuracy and the confusion matrix of a checkpoint",
                        description="Evaluate a checkpoint on DATA_DIR/<class>/<clips> (each clip's centred window) "
                                    "and write the confusion matrix as PNG and JSON.")
    ev.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint (NAME.safetensors with NAME.json beside it)")
    ev.add_argument("data", metavar="DATA_DIR", help=DATA_HELP + " (its held-out split)")
    ev.add_argument("-o", "--out", type=Path, metavar="PREFIX",
                    help="write PREFIX.png and PREFIX.json (default: CHECKPOINT-NAME.confusion in this folder)")
    ev.add_argument("--clips", type=positive_int, default=1000, help="clips to generate for synthetic data (default 1000)")
    ev.add_argument("--seed", type=int, default=0, help="seed of generated clips (default 0)")
    ev.add_argument("--batch", type=positive_int, default=32, help="clips per forward pass (default 32)")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    ev.add_argument("--precision", choices=("float32", "int8"), default="float32",
                    help="int8: the Linear layers dynamically quantised, as `analyze --precision int8` runs "
                         "them (CPU only; default float32)")
    ev.add_argument("--force", action="store_true", help="overwrite existing output files")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..engine.predictor import pick_device, quantize_int8
    from ..train import evaluate, open_dataset
    from ..train.evaluate import evaluation_files

    model, _ = load_for_analysis(args.checkpoint)
    prefix = args.out or Path(f"{Path(args.checkpoint).stem}.confusion")
    evaluation_files(prefix, args.force)  # refuse now, not after the evaluation
    dataset = open_dataset(args.data, model.card, training=False, seed=args.seed, length=args.clips)
    skipped = getattr(dataset, "skipped", [])
    if skipped:
        print(f"warning: skipped {len(skipped)} unreadable clip(s)", file=sys.stderr)
    device = pick_device(args.device)
    if args.precision == "int8":
        if device.type != "cpu":
            raise UserError(f"--precision int8 runs on the CPU, not {device}: add --device cpu")
        model = quantize_int8(model)
    evaluation = evaluate(model.to(device), dataset, device=device, batch_size=args.batch,
                          progress=not args.no_progress)
    print(evaluation.summary())
    png, js = evaluation.write(prefix, overwrite=args.force)
    print(f"wrote {png} and {js}")
    return 0
