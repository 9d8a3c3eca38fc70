"""`vivit-desktop info`: a checkpoint's model card."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "info"


def add_parser(sub) -> None:
    info = sub.add_parser("info", help="show a checkpoint's model card")
    info.add_argument("checkpoint", type=Path)


def run(args: argparse.Namespace) -> int:
    from ..model.checkpoint import checkpoint_files, read_card

    weights, card_path = checkpoint_files(args.checkpoint)
    print(read_card(card_path).to_json(), end="")
    return 0
