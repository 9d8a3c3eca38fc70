"""`vivit-desktop`: the command line. Heavy modules are imported inside the commands, so
`--help` and `--version` are instant. Errors the user can fix print one line and exit non-zero."""

from __future__ import annotations

import argparse
import logging
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
    models.add_argument("--frames", type=int, help="override the number of input frames")
    models.add_argument("--image-size", type=int, help="override the input size in pixels")
    models.add_argument("--classes", type=int, help="override the number of classes")

    imp = sub.add_parser("import", help="convert a Hugging Face ViViT checkpoint into a native one",
                         description="Import a Hugging Face VivitForVideoClassification directory (config.json "
                                     "and model.safetensors or pytorch_model.bin) as OUT.safetensors + OUT.json.")
    imp.add_argument("path", type=Path, help="the Hugging Face checkpoint directory")
    imp.add_argument("-o", "--output", type=Path,
                     help="output path without extension (default: the user models folder / the directory's name)")
    imp.add_argument("--force", action="store_true", help="overwrite existing output files")

    analyze = sub.add_parser("analyze", help="analyse videos headless and export the predictions",
                             description="Run the sliding-window classifier over whole videos (files, or folders "
                                         "of videos) and export per-window, per-frame and per-segment results.")
    analyze.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or folders of videos")
    analyze.add_argument("--model", required=True, metavar="NAME|PATH",
                         help="a checkpoint (NAME.safetensors with NAME.json), or a registered architecture name "
                              "(random weights: for checking the pipeline only)")
    analyze.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    analyze.add_argument("--hop", type=int, default=8, help="a new window every HOP frames (default 8)")
    analyze.add_argument("--batch", type=int, default=8, help="windows per forward pass (default 8)")
    analyze.add_argument("--top-k", type=int, default=5, help="labels listed per window in the JSON (default 5)")
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
    post.add_argument("--hysteresis", type=int, default=1, metavar="N",
                      help="the label changes only when N consecutive frames agree (default 1)")
    post.add_argument("--min-bout", type=float, default=0.0, metavar="SECONDS",
                      help="merge segments shorter than this into a neighbour (default 0)")

    live = sub.add_parser("live", help="predict live from a camera, a network stream or a file played in real time",
                          description="Causal windows ending at the newest frame; while the model is busy the "
                                      "waiting window is replaced by the newest (latest wins). Prints one line per "
                                      "prediction with its latency. Ctrl+C stops.")
    live.add_argument("source", help="a camera index (0), a stream URL (rtsp://, http://...), a video file or a "
                                     "folder of images (played at its own speed)")
    live.add_argument("--model", required=True, metavar="NAME|PATH", help="as for analyze")
    live.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    live.add_argument("--hop", type=int, default=8, help="a new window every HOP frames (default 8)")
    live.add_argument("--top-k", type=int, default=3, help="labels per line (default 3)")
    live.add_argument("--seconds", type=float, help="stop after this many seconds")
    live.add_argument("--size", metavar="WxH", help="ask a camera for this resolution, e.g. 640x480")
    live.add_argument("--fps", type=float, help="ask a camera for this frame rate")

    info = sub.add_parser("info", help="show a checkpoint's model card")
    info.add_argument("checkpoint", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 0
    command = {"models": cmd_models, "import": cmd_import, "info": cmd_info, "analyze": cmd_analyze,
               "live": cmd_live}[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, OSError) as e:
        print(f"vivit-desktop {args.command}: error: {e}", file=sys.stderr)
        return 1


def _overrides(args: argparse.Namespace) -> dict:
    pairs = {"num_frames": args.frames, "image_size": args.image_size, "num_classes": args.classes}
    return {k: v for k, v in pairs.items() if v is not None}


def cmd_models(args: argparse.Namespace) -> int:
    from .model import list_models, model_config
    from .model.checkpoint import find_checkpoints, read_card, checkpoint_files
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
        for title, folder in (("Shipped checkpoints", shipped_models_dir()), ("User checkpoints", user_models_dir())):
            found = find_checkpoints(folder)
            print(f"\n{title} ({folder}):" + ("" if found else " none"))
            for path, card in found:
                if isinstance(card, Exception):
                    print(f"  {path.name}: unusable: {card.problem}")
                else:
                    print(f"  {path.stem:<22} {VARIANT_TITLES[card.variant]}, {len(card.labels)} classes, "
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


def cmd_import(args: argparse.Namespace) -> int:
    from .model import import_hf_vivit, save_model
    from .paths import user_models_dir

    model = import_hf_vivit(args.path)
    output = args.output
    if output is None:
        user_models_dir().mkdir(parents=True, exist_ok=True)
        output = user_models_dir() / args.path.resolve().name
    weights, card = save_model(model, output, overwrite=args.force)
    c = model.config
    print(f"imported {args.path} -> {weights} + {card.name}")
    print(f"  Model 1 (spatio-temporal), width {c.hidden_size}, depth {c.depth}, {c.num_classes} classes, "
          f"{c.num_frames} frames of {c.image_size}px")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .model.checkpoint import checkpoint_files, read_card

    weights, card_path = checkpoint_files(args.checkpoint)
    print(read_card(card_path).to_json(), end="")
    return 0


def _load_for_analysis(spec: str):
    from .model import create_model, list_models, load_model
    from .fileio import sha256_file
    from .model.checkpoint import checkpoint_files

    if spec in list_models():
        print(f"warning: {spec} has random weights; its predictions are meaningless (use a checkpoint)",
              file=sys.stderr)
        return create_model(spec), "random-weights"
    weights, _ = checkpoint_files(spec)
    model = load_model(spec)
    return model, sha256_file(weights)


def _collect_videos(paths: list[Path]) -> tuple[list[Path], int]:
    """The videos to analyse (a folder's videos, or a folder of images as one sequence) and the
    number of folders that held neither (each reported on stderr)."""
    from .engine.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    videos: list[Path] = []
    empty = 0
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            if inside:
                videos.extend(inside)
            elif any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
                videos.append(path)  # a folder of images is one frame sequence
            else:
                print(f"error: {path}: the folder holds no videos and no images", file=sys.stderr)
                empty += 1
        else:
            videos.append(path)
    return videos, empty


def _output_for(video: Path, out: Path | None, suffixes: tuple[str, ...], default_suffix: str,
                many: bool, flag: str) -> Path | None:
    """Where one video's file goes: `out` itself for one video, or `out`/VIDEO.suffix."""
    if out is None:
        return None
    if many or out.is_dir() or not out.suffix:
        out.mkdir(parents=True, exist_ok=True)
        return out / f"{video.stem}{default_suffix}"
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
    from .engine.analysis import WindowSettings, analyze_source
    from .engine.cache import ResultCache
    from .engine.predictor import Predictor
    from .engine.sources import SourceError, open_source
    from .fileio import check_writable, sha256_file

    settings = WindowSettings(hop=args.hop, batch_size=args.batch)
    if args.top_k < 1:
        raise UserError("--top-k must be at least 1")
    model, model_hash = _load_for_analysis(args.model)
    post = _post_processing(args, model.card.labels)
    predictor = Predictor(model, device=args.device)
    cache = ResultCache()
    for spec in args.videos:
        if re.match(r"^[a-z][a-z0-9+.-]+://", spec, re.IGNORECASE):  # any URL (not C:/ on Windows)
            raise UserError(f"{spec}: analyze reads files; for a stream use `vivit-desktop live URL`")
    videos, failures = _collect_videos([Path(v) for v in args.videos])
    many = len(args.videos) > 1 or len(videos) > 1 or any(Path(p).is_dir() for p in args.videos)
    failures = max(failures, 0 if videos else 1)
    for video in videos:
        try:
            out = _output_for(video, args.out, (".json", ".csv"), f".{args.format}", many, "--out")
            annotated = _output_for(video, args.annotated, (".mp4",), ".annotated.mp4", many, "--annotated")
            for target in (out, annotated):
                if target is not None:
                    check_writable(target, args.force)  # refuse before spending time on the analysis
            if not video.exists():
                raise SourceError(f"{video}: no such file")
            video_hash = sha256_file(video) if video.is_file() else ""
            result = None if args.no_cache else cache.load(video_hash, model_hash, model.card, settings.hop)
            if result is None:
                with open_source(video) as source:
                    result = _with_progress(video.name, source.claimed_frame_count, args.no_progress,
                                            lambda tick: analyze_source(source, predictor, settings, tick))
                result.model_sha256, result.video_sha256 = model_hash, video_hash
                cache.store(result)
                cached = False
            else:
                cached = True
            result.post = post
            written = []
            if out is not None and out.suffix.lower() == ".csv":
                written = result.write_csv(out, overwrite=args.force, top_k=args.top_k)
            elif out is not None:
                written = result.write_json(out, overwrite=args.force, top_k=args.top_k)
            if annotated is not None:
                from .engine.annotate import write_annotated

                with open_source(video) as source:
                    written.append(_with_progress(f"{video.name} (annotating)", result.frame_count, args.no_progress,
                                                  lambda tick: write_annotated(result, source, annotated, args.force,
                                                                               min(args.top_k, 3), tick)))
            _print_summary(video, result, written, cached)
        except (SourceError, UserError, OSError, ValueError) as e:
            failures += 1
            message = str(e) if str(e).startswith(str(video)) else f"{video}: {e}"
            print(f"error: {message}", file=sys.stderr)
    return 1 if failures else 0


def cmd_live(args: argparse.Namespace) -> int:
    import threading
    import time

    from .engine.live import LiveRunner
    from .engine.predictor import Predictor
    from .engine.sources import open_source, paced

    if args.hop < 1 or args.top_k < 1:
        raise UserError("--hop and --top-k must be at least 1")
    model, _ = _load_for_analysis(args.model)
    predictor = Predictor(model, device=args.device)
    labels = model.card.labels
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
        top = "  ".join(f"{labels[i]} {w.probs[i]:.2f}" for i in w.probs.argsort()[::-1][:args.top_k])
        print(f"{result.end_time:8.2f} s  frames {w.start_frame}-{w.end_frame}  {top}  "
              f"(latency {result.latency_s * 1000:.0f} ms, {result.dropped} dropped)", flush=True)

    if args.seconds:
        timer = threading.Timer(args.seconds, stop.set)
        timer.daemon = True
        timer.start()
    started = time.perf_counter()
    with source, LiveRunner(predictor, source.fps, args.hop, on_result=show, on_error=errors.append) as runner:
        print(f"{source.name}: {source.fps:.1f} fps, model {model.card.name}, hop {args.hop}; Ctrl+C stops",
              file=sys.stderr)
        frames = source.frames() if source.is_live else paced(source.frames())
        try:
            runner.run(frames, stop)
        finally:
            stop.set()
            runner.wait_idle(30)
    elapsed = time.perf_counter() - started
    print(f"{runner.pushed} frames in {elapsed:.1f} s, {runner.completed} predictions, {runner.dropped} windows "
          "dropped (latest wins)", file=sys.stderr)
    if errors:
        raise UserError(f"inference failed: {errors[0]}")
    return 0


def _with_progress(description: str, total: int | None, quiet: bool, work):
    """Run `work(tick)` with a tqdm bar on stderr (unless quiet); tick(n) advances it."""
    if quiet:
        return work(None)
    from tqdm import tqdm

    with tqdm(total=total, unit="frame", desc=description, leave=False, file=sys.stderr) as bar:
        return work(bar.update)


def _print_summary(video: Path, result, written, cached: bool = False) -> None:
    counted = f"{result.frame_count} frames"
    if result.claimed_frame_count and result.claimed_frame_count != result.frame_count:
        counted += f" (the container claims {result.claimed_frame_count})"
    if result.frames_skipped:
        counted += f", {result.frames_skipped} undecodable skipped"
    speed = result.frame_count / result.seconds if result.seconds else float("inf")
    top = ", ".join(f"{label} {share:.0%}" for label, share in result.top_actions())
    if cached:
        print(f"{video}: {counted}, {len(result.windows)} windows, from the cache (no inference; --no-cache "
              "to run again)")
    else:
        print(f"{video}: {counted}, {len(result.windows)} windows on {result.device}; "
              f"{speed:.1f} frames/s, {result.duration / result.seconds if result.seconds else 0:.2f}x real time")
    print(f"  top actions (share of frames): {top}")
    for path in written:
        print(f"  wrote {path}")
