"""One video's analysis workflow, written once: its outputs checked, the analysis run (or read
from the sidecar cache), the exports written atomically, and the summary `analyze` prints.

`vivit-desktop analyze` runs `run_job` for one video after another; the cluster runner's workers
(vivit_desktop/cluster.py) run the same function, so a video's results, exports and cache entry
are the same wherever it was analysed. The window analyses a file with `analyse_video`, the part
of `run_job` that reads or fills the cache. Each stops when its `CancelToken` is cancelled. No Qt,
no Ray."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..cancel import CancelToken
from ..fileio import check_writable, sha256_file
from ..model.config import ModelCard
from .analysis import WindowSettings, analyze_source
from .cache import ResultCache
from .postprocess import PostProcessing
from .results import AnalysisResult, window_settings
from .sources import SourceError, open_source

# progress(stage, description, total, work) runs work(tick) and returns what it returns; tick(n)
# (or None) advances a display by n frames. Stages: "analysis" (frames through the model, or
# decoded) and "annotation" (frames written to the annotated video).
Progress = Callable[[str, str, "int | None", Callable], object]


def no_progress(stage: str, description: str, total: int | None, work: Callable):
    return work(None)


@dataclass(frozen=True)
class AnalysisJob:
    """What one video's analysis needs besides the model: picklable, so it can travel to a
    worker on another machine (which must see the same paths)."""
    video: Path
    out: Path | None  # the results file (.json, or .csv with its two siblings), already chosen
    annotated: Path | None  # the annotated video (.mp4)
    settings: WindowSettings
    post: PostProcessing = field(default_factory=PostProcessing)
    top_k: int = 5
    force: bool = False  # overwrite existing outputs
    use_cache: bool = True  # read the sidecar cache (a finished analysis is stored either way)
    heatmap_opacity: float = 0.0  # > 0: the annotated video shows the spatial attention map


@dataclass
class JobOutcome:
    video: Path
    written: list[Path]
    summary: list[str]  # the lines `analyze` prints for this video
    cached: bool  # read from the cache: no inference ran
    frames: int  # frames in the video
    seconds: float  # the analysis's own time (0 when cached)


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b) or a.resolve() == b.resolve()
    except OSError:
        return False


def analyse_video(video: Path, predictor, model_hash: str, settings: WindowSettings,
                  cache: ResultCache | None = None, *, use_cache: bool = True, progress: Progress = no_progress,
                  on_windows: Callable[[list], None] | None = None,
                  cancel: CancelToken | None = None,
                  on_times: Callable[[list[float]], None] | None = None,
                  need_spatial: bool = False, decoder_threads: int | None = None) -> tuple[AnalysisResult, bool]:
    """(the analysis of one video file, whether it came from the cache). With `use_cache` the
    sidecar cache is read first, under the video's and the model's SHA-256, the hop and the
    precision; otherwise the model runs (`on_windows(batch)` as batches finish, after `on_times` with the timestamps of
    the frames decoded since) and the finished
    analysis is stored either way (random weights never are: the cache refuses them). Raises
    SourceError for a missing or unreadable video and one in which no window could be analysed,
    and engine.analysis.Cancelled once `cancel` is cancelled (nothing is stored then). The CLI
    (through run_job), the cluster's workers and the window all analyse files here."""
    cache = cache if cache is not None else ResultCache()
    if not video.exists() and not video.is_symlink():
        raise SourceError(f"{video}: no such file")
    video_hash = sha256_file(video) if video.is_file() else ""
    result = cache.load(video_hash, model_hash, predictor.card, settings.hop,
                        getattr(predictor, "precision_used", "float32")) if use_cache else None
    if result is not None and not (need_spatial and result.spatial_maps() is None):
        return result, True  # (a result cached before spatial maps were kept is analysed again when they are needed)
    with open_source(video, decoder_threads=decoder_threads) as source:
        result = progress("analysis", video.name, source.claimed_frame_count,
                          lambda tick: analyze_source(source, predictor, settings, tick, on_windows, cancel,
                                                                   on_times))
    result.model_sha256, result.video_sha256 = model_hash, video_hash
    if not result.windows:
        raise SourceError(f"{video}: no window could be analysed ({result.frame_count} frames decoded); "
                          "nothing was written")
    cache.store(result)
    return result, False


def run_job(job: AnalysisJob, predictor, model_hash: str, cache: ResultCache | None = None,
            progress: Progress = no_progress, cancel: CancelToken | None = None) -> JobOutcome:
    """Analyse one video and write its outputs. Raises SourceError (unreadable video), ValueError
    (an output that is an input, NaN outputs), OSError (an output that exists without `force`, a
    folder that is not writable), or cancel.Cancelled (engine.analysis.Cancelled while analysing)
    once `cancel` is cancelled; in each case no output is left half-written."""
    video = job.video
    if not video.exists() and not video.is_symlink():
        raise SourceError(f"{video}: no such file")
    for target in (job.out, job.annotated):
        if target is None:
            continue
        if same_file(target, video):
            raise ValueError(f"{target} is the video being analysed; an output never replaces an input")
        check_writable(target, job.force)  # refuse before spending time on the analysis
    result, cached = analyse_video(video, predictor, model_hash, job.settings, cache, use_cache=job.use_cache,
                                   progress=progress, cancel=cancel,
                                   need_spatial=job.annotated is not None and job.heatmap_opacity > 0)
    result.source = video.name  # the file analysed now, even if its content was analysed under another name
    result.post = job.post
    written: list[Path] = []
    if job.out is not None and job.out.suffix.lower() == ".csv":
        written = result.write_csv(job.out, overwrite=job.force, top_k=job.top_k)
    elif job.out is not None:
        written = result.write_json(job.out, overwrite=job.force, top_k=job.top_k)
    if job.annotated is not None:
        from .annotate import write_annotated

        annotated = job.annotated
        with open_source(video) as source:
            written.append(progress("annotation", f"{video.name} (annotating)", result.frame_count,
                                    lambda tick: write_annotated(result, source, annotated, job.force,
                                                                 min(job.top_k, 3), tick, cancel,
                                                                 heatmap_opacity=job.heatmap_opacity)))
    return JobOutcome(video, written, summary_lines(video, result, written, cached), cached, result.frame_count,
                      0.0 if cached else result.seconds)


def summary_lines(video: Path, result: AnalysisResult, written, cached: bool = False) -> list[str]:
    counted = f"{result.frame_count} frames"
    if result.claimed_frame_count and result.claimed_frame_count != result.frame_count:
        counted += f" (the container claims {result.claimed_frame_count})"
    if result.frames_skipped:
        counted += f", {result.frames_skipped} undecodable skipped"
    speed = result.frame_count / result.seconds if result.seconds else float("inf")
    top = ", ".join(f"{label} {share:.0%}" for label, share in result.top_actions())
    if cached:
        lines = [f"{video}: {counted}, {len(result.windows)} windows, from the cache (no inference; --no-cache "
                 "to run again)"]
    else:
        lines = [f"{video}: {counted}, {len(result.windows)} windows on {result.device}; "
                 f"{speed:.1f} frames/s, {result.duration / result.seconds if result.seconds else 0:.2f}x real time"]
    lines.append(f"  top actions (share of frames): {top or 'none'}")
    lines += [f"  warning: {warning}" for warning in result.warnings()]
    lines += [f"  wrote {path}" for path in written]
    return lines


def results_match(job: AnalysisJob, card: ModelCard, model_hash: str) -> bool:
    """Whether `job`'s outputs exist and were made from this video's name, by this model (its
    SHA-256) with these window and post-processing settings and top-k: a re-run may then skip the
    video (an interrupted archive run resumes). Only what the files record is compared; the
    video's own hash is not (hashing an archive again would cost as much as reading it)."""
    if job.out is None or job.force or model_hash in ("", "random-weights"):
        return False
    if job.annotated is not None and not job.annotated.is_file():
        return False
    expected = window_settings(card, job.settings.hop) | {"post": job.post.to_dict()}
    # what json.loads gives back for the settings (tuples become lists, int keys strings)
    expected = json.loads(json.dumps(expected))
    try:
        if job.out.suffix.lower() == ".csv":
            return _csv_matches(job.out, expected, model_hash, job.video.name)
        data = json.loads(job.out.read_text(encoding="utf-8"))
        windows = data["windows"]
        top = sum(min(job.top_k, size) for _, a, b in card.head_slices() for size in (b - a,))
        return (data["model"]["sha256"] == model_hash and data["settings"] == expected
                and data["source"] == job.video.name and bool(windows) and len(windows[0]["top"]) == top)
    except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError):
        return False


def _csv_matches(path: Path, expected: dict, model_hash: str, source: str) -> bool:
    stem = path.with_suffix("")
    siblings = [stem.with_name(stem.name + ".windows.csv"), stem.with_name(stem.name + ".segments.csv")]
    if not all(p.is_file() for p in siblings):
        return False
    with open(path, encoding="utf-8") as f:
        head = [f.readline().rstrip("\n") for _ in range(3)]
    return (head[0] == f"# source: {source}" and head[1].endswith(f" sha256 {model_hash}")
            and head[2].startswith("# settings: ") and json.loads(head[2][len("# settings: "):]) == expected)
