"""`vivit-desktop import`: a Hugging Face or scenic ViViT checkpoint converted into a native one.
(The module is import_.py: `import` is a keyword.)"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import positive_int

NAME = "import"


def add_parser(sub) -> None:
    imp = sub.add_parser("import", help="convert a Hugging Face or scenic (JAX/Flax) ViViT checkpoint into a native one",
                         description="Import a Hugging Face VivitForVideoClassification directory (config.json "
                                     "and model.safetensors or pytorch_model.bin), or a scenic ViViT checkpoint "
                                     "(a Flax MessagePack file such as the official Kinetics and Epic-Kitchens "
                                     "weights, or a folder of checkpoint_<step> files), as OUT.safetensors + OUT.json. "
                                     "Nothing is written unless the whole import succeeds.")
    imp.add_argument("path", type=Path, help="the Hugging Face checkpoint directory, or the scenic checkpoint")
    imp.add_argument("-o", "--output", type=Path,
                     help="output path without extension (default: the user models folder / the checkpoint's name)")
    scenic = imp.add_argument_group("scenic checkpoints (what the parameter names and shapes cannot tell)")
    scenic.add_argument("--num-frames", type=positive_int, metavar="N",
                        help="input frames, where the position embeddings allow several splits (default 32)")
    scenic.add_argument("--image-size", type=positive_int, metavar="N",
                        help="input size in pixels, where the position embeddings allow several splits (default 224)")
    scenic.add_argument("--attention-order", choices=("time_space", "space_time"),
                        help="Model 3's order of attention within a block (default time_space, as scenic's)")
    scenic.add_argument("--variant", choices=("st", "fe", "fsa", "fdp"),
                        help="the variant, where the names cannot tell (scenic's Model 4 has the names of a Model 1 "
                             "without a CLS token: say fdp)")
    imp.add_argument("--labels", metavar="NAME|FILE",
                     help="class names: kinetics400, kinetics600, epic-kitchens-100 (nouns and verbs as two heads), "
                          "or a text file of one label per line, in the order of the outputs (default: a scenic "
                          "checkpoint gets the shipped set with as many classes, if one has; a Hugging Face or "
                          "native one keeps its own names)")
    imp.add_argument("--force", action="store_true", help="overwrite existing output files")


def run(args: argparse.Namespace) -> int:
    from ..model import save_model
    from ..model.config import VARIANT_TITLES
    from ..model.foreign import ScenicOptions, import_checkpoint
    from ..paths import user_models_dir

    options = ScenicOptions(args.num_frames, args.image_size, args.attention_order, args.variant, args.labels)
    model, note = import_checkpoint(args.path, options, name=(args.output or args.path.resolve()).name)
    output = args.output
    if output is None:
        user_models_dir().mkdir(parents=True, exist_ok=True)
        output = user_models_dir() / args.path.resolve().name
    weights, card = save_model(model, output, overwrite=args.force)
    c = model.config
    print(f"imported {args.path} -> {weights} + {card.name}")
    print(f"  {VARIANT_TITLES[c.variant]}, width {c.hidden_size}, depth {c.depth}, {c.num_classes} classes, "
          f"{c.num_frames} frames of {c.image_size}px" + (f"; {note}" if note else ""))
    return 0
