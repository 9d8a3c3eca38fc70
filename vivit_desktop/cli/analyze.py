"""`vivit-desktop analyze`: whole videos headless, one after another (engine.service.run_job on each) or
on a Ray cluster (vivit_desktop.cluster), with their exports."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..errors import VivitError
from .common import (ranged, UserError, add_inference_options, load_for_analysis, non_negative_float, non_negative_int,
                     positive_float, positive_int)

NAME = "analyze"


def add_parser(sub) -> None:
    analyze = sub.add_parser("analyze", help="analyse videos headless and export the predictions",
                             description="Run the sliding-window classifier over whole videos (files, or folders "
                                         "of videos) and export per-window, per-frame and per-segment results.")
    analyze.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or folders of videos")
    analyze.add_argument("--model", metavar="NAME|PATH",
                         help="a shipped or user checkpoint's name (see `vivit-desktop models`), a checkpoint path "
                              "(NAME.safetensors with NAME.json), or a registered architecture name (random weights: "
                              "for checking the pipeline only); default: the shipped default model")
    add_inference_options(analyze)
    analyze.add_argument("--batch", type=positive_int, default=8, help="windows per forward pass (default 8)")
    analyze.add_argument("--top-k", type=positive_int, default=5, help="labels listed per window in the JSON (default 5)")
    analyze.add_argument("--out", type=Path, metavar="FILE.json|FILE.csv|FOLDER",
                         help="where to write results: a .json or .csv file for one video, a folder for several")
    analyze.add_argument("--format", choices=("json", "csv"), default="json",
                         help="file format when --out is a folder (default json)")
    analyze.add_argument("--annotated", type=Path, metavar="OUT.mp4|FOLDER",
                         help="also write the video with the top-k predictions drawn on it (a folder for several)")
    analyze.add_argument("--heatmap", type=ranged(float, 0.0, 1.0), default=0.0, metavar="OPACITY",
                         help="with --annotated: draw where the model looks (its spatial attention over the "
                              "region it saw) at this opacity, 0-1 (default 0: none)")
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
    post.add_argument("--hysteresis", type=positive_int, default=1, metavar="N",
                      help="the label changes only when N consecutive frames agree (default 1)")
    post.add_argument("--min-bout", type=non_negative_float, default=0.0, metavar="SECONDS",
                      help="merge segments shorter than this into a neighbour (default 0)")
    cluster = analyze.add_argument_group(
        "on a Ray cluster (pip install 'vivit-desktop[cluster]'; README: \"Analysing an archive on a cluster\")")
    cluster.add_argument("--ray", nargs="?", const="", type=_ray_address, metavar="ADDRESS",
                         help="one Ray task per video on a pool of workers that each load the model once; no "
                              "ADDRESS: a local Ray instance, else auto, ray://HOST:PORT or HOST:PORT. Videos whose "
                              "results exist and match (model and settings) are skipped, so a re-run resumes")
    cluster.add_argument("--workers", type=positive_int, metavar="N",
                         help="workers (default: as many as the cluster's CPUs, or GPUs, hold)")
    cluster.add_argument("--cpus-per-task", type=positive_float, default=1.0, metavar="N",
                         help="CPUs Ray reserves per worker (default 1)")
    cluster.add_argument("--threads", type=positive_int, default=None, metavar="N",
                         help="torch threads per CPU worker (default: the node's cores, as a local run, so results "
                              "equal a local run's; fewer is faster when workers share a node, but the last digit "
                              "of a probability may then differ)")
    cluster.add_argument("--gpus-per-task", type=non_negative_float, default=None, metavar="N",
                         help="GPUs per worker (default: 1 where the cluster has GPUs, else 0; 0.5 shares one "
                              "GPU between two workers)")
    cluster.add_argument("--retries", type=non_negative_int, default=2, metavar="N",
                         help="a video whose worker is lost is tried again up to N times (default 2)")


def _ray_address(text: str) -> str:
    from ..cluster import check_address

    try:
        return check_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from ..engine.analysis import WindowSettings
    from ..engine.cache import ResultCache
    from ..engine.predictor import Predictor
    from ..engine.windows import default_hop

    settings = WindowSettings(hop=1 if args.hop is None else args.hop, batch_size=args.batch)  # checked now
    # (the model's own hop, when none is asked for, once the model is loaded)
    for spec in args.videos:
        if re.match(r"^[a-z][a-z0-9+.-]+://", spec, re.IGNORECASE):  # any URL (not C:/ on Windows)
            raise UserError(f"{spec}: analyze reads files; for a stream use `vivit-desktop live URL`")
    if args.ray is not None:
        from ..cluster import import_ray

        import_ray()  # without the extra: one line saying what to install, before anything is loaded
    elif args.workers or args.threads or args.gpus_per_task is not None or args.cpus_per_task != 1.0 \
            or args.retries != 2:
        raise UserError("--workers, --threads, --cpus-per-task, --gpus-per-task and --retries apply to --ray runs; "
                        "add --ray, or leave them out")
    model, model_hash = load_for_analysis(args.model)
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
            except (VivitError, OSError, ValueError) as e:  # SourceError, UserError, ...
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
    from ..fileio import sweep_stale_temporaries

    videos, failures = _collect_videos([Path(v) for v in args.videos])
    many = len(args.videos) > 1 or len(videos) > 1 or any(Path(p).is_dir() for p in args.videos)
    failures = max(failures, 0 if videos or failures else 1)
    result_names = _output_names(videos, f".{args.format}")
    annotated_names = _output_names(videos, ".annotated.mp4")
    for folder in {p for p in (args.out, args.annotated) if p is not None}:
        sweep_stale_temporaries(folder if folder.is_dir() else folder.parent)
    return videos, failures, many, result_names, annotated_names


def _collect_videos(paths: list[Path]) -> tuple[list[Path], int]:
    """The videos to analyse (a folder's videos, or a folder of images as one sequence) and the
    number of inputs that failed (each reported on stderr: the others still run)."""
    from ..engine.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES

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
    from ..engine.postprocess import PostProcessing

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


def _analyze_on_cluster(args, model, model_hash, post, settings) -> int:
    """`analyze --ray`: the jobs the local loop would run, run by vivit_desktop.cluster's workers
    (engine.service.run_job on each); videos whose results exist and match are skipped."""
    from ..cluster import ClusterOptions, analyze_on_cluster, model_files

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
    from ..engine.service import run_job

    job = _job_for(video, args, post, settings, many, result_name, annotated_name)
    outcome = run_job(job, predictor, model_hash, cache,
                      lambda stage, description, total, work: _with_progress(description, total, args.no_progress,
                                                                             work))
    for line in outcome.summary:
        print(line)
    return outcome.written


def _job_for(video, args, post, settings, many, result_name, annotated_name):
    """What one video's analysis needs, its output paths chosen (UserError for a bad --out)."""
    from ..engine.service import AnalysisJob

    out = _output_for(video, args.out, (".json", ".csv"), result_name, many, "--out")
    annotated = _output_for(video, args.annotated, (".mp4",), annotated_name, many, "--annotated")
    return AnalysisJob(video, out, annotated, settings, post, top_k=args.top_k, force=args.force,
                       use_cache=not args.no_cache, heatmap_opacity=args.heatmap)


def _with_progress(description: str, total: int | None, quiet: bool, work):
    """Run `work(tick)` with a tqdm bar on stderr (unless quiet); tick(n) advances it."""
    if quiet:
        return work(None)
    from tqdm import tqdm

    with tqdm(total=total, unit="frame", desc=description, leave=False, file=sys.stderr) as bar:
        return work(bar.update)
