"""`vivit-desktop generate`: generated camera-motion clips written as a folder dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import UserError, bounded_int, positive_float, positive_int

NAME = "generate"


def add_parser(sub) -> None:
    gen = sub.add_parser("generate", help="write generated camera-motion clips as a folder dataset",
                         description="Render camera-motion clips (a virtual camera moving over images) into "
                                     "OUT_DIR/<label>/<label>-<index>.mp4, a dataset `train` and `evaluate` read.")
    gen.add_argument("out", type=Path, metavar="OUT_DIR")
    gen.add_argument("--split", choices=("train", "heldout"), default="heldout",
                     help="draw from the training or the held-out images (default heldout)")
    gen.add_argument("--clips-per-class", type=positive_int, default=10, help="(default 10)")
    gen.add_argument("--seed", type=int, default=0, help="(default 0)")
    gen.add_argument("--size", type=bounded_int(8, 4096), default=128, help="frame width and height in pixels (default 128)")
    gen.add_argument("--frames", type=bounded_int(1, 100_000), default=72,
                     help="frames per clip (default 72: 2.4 s at 30 fps, longer than a shipped model's 2 s window)")
    gen.add_argument("--fps", type=positive_float, default=30.0,
                     help="frame rate written; the camera's speeds are per second of it (default 30)")
    gen.add_argument("--force", action="store_true", help="overwrite clips already in OUT_DIR")


def run(args: argparse.Namespace) -> int:
    import cv2

    from ..engine.annotate import open_mp4_writer
    from ..fileio import atomic_path
    from ..train.generator import LABELS, render_clip

    if args.clips_per_class < 1 or args.size < 16 or args.frames < 2:
        raise UserError("--clips-per-class must be at least 1, --size at least 16 and --frames at least 2")
    for label in LABELS:
        (args.out / label).mkdir(parents=True, exist_ok=True)
    written = 0
    for i in range(args.clips_per_class * len(LABELS)):
        frames, label, _ = render_clip(i, split=args.split, seed=args.seed, size=args.size, num_frames=args.frames,
                                       seconds=(args.frames - 1) / args.fps)
        path = args.out / LABELS[label] / f"{LABELS[label].replace(' ', '-')}-{i:05d}.mp4"
        with atomic_path(path, overwrite=args.force) as tmp:
            writer = open_mp4_writer(tmp, path, args.fps, (args.size, args.size))
            try:
                for frame in frames:
                    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            finally:
                writer.release()
        written += 1
    print(f"wrote {written} clips to {args.out} ({args.clips_per_class} per class, {args.split} images)")
    return 0
