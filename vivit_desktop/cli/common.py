"""What the commands share, declared once: the argparse number types, the inference options of
`analyze` and `live`, the model loading they share, and the errors and signals of the command line."""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import VivitError


class UserError(VivitError):
    """A problem with the command line the user can fix; printed as one line, exit status 1."""


DATA_HELP = ("a folder with one sub-folder of clips per class (videos or image folders), or "
             "synthetic:camera-motion for the built-in generator")


def add_inference_options(parser: argparse.ArgumentParser) -> None:
    """--device, --hop and --precision, declared once for analyze and live."""
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    parser.add_argument("--hop", type=positive_int, default=None, metavar="HOP",
                        help="a new window every HOP frames (default: the model's: 8; at ViViT-B width and up one "
                             "tubelet's span, 4 frames, for Model 2 and 16 for the others)")
    parser.add_argument("--precision", choices=("auto", "float32", "int8"), default="auto",
                        help="auto: bf16/fp16 on a GPU; on the CPU int8 where it measures faster at load (e.g. "
                             "ViViT-B/L), else float32; int8: dynamic int8 Linear layers (CPU only; a GPU uses "
                             "bf16/fp16 instead)")


def number(text: str, kind: type):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def ranged(kind: type, low: float | None = None, high: float | None = None, above: float | None = None):
    """An argparse type: a finite `kind` number from `low` to `high`, or more than `above`."""
    def parse(text: str):
        value = number(text, kind)
        if low is not None and high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} must be from {low} to {high}")
        if low is not None and high is None and value < low:
            raise argparse.ArgumentTypeError(f"{text} must be at least {low}" if low else f"{text} cannot be negative")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"{text} must be more than {above}")
        return value
    parse.__name__ = "whole number" if kind is int else "number"  # argparse names the type in its message
    return parse


def bounded_int(low: int, high: int):
    return ranged(int, low, high)


positive_int = ranged(int, 1)
non_negative_int = ranged(int, 0)
positive_float = ranged(float, above=0)
non_negative_float = ranged(float, 0)


def load_for_analysis(spec: str | None):
    """(model, its SHA-256) for a --model or checkpoint argument; a warning for random weights."""
    from ..catalog import RANDOM_WEIGHTS, load

    model, model_hash, _ = load(spec)
    if model_hash == RANDOM_WEIGHTS:
        print(f"warning: {spec} has random weights; its predictions are meaningless (use a checkpoint)",
              file=sys.stderr)
    return model, model_hash


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that temporaries are cleaned up as on Ctrl+C."""


def terminate_as_interrupt() -> None:
    import signal

    def handler(signum, frame):
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests calling main() from a worker)
        pass
