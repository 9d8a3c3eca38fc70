"""`vivit-desktop models`: the registered architectures and the checkpoints found; --stats."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import UserError, bounded_int

NAME = "models"

# The paper's Table 1 figures for ViViT-B/16x2, 32 frames of 224x224, Kinetics-400.
PAPER_TABLE = {
    "vivit_b16x2_st": (88.9, 455.2),
    "vivit_b16x2_fe": (115.1, 284.4),
    "vivit_b16x2_fsa": (117.3, 372.3),
    "vivit_b16x2_fdp": (88.9, 277.1),
}


def add_parser(sub) -> None:
    models = sub.add_parser("models", help="list architectures and checkpoints; --stats for params and FLOPs",
                            description="List the registered architectures and the checkpoints found "
                                        "(shipped and in the user folder).")
    models.add_argument("names", nargs="*", metavar="NAME",
                        help="architecture names or shell patterns (vivit_b16x2_*), or checkpoint paths")
    models.add_argument("--stats", action="store_true",
                        help="print parameters and GFLOPs (multiply-accumulates per clip), as the paper counts")
    models.add_argument("--frames", type=bounded_int(1, 1024), help="override the number of input frames")
    models.add_argument("--image-size", type=bounded_int(1, 2048), help="override the input size in pixels")
    models.add_argument("--classes", type=bounded_int(1, 1_000_000), help="override the number of classes")


def run(args: argparse.Namespace) -> int:
    from ..model import list_models, model_config
    from ..catalog import checkpoints
    from ..model.checkpoint import checkpoint_files, read_card
    from ..paths import shipped_models_dir, user_models_dir

    overrides = _overrides(args)
    configs = []  # (label, config)
    for name in args.names or ["*"]:
        if Path(name).suffix in (".json", ".safetensors", ".pt", ".pth", ".bin") or Path(name).exists():
            configs.append((name, read_card(checkpoint_files(name)[1]).arch))
            continue
        matches = list_models(name)
        if not matches:
            raise UserError(f"no architecture matches {name!r}; run `vivit-desktop models` for the list")
        configs.extend((m, model_config(m, **overrides)) for m in matches)

    if args.stats:
        _print_stats(configs, overrides)
        return 0
    print("Architectures (create_model names):")
    from ..model.config import VARIANT_TITLES

    for label, config in configs:
        print(f"  {label:<22} {VARIANT_TITLES[config.variant]}, width {config.hidden_size}, depth {config.depth}, "
              f"{config.num_heads} heads, tubelet {config.tubelet_size}x{config.patch_size}x{config.patch_size}")
    if not args.names:
        entries = checkpoints()
        for title, folder, shipped in (("Shipped checkpoints", shipped_models_dir(), True),
                                       ("User checkpoints", user_models_dir(), False)):
            found = [e for e in entries if e.shipped == shipped]
            print(f"\n{title} ({folder}):" + ("" if found else " none"))
            for entry in found:
                card = entry.card
                if not entry.usable:
                    print(f"  {entry.path.name}: unusable: {card.problem}")
                else:
                    print(f"  {entry.name:<22} {VARIANT_TITLES[card.variant]}, {len(card.labels)} classes, "
                          f"{card.num_frames} frames of {card.image_size}px")
    return 0


def _overrides(args: argparse.Namespace) -> dict:
    pairs = {"num_frames": args.frames, "image_size": args.image_size, "num_classes": args.classes}
    return {k: v for k, v in pairs.items() if v is not None}


def _print_stats(configs, overrides: dict) -> None:
    from ..model import count_flops, count_params_of

    header = f"{'model':<22} {'variant':<26} {'input':<12} {'params (M)':>10} {'GFLOPs':>8}   paper (params, GFLOPs)"
    print(header)
    print("-" * len(header))
    for label, config in configs:
        params = count_params_of(config) / 1e6
        gflops = count_flops(config) / 1e9
        paper = ""
        if label in PAPER_TABLE and not overrides:
            p, f = PAPER_TABLE[label]
            paper = f"   {p:.1f} ({(params - p) / p:+.1%}), {f:.1f} ({(gflops - f) / f:+.1%})"
        shape = f"{config.num_frames}x{config.image_size}²"
        print(f"{label:<22} {config.variant:<26} {shape:<12} {params:>10.1f} {gflops:>8.1f}{paper}")
    print("\nGFLOPs = 10^9 multiply-accumulates of one forward pass on one clip, attention matmuls included,\n"
          "measured with torch.utils.flop_counter on the meta device (the paper's convention).")
