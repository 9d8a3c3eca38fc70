"""`vivit-desktop`: the command line. Heavy modules are imported inside the commands, so
`--help` and `--version` are instant. Errors the user can fix print one line and exit non-zero."""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
from pathlib import Path
from typing import Sequence

from . import __version__

# The paper's Table 1 figures for ViViT-B/16x2, 32 frames of 224x224, Kinetics-400.
PAPER_TABLE = {
    "vivit_b16x2_st": (88.9, 455.2),
    "vivit_b16x2_fe": (115.1, 284.4),
    "vivit_b16x2_fsa": (117.3, 372.3),
    "vivit_b16x2_fdp": (88.9, 277.1),
}


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vivit-desktop",
        description="ViViT Desktop: video classification with ViViT (Arnab et al., ICCV 2021) and its "
                    "temporal attention.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    models = sub.add_parser("models", help="list architectures and checkpoints; --stats for params and FLOPs",
                            description="List the registered architectures and the checkpoints found "
                                        "(shipped and in the user folder).")
    models.add_argument("names", nargs="*", metavar="NAME",
                        help="architecture names or shell patterns (vivit_b16x2_*), or checkpoint paths")
    models.add_argument("--stats", action="store_true",
                        help="print parameters and GFLOPs (multiply-accumulates per clip), as the paper counts")
    models.add_argument("--frames", type=_bounded_int(1, 1024), help="override the number of input frames")
    models.add_argument("--image-size", type=_bounded_int(1, 2048), help="override the input size in pixels")
    models.add_argument("--classes", type=_bounded_int(1, 1_000_000), help="override the number of classes")

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
    scenic.add_argument("--num-frames", type=_positive_int, metavar="N",
                        help="input frames, where the position embeddings allow several splits (default 32)")
    scenic.add_argument("--image-size", type=_positive_int, metavar="N",
                        help="input size in pixels, where the position embeddings allow several splits (default 224)")
    scenic.add_argument("--attention-order", choices=("time_space", "space_time"),
                        help="Model 3's order of attention within a block (default time_space, as scenic's)")
    scenic.add_argument("--variant", choices=("st", "fe", "fsa", "fdp"),
                        help="the variant, where the names cannot tell (scenic's Model 4 has the names of a Model 1 "
                             "without a CLS token: say fdp)")
    scenic.add_argument("--labels", metavar="NAME|FILE",
                        help="class names: kinetics400, kinetics600, epic-kitchens-100 (nouns and verbs as two "
                             "heads), or a text file of one label per line (default: the shipped set with as many "
                             "classes, if one has)")
    imp.add_argument("--force", action="store_true", help="overwrite existing output files")

    analyze = sub.add_parser("analyze", help="analyse videos headless and export the predictions",
                             description="Run the sliding-window classifier over whole videos (files, or folders "
                                         "of videos) and export per-window, per-frame and per-segment results.")
    analyze.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or folders of videos")
    analyze.add_argument("--model", metavar="NAME|PATH",
                         help="a shipped or user checkpoint's name (see `vivit-desktop models`), a checkpoint path "
                              "(NAME.safetensors with NAME.json), or a registered architecture name (random weights: "
                              "for checking the pipeline only); default: the shipped default model")
    _add_inference_options(analyze)
    analyze.add_argument("--batch", type=_positive_int, default=8, help="windows per forward pass (default 8)")
    analyze.add_argument("--top-k", type=_positive_int, default=5, help="labels listed per window in the JSON (default 5)")
    analyze.add_argument("--out", type=Path, metavar="FILE.json|FILE.csv|FOLDER",
                         help="where to write results: a .json or .csv file for one video, a folder for several")
    analyze.add_argument("--format", choices=("json", "csv"), default="json",
                         help="file format when --out is a folder (default json)")
    analyze.add_argument("--annotated", type=Path, metavar="OUT.mp4|FOLDER",
                         help="also write the video with the top-k predictions drawn on it (a folder for several)")
    analyze.add_argument("--force", action="store_true", help="overwrite existing result files")
    analyze.add_argument("--no-cache", action="store_true",
                         help="run the model even if cached results for this video, model and hop exist")
    analyze.add_argument("--no-progress", action="store_true", help="no progress bar")
    post = analyze.add_argument_group("post-processing (on the cached probabilities; no re-run needed)")
    post.add_argument("--smooth", default="none", metavar="none|mean:FRAMES|ema:ALPHA",
                      help="smooth per-frame probabilities: centred moving average or causal EMA (default none)")
    post.add_argument("--threshold", action="append", default=[], metavar="P|LABEL=P",
                      help="a frame gets a label only if its probability reaches P; LABEL=P for one class "
                           "(repeatable)")
    post.add_argument("--hysteresis", type=_positive_int, default=1, metavar="N",
                      help="the label changes only when N consecutive frames agree (default 1)")
    post.add_argument("--min-bout", type=_non_negative_float, default=0.0, metavar="SECONDS",
                      help="merge segments shorter than this into a neighbour (default 0)")
    cluster = analyze.add_argument_group(
        "on a Ray cluster (pip install 'vivit-desktop[cluster]'; README: \"Analysing an archive on a cluster\")")
    cluster.add_argument("--ray", nargs="?", const="", type=_ray_address, metavar="ADDRESS",
                         help="one Ray task per video on a pool of workers that each load the model once; no "
                              "ADDRESS: a local Ray instance, else auto, ray://HOST:PORT or HOST:PORT. Videos whose "
                              "results exist and match (model and settings) are skipped, so a re-run resumes")
    cluster.add_argument("--workers", type=_positive_int, metavar="N",
                         help="workers (default: as many as the cluster's CPUs, or GPUs, hold)")
    cluster.add_argument("--cpus-per-task", type=_positive_float, default=1.0, metavar="N",
                         help="CPUs Ray reserves per worker (default 1)")
    cluster.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                         help="torch threads per CPU worker (default: the node's cores, as a local run, so results "
                              "equal a local run's; fewer is faster when workers share a node, but the last digit "
                              "of a probability may then differ)")
    cluster.add_argument("--gpus-per-task", type=_non_negative_float, default=None, metavar="N",
                         help="GPUs per worker (default: 1 where the cluster has GPUs, else 0; 0.5 shares one "
                              "GPU between two workers)")
    cluster.add_argument("--retries", type=_non_negative_int, default=2, metavar="N",
                         help="a video whose worker is lost is tried again up to N times (default 2)")

    live = sub.add_parser("live", help="predict live from a camera, a network stream or a file played in real time",
                          description="Causal windows ending at the newest frame; while the model is busy the "
                                      "waiting window is replaced by the newest (latest wins). Prints one line per "
                                      "prediction with its latency. Ctrl+C stops.")
    live.add_argument("source", help="a camera index (0), a stream URL (rtsp://, http://...), a video file or a "
                                     "folder of images (played at its own speed)")
    live.add_argument("--model", metavar="NAME|PATH", help="as for analyze (default: the shipped default model)")
    _add_inference_options(live)
    live.add_argument("--top-k", type=_positive_int, default=3, help="labels per line (default 3)")
    live.add_argument("--seconds", type=_positive_float, help="stop after this many seconds")
    live.add_argument("--size", metavar="WxH", help="ask a camera for this resolution, e.g. 640x480")
    live.add_argument("--fps", type=_positive_float, help="ask a camera for this frame rate")

    info = sub.add_parser("info", help="show a checkpoint's model card")
    info.add_argument("checkpoint", type=Path)

    zoo = sub.add_parser("zoo", help="the published ViViT models (Kinetics, Epic-Kitchens); `zoo get NAME` installs one",
                         description="The model catalogue: published ViViT weights (scenic's Kinetics-400/600 and "
                                     "Epic-Kitchens-100 models, Hugging Face's Kinetics-400 model). Without a "
                                     "sub-command: list them, with whether each is installed.")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", metavar="get")
    get = zoo_sub.add_parser("get", help="download, convert and install a catalogue model into the user models folder",
                             description="Download NAME (resuming an interrupted download), convert it and install it "
                                         "into the user models folder; then `--model NAME` and the window's Models "
                                         "menu use it.")
    get.add_argument("name", metavar="NAME", help="a name from `vivit-desktop zoo`")
    get.add_argument("--force", action="store_true", help="install again, replacing the installed model")
    get.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_training_commands(sub)
    return parser


def _add_inference_options(parser: argparse.ArgumentParser) -> None:
    """--device, --hop and --precision, declared once for analyze and live."""
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    parser.add_argument("--hop", type=_positive_int, default=None, metavar="HOP",
                        help="a new window every HOP frames (default: the model's: 8; at ViViT-B width and up one "
                             "tubelet's span, 4 frames, for Model 2 and 16 for the others)")
    parser.add_argument("--precision", choices=("auto", "float32", "int8"), default="auto",
                        help="auto: bf16/fp16 on a GPU; on the CPU int8 where it measures faster at load (e.g. "
                             "ViViT-B/L), else float32; int8: dynamic int8 Linear layers (CPU only; a GPU uses "
                             "bf16/fp16 instead)")


def _add_training_commands(sub) -> None:
    data_help = ("a folder with one sub-folder of clips per class (videos or image folders), or "
                 "synthetic:camera-motion for the built-in generator")
    train = sub.add_parser("train", help="train a model on a folder of labelled clips (or generated ones)",
                           description="Train a ViViT on DATA_DIR/<class>/<clips>. Writes OUT.safetensors + "
                                       "OUT.json (the model and its card) and OUT.train.pt (to --resume) at every "
                                       "checkpoint, then evaluates on the held-out clips and writes "
                                       "OUT.confusion.png and OUT.confusion.json.")
    train.add_argument("data", metavar="DATA_DIR", help=data_help)
    train.add_argument("--model", required=True, metavar="NAME",
                       help="architecture from `vivit-desktop models`, e.g. vivit_t16x2_fe")
    train.add_argument("-o", "--out", required=True, type=Path, metavar="OUT", help="output path without extension")
    train.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="override an architecture field, e.g. --set image_size=112 --set depth=6 (repeatable)")
    train.add_argument("--frame-stride", type=_positive_int, default=2, help="one frame every N source frames (default 2)")
    train.add_argument("--fps", type=_positive_float, help="the frame rate clips are sampled at (default: each clip's own)")
    train.add_argument("--steps", type=_positive_int, default=2000, help="optimisation steps (default 2000)")
    train.add_argument("--batch", type=_positive_int, default=32, help="clips per step (default 32)")
    train.add_argument("--lr", type=_positive_float, default=1e-3, help="peak learning rate of AdamW (default 1e-3)")
    train.add_argument("--weight-decay", type=_non_negative_float, default=0.05, help="AdamW weight decay (default 0.05)")
    train.add_argument("--warmup", type=_non_negative_int, default=100, help="linear warm-up steps before cosine decay (default 100)")
    train.add_argument("--label-smoothing", type=_non_negative_float, default=0.1, help="(default 0.1)")
    train.add_argument("--seed", type=int, default=0, help="seeds the initialisation, the data order and the split")
    train.add_argument("--val-fraction", type=float, default=0.2,
                       help="share of each class's clips held out for validation (default 0.2)")
    train.add_argument("--val-clips", type=_positive_int, default=500,
                       help="held-out clips to validate on with synthetic data (default 500)")
    train.add_argument("--eval-every", type=_positive_int, default=250, help="validate and checkpoint every N steps (default 250)")
    train.add_argument("--init", default="random", metavar="random|PATH",
                       help="random, or weights to start from (safetensors or a PyTorch state dict): an image ViT's, "
                            "or a trained Model 1's of the same size (for any variant)")
    train.add_argument("--tubelet-init", choices=("central_frame", "filter_inflation"), default="central_frame",
                       help="how an image ViT's patch filter becomes a tubelet filter (paper, Section 3.4)")
    train.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    train.add_argument("--workers", type=_non_negative_int, default=1, help="data loading processes (default 1)")
    train.add_argument("--resume", action="store_true", help="continue the run saved at OUT")
    train.add_argument("--force", action="store_true", help="start over, replacing a run saved at OUT")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    ev = sub.add_parser("evaluate", help="accuracy, per-class accuracy and the confusion matrix of a checkpoint",
                        description="Evaluate a checkpoint on DATA_DIR/<class>/<clips> (each clip's centred window) "
                                    "and write the confusion matrix as PNG and JSON.")
    ev.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint (NAME.safetensors with NAME.json beside it)")
    ev.add_argument("data", metavar="DATA_DIR", help=data_help + " (its held-out split)")
    ev.add_argument("-o", "--out", type=Path, metavar="PREFIX",
                    help="write PREFIX.png and PREFIX.json (default: CHECKPOINT-NAME.confusion in this folder)")
    ev.add_argument("--clips", type=_positive_int, default=1000, help="clips to generate for synthetic data (default 1000)")
    ev.add_argument("--seed", type=int, default=0, help="seed of generated clips (default 0)")
    ev.add_argument("--batch", type=_positive_int, default=32, help="clips per forward pass (default 32)")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    ev.add_argument("--precision", choices=("float32", "int8"), default="float32",
                    help="int8: the Linear layers dynamically quantised, as `analyze --precision int8` runs "
                         "them (CPU only; default float32)")
    ev.add_argument("--force", action="store_true", help="overwrite existing output files")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")

    gen = sub.add_parser("generate", help="write generated camera-motion clips as a folder dataset",
                         description="Render camera-motion clips (a virtual camera moving over images) into "
                                     "OUT_DIR/<label>/<label>-<index>.mp4, a dataset `train` and `evaluate` read.")
    gen.add_argument("out", type=Path, metavar="OUT_DIR")
    gen.add_argument("--split", choices=("train", "heldout"), default="heldout",
                     help="draw from the training or the held-out images (default heldout)")
    gen.add_argument("--clips-per-class", type=_positive_int, default=10, help="(default 10)")
    gen.add_argument("--seed", type=int, default=0, help="(default 0)")
    gen.add_argument("--size", type=_bounded_int(8, 4096), default=128, help="frame width and height in pixels (default 128)")
    gen.add_argument("--frames", type=_bounded_int(1, 100_000), default=24, help="frames per clip (default 24)")
    gen.add_argument("--fps", type=_positive_float, default=15.0,
                     help="frame rate written; the motion is made for 15 frames per second (default 15)")
    gen.add_argument("--force", action="store_true", help="overwrite clips already in OUT_DIR")


COMMANDS = ("models", "import", "info", "analyze", "live", "train", "evaluate", "generate", "zoo")


def wants_gui(argv: Sequence[str]) -> bool:
    """No sub-command: `vivit-desktop`, `vivit-desktop VIDEO`, `vivit-desktop --model X VIDEO`."""
    if any(a in ("-h", "--help", "--version", "--help-commands") for a in argv):
        return False
    return not any(a in COMMANDS for a in argv)


def _unknown_command(argv: Sequence[str]) -> str | None:
    """`vivit-desktop analyse` used to open the window with "analyse" as a video: a first word
    that is no command, no file, no camera index and no URL is a mistyped command."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS:
        return None
    word = argv[0]
    if Path(word).exists() or word.isdigit() or "://" in word or "/" in word or "\\" in word or "." in word:
        return None
    import difflib

    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    hint = f"; did you mean `vivit-desktop {close[0]}`?" if close else f"; the commands are: {', '.join(COMMANDS)}"
    return f"vivit-desktop: unknown command {word!r} (and no file of that name){hint}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    unknown = _unknown_command(argv)
    if unknown is not None:
        print(unknown, file=sys.stderr)
        return 2
    if wants_gui(argv):
        try:
            from .ui.app import main as gui_main
        except ImportError as e:
            print(f"vivit-desktop: the window needs PySide6 and pyqtgraph ({e}); install them, or use a sub-command "
                  "(vivit-desktop --help)", file=sys.stderr)
            return 1
        return gui_main(argv)
    if "--help-commands" in argv:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    command = {"models": cmd_models, "import": cmd_import, "info": cmd_info, "analyze": cmd_analyze,
               "live": cmd_live, "train": cmd_train, "evaluate": cmd_evaluate, "generate": cmd_generate,
               "zoo": cmd_zoo}[args.command]
    _terminate_as_interrupt()
    try:
        return command(args)
    except Terminated:
        print("terminated (SIGTERM): temporary files removed, no output left half-written", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, OSError) as e:
        print(f"vivit-desktop {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except RecursionError:
        print(f"vivit-desktop {args.command}: error: an input is nested too deeply to be a valid file",
              file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - a bug: one line, the traceback with -v
        if args.verbose:
            raise
        print(f"vivit-desktop {args.command}: unexpected error ({type(e).__name__}: {_one_line(e)}); this is a "
              "bug: run again with -v for the traceback and report it", file=sys.stderr)
        return 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that temporaries are cleaned up as on Ctrl+C."""


def _terminate_as_interrupt() -> None:
    import signal

    def handler(signum, frame):
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests calling main() from a worker)
        pass


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return " ".join(text.split())


def _overrides(args: argparse.Namespace) -> dict:
    pairs = {"num_frames": args.frames, "image_size": args.image_size, "num_classes": args.classes}
    return {k: v for k, v in pairs.items() if v is not None}


def cmd_models(args: argparse.Namespace) -> int:
    from .model import list_models, model_config
    from .catalog import checkpoints
    from .model.checkpoint import checkpoint_files, read_card
    from .paths import shipped_models_dir, user_models_dir

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
    from .model.config import VARIANT_TITLES

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


def _print_stats(configs, overrides: dict) -> None:
    from .model import count_flops, count_params_of

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


def _number(text: str, kind: type):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def _ranged(kind: type, low: float | None = None, high: float | None = None, above: float | None = None):
    """An argparse type: a finite `kind` number from `low` to `high`, or more than `above`."""
    def parse(text: str):
        value = _number(text, kind)
        if low is not None and high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} must be from {low} to {high}")
        if low is not None and high is None and value < low:
            raise argparse.ArgumentTypeError(f"{text} must be at least {low}" if low else f"{text} cannot be negative")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"{text} must be more than {above}")
        return value
    parse.__name__ = "whole number" if kind is int else "number"  # argparse names the type in its message
    return parse


def _bounded_int(low: int, high: int):
    return _ranged(int, low, high)


def _ray_address(text: str) -> str:
    from .cluster import check_address

    try:
        return check_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_positive_int = _ranged(int, 1)
_non_negative_int = _ranged(int, 0)
_positive_float = _ranged(float, above=0)
_non_negative_float = _ranged(float, 0)


def cmd_import(args: argparse.Namespace) -> int:
    from .model import save_model
    from .model.config import VARIANT_TITLES
    from .model.foreign import ScenicOptions, import_checkpoint
    from .paths import user_models_dir

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


def cmd_info(args: argparse.Namespace) -> int:
    from .model.checkpoint import checkpoint_files, read_card

    weights, card_path = checkpoint_files(args.checkpoint)
    print(read_card(card_path).to_json(), end="")
    return 0


def cmd_zoo(args: argparse.Namespace) -> int:
    from . import zoo
    from .paths import user_models_dir

    if args.zoo_command == "get":
        return _zoo_get(args)
    rows = [(e.name, f"{e.title}, {e.model_title.split(':')[0]}", e.dataset, e.top1_text, e.size_text,
             e.licence_short, "installed" if zoo.installed_path(e) else "") for e in zoo.catalogue()]
    header = ("name", "model", "dataset", "top-1 (published)", "size", "licence", "")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for row, e in zip(rows, zoo.catalogue()):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        print(f"    {e.url}")
    print(f"\nSizes are estimates. Licences as each source states them: scenic's model zoo names no licence for its "
          f"checkpoints (scenic's code is Apache-2.0); the Hugging Face model card says MIT.\n"
          f"`vivit-desktop zoo get NAME` installs one into {user_models_dir()}.")
    return 0


def _zoo_get(args: argparse.Namespace) -> int:
    from . import zoo

    bar = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None or bar.total != total:
            from tqdm import tqdm

            if bar is not None:
                bar.close()
            bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024, desc=args.name,
                       leave=False, file=sys.stderr)
        else:
            bar.update(done - bar.n)

    def stage(text: str) -> None:
        nonlocal bar
        if bar is not None:
            bar.close()
            bar = None
        print(f"{args.name}: {text}", file=sys.stderr)

    try:
        weights = zoo.install(args.name, force=args.force, progress=progress, stage=stage)
    except KeyboardInterrupt:
        print("interrupted: nothing was installed; an interrupted download is kept and the next get resumes it",
              file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(f"installed {args.name}: {weights} (use it with --model {args.name}, or from the window's Models menu)")
    return 0


def _load_for_analysis(spec: str | None):
    from .catalog import RANDOM_WEIGHTS, load

    model, model_hash, _ = load(spec)
    if model_hash == RANDOM_WEIGHTS:
        print(f"warning: {spec} has random weights; its predictions are meaningless (use a checkpoint)",
              file=sys.stderr)
    return model, model_hash


def _collect_videos(paths: list[Path]) -> tuple[list[Path], int]:
    """The videos to analyse (a folder's videos, or a folder of images as one sequence) and the
    number of inputs that failed (each reported on stderr: the others still run)."""
    from .engine.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    videos: list[Path] = []
    failed = 0
    for path in paths:
        if path.is_dir():
            try:
                children = sorted(path.iterdir())
            except OSError as e:
                print(f"error: {path}: cannot list the folder ({e.strerror or e}); check its permissions",
                      file=sys.stderr)
                failed += 1
                continue
            inside = [p for p in children if p.suffix.lower() in VIDEO_SUFFIXES]
            if inside:
                videos.extend(inside)
            elif any(p.suffix.lower() in IMAGE_SUFFIXES for p in children):
                videos.append(path)  # a folder of images is one frame sequence
            else:
                print(f"error: {path}: the folder holds no videos and no images", file=sys.stderr)
                failed += 1
        else:
            videos.append(path)
    return videos, failed


def _output_names(videos: list[Path], suffix: str) -> dict[Path, str]:
    """A unique output file name per video: VIDEO_STEM + suffix, or, where two videos share a
    stem (clip.mp4 and clip.mov, or the same name in two folders), VIDEO_NAME + suffix with the
    folder's name before it as far as needed."""
    by_stem: dict[str, list[Path]] = {}
    for video in videos:
        by_stem.setdefault(video.stem, []).append(video)
    names = {}
    for stem, group in by_stem.items():
        if len(group) == 1:
            names[group[0]] = f"{stem}{suffix}"
            continue
        for video in group:
            name = f"{video.name}{suffix}"
            if sum(v.name == video.name for v in group) > 1:
                name = f"{video.resolve().parent.name}-{name}"
            names[video] = name
    if len(set(names.values())) != len(names):
        clash = sorted(v for v in names.values() if list(names.values()).count(v) > 1)[0]
        raise UserError(f"two inputs would both write {clash}; analyse them in separate runs or rename one")
    return names


def _output_for(video: Path, out: Path | None, suffixes: tuple[str, ...], name: str,
                many: bool, flag: str) -> Path | None:
    """Where one video's file goes: `out` itself for one video, or `out`/NAME."""
    if out is None:
        return None
    if many and out.suffix.lower() in suffixes and not out.is_dir():
        raise UserError(f"{flag} {out} names one file but several videos are analysed; give a folder")
    if many or out.is_dir() or not out.suffix:
        out.mkdir(parents=True, exist_ok=True)
        return out / name
    if out.suffix.lower() not in suffixes:
        raise UserError(f"{flag} {out}: give a {' or '.join(suffixes)} file, or a folder")
    return out


def _post_processing(args: argparse.Namespace, labels: tuple[str, ...]):
    from .engine.postprocess import PostProcessing

    fields = PostProcessing.parse_smoothing(args.smooth)
    per_class = []
    for item in args.threshold:
        name, _, value = item.rpartition("=")
        try:
            probability = float(value)
        except ValueError:
            raise UserError(f"--threshold {item!r}: give a probability (0.6) or LABEL=P (walk=0.6)") from None
        if name:
            per_class.append((name, probability))
        else:
            fields["threshold"] = probability
    post = PostProcessing(**fields, class_thresholds=tuple(per_class), hysteresis=args.hysteresis,
                          min_bout_s=args.min_bout)
    post.thresholds(labels)  # unknown labels fail now, not after the first video
    return post


def cmd_analyze(args: argparse.Namespace) -> int:
    import dataclasses

    from .engine.analysis import WindowSettings
    from .engine.cache import ResultCache
    from .engine.predictor import Predictor
    from .engine.sources import SourceError
    from .engine.windows import default_hop

    settings = WindowSettings(hop=1 if args.hop is None else args.hop, batch_size=args.batch)  # checked now
    # (the model's own hop, when none is asked for, once the model is loaded)
    for spec in args.videos:
        if re.match(r"^[a-z][a-z0-9+.-]+://", spec, re.IGNORECASE):  # any URL (not C:/ on Windows)
            raise UserError(f"{spec}: analyze reads files; for a stream use `vivit-desktop live URL`")
    if args.ray is not None:
        from .cluster import import_ray

        import_ray()  # without the extra: one line saying what to install, before anything is loaded
    elif args.workers or args.threads or args.gpus_per_task is not None or args.cpus_per_task != 1.0 \
            or args.retries != 2:
        raise UserError("--workers, --threads, --cpus-per-task, --gpus-per-task and --retries apply to --ray runs; "
                        "add --ray, or leave them out")
    model, model_hash = _load_for_analysis(args.model)
    post = _post_processing(args, model.card.qualified_labels)
    settings = dataclasses.replace(settings, hop=default_hop(model.card) if args.hop is None else args.hop)
    if args.ray is not None:
        return _analyze_on_cluster(args, model, model_hash, post, settings)
    predictor = Predictor(model, device=args.device, precision=args.precision)
    print(f"{model.card.name}: {predictor.device}, {predictor.precision_used} ({predictor.precision_note}), "
          f"hop {settings.hop}")  # what runs, on stdout: stderr carries one line per problem
    cache = ResultCache()
    videos, failures, many, result_names, annotated_names = _plan_videos(args)
    complete: list[Path] = []
    try:
        for video in videos:
            try:
                written = _analyze_one(video, args, model_hash, post, predictor, cache, settings, many,
                                       result_names[video], annotated_names[video])
                complete.extend(written)
            except (SourceError, UserError, OSError, ValueError) as e:
                failures += 1
                _report_failure(video, e)
    except KeyboardInterrupt:
        done = "; ".join(str(p) for p in complete) or "none"
        print(f"interrupted: the video being analysed has no outputs (nothing partial was left); complete "
              f"outputs: {done}", file=sys.stderr)
        raise
    return 1 if failures else 0


def _report_failure(video: Path, error: Exception) -> None:
    """One line on stderr for a video that failed; the others still run."""
    message = str(error) if str(error).startswith(str(video)) else f"{video}: {error}"
    print(f"error: {message}", file=sys.stderr)


def _plan_videos(args: argparse.Namespace):
    """(videos, inputs that failed, whether several, result names, annotated names); stale
    temporaries in the output folders swept."""
    from .fileio import sweep_stale_temporaries

    videos, failures = _collect_videos([Path(v) for v in args.videos])
    many = len(args.videos) > 1 or len(videos) > 1 or any(Path(p).is_dir() for p in args.videos)
    failures = max(failures, 0 if videos or failures else 1)
    result_names = _output_names(videos, f".{args.format}")
    annotated_names = _output_names(videos, ".annotated.mp4")
    for folder in {p for p in (args.out, args.annotated) if p is not None}:
        sweep_stale_temporaries(folder if folder.is_dir() else folder.parent)
    return videos, failures, many, result_names, annotated_names


def _analyze_on_cluster(args, model, model_hash, post, settings) -> int:
    """`analyze --ray`: the jobs the local loop would run, run by vivit_desktop.cluster's workers
    (engine.service.run_job on each); videos whose results exist and match are skipped."""
    from .cluster import ClusterOptions, analyze_on_cluster, model_files

    videos, failures, many, result_names, annotated_names = _plan_videos(args)
    jobs = []
    for video in videos:
        try:
            jobs.append(_job_for(video, args, post, settings, many, result_names[video], annotated_names[video]))
        except (UserError, OSError, ValueError) as e:
            failures += 1
            _report_failure(video, e)
    options = ClusterOptions(address=args.ray or None, workers=args.workers, cpus_per_task=args.cpus_per_task,
                             threads=args.threads, gpus_per_task=args.gpus_per_task, retries=args.retries, device=args.device,
                             precision=args.precision, progress=not args.no_progress, verbose=args.verbose)
    report = analyze_on_cluster(jobs, model_files(args.model, model, model_hash), model.card, options)
    failed = failures + len(report.failed)
    cached = sum(o.cached for o in report.outcomes)
    if report.outcomes or report.failed:
        print(f"{len(report.outcomes)} analysed ({cached} from the cache), {failed} failed, {report.skipped} skipped; "
              f"{report.workers} worker{'s' if report.workers != 1 else ''}, {report.frames} frames in "
              f"{report.seconds:.1f} s ({report.frames_per_second:.1f} frames/s)", file=sys.stderr)
    return 1 if failed else 0


def _analyze_one(video, args, model_hash, post, predictor, cache, settings, many, result_name,
                 annotated_name) -> list[Path]:
    """One video: its outputs checked, analysed (or read from the cache), exported; returns the files
    written. The work is engine.service.run_job, which the cluster runner's workers run too."""
    from .engine.service import run_job

    job = _job_for(video, args, post, settings, many, result_name, annotated_name)
    outcome = run_job(job, predictor, model_hash, cache,
                      lambda stage, description, total, work: _with_progress(description, total, args.no_progress,
                                                                             work))
    for line in outcome.summary:
        print(line)
    return outcome.written


def _job_for(video, args, post, settings, many, result_name, annotated_name):
    """What one video's analysis needs, its output paths chosen (UserError for a bad --out)."""
    from .engine.service import AnalysisJob

    out = _output_for(video, args.out, (".json", ".csv"), result_name, many, "--out")
    annotated = _output_for(video, args.annotated, (".mp4",), annotated_name, many, "--annotated")
    return AnalysisJob(video, out, annotated, settings, post, top_k=args.top_k, force=args.force,
                       use_cache=not args.no_cache)


def cmd_live(args: argparse.Namespace) -> int:
    import threading
    import time

    from .engine.live import LiveRunner
    from .engine.predictor import Predictor
    from .engine.sources import open_source
    from .engine.windows import default_hop

    model, _ = _load_for_analysis(args.model)
    hop = args.hop or default_hop(model.card)
    predictor = Predictor(model, device=args.device, precision=args.precision)
    size = None
    if args.size:
        try:
            width, height = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise UserError(f"--size {args.size!r}: give WIDTHxHEIGHT, e.g. 640x480") from None
        size = (width, height)
    source = open_source(args.source, camera_size=size, camera_fps=args.fps)
    stop = threading.Event()
    errors: list[Exception] = []

    def show(result) -> None:
        w = result.window
        top = "  ".join(f"{label} {p:.2f}" for label, p in w.top(model.card, args.top_k))
        print(f"{result.end_time:8.2f} s  frames {w.start_frame}-{w.end_frame}  {top}  "
              f"(latency {result.latency_s * 1000:.0f} ms, {result.dropped} dropped)", flush=True)

    started = time.perf_counter()
    feeder = None
    try:
        with LiveRunner(predictor, source.fps, hop, on_result=show, on_error=errors.append) as runner:
            feeder = _live_session(args, model, predictor, source, runner, stop, errors, hop, started)
    finally:
        if feeder is None or not feeder.is_alive():
            source.close()  # a reader still blocked in a stalled stream's read is left to the process's exit
    return 0


def _live_session(args, model, predictor, source, runner, stop, errors, hop, started):
    """Feed the runner from a thread, wait for --seconds, the end, a failure or Ctrl+C; returns the feeder."""
    import threading
    import time

    from .engine.sources import paced

    print(f"{source.name}: {source.fps:.1f} fps, model {model.card.name} on {predictor.device} "
          f"({predictor.precision_used}: {predictor.precision_note}), hop {hop}; Ctrl+C stops", file=sys.stderr)
    frames = source.frames() if source.is_live else paced(source.frames())
    failure: list[BaseException] = []

    def feed() -> None:  # a stalled stream blocks in its read: the clock and Ctrl+C must not wait for it
        try:
            runner.run(frames, stop)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failure.append(e)
        finally:
            stop.set()

    feeder = threading.Thread(target=feed, name="vivit-live-feed", daemon=True)
    feeder.start()
    try:
        stop.wait(args.seconds)  # None: until the source ends or fails
    except KeyboardInterrupt:
        stop.set()
        print("interrupted", file=sys.stderr)
    stop.set()
    feeder.join(0.5)
    runner.wait_idle(1.0 if feeder.is_alive() else 30)
    elapsed = time.perf_counter() - started
    print(f"{runner.pushed} frames in {elapsed:.1f} s, {runner.completed} predictions, {runner.dropped} windows "
          "dropped (latest wins)", file=sys.stderr)
    if failure and not isinstance(failure[0], KeyboardInterrupt):
        raise failure[0]
    if errors:
        raise UserError(f"inference failed: {errors[0]}")
    if runner.completed == 0:
        raise UserError(f"no prediction: the source gave {runner.pushed} frame(s) in {elapsed:.1f} s, and a window "
                        f"needs {model.card.num_frames} frames taken every {model.card.frame_stride}")
    return feeder


def _with_progress(description: str, total: int | None, quiet: bool, work):
    """Run `work(tick)` with a tqdm bar on stderr (unless quiet); tick(n) advances it."""
    if quiet:
        return work(None)
    from tqdm import tqdm

    with tqdm(total=total, unit="frame", desc=description, leave=False, file=sys.stderr) as bar:
        return work(bar.update)


def _config_overrides(pairs: list[str]) -> dict:
    """--set FIELD=VALUE pairs, typed by the config field (int, float, bool or text); never evaluated."""
    import dataclasses

    from .model.config import ViViTConfig

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


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from .engine.predictor import pick_device
    from .model import create_model
    from .model.importers import init_from_image_vit, init_from_model1, is_model1_state
    from .model.scenic import read_init_weights
    from .train import TrainSettings, class_folders, open_dataset, train
    from .train.data import SYNTHETIC_PREFIX
    from .train.generator import LABELS
    from .train.trainer import check_outputs

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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .engine.predictor import pick_device, quantize_int8
    from .train import evaluate, open_dataset
    from .train.evaluate import evaluation_files

    model, _ = _load_for_analysis(args.checkpoint)
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


def cmd_generate(args: argparse.Namespace) -> int:
    import cv2

    from .engine.annotate import open_mp4_writer
    from .fileio import atomic_path
    from .train.generator import LABELS, render_clip

    if args.clips_per_class < 1 or args.size < 16 or args.frames < 2:
        raise UserError("--clips-per-class must be at least 1, --size at least 16 and --frames at least 2")
    for label in LABELS:
        (args.out / label).mkdir(parents=True, exist_ok=True)
    written = 0
    for i in range(args.clips_per_class * len(LABELS)):
        frames, label, _ = render_clip(i, split=args.split, seed=args.seed, size=args.size, num_frames=args.frames)
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
