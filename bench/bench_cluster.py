"""`analyze --ray` against the plain sequential run (issue 20): 20 short clips cut from
../shared/media with ffmpeg, the shipped default model, frames per second and what Ray adds per
video. Prints Markdown for bench/RESULTS.md.

    python bench/bench_cluster.py [--model NAME] [--clips 20] [--seconds 3]

Runs, each on the same 20 clips with no cached results (`--no-cache` semantics), float32:
- sequential: engine.service.run_job in a loop in this process (the model loaded once), which is
  what `vivit-desktop analyze FOLDER` does after its start-up;
- Ray, 1 worker / 2 workers: vivit_desktop.cluster.analyze_on_cluster on a local Ray instance
  started for the run (start-up = connecting, starting the workers, loading the model in each);
  with 2 workers, both torch thread settings: as a local run (the node's cores: results equal a
  local run's) and 1 thread per worker (`--threads 1`);
- end to end: the two commands a user types, timed from the shell's side.
The per-video overhead is the workers' time not spent in the per-video work itself: (time from
the first video handed out to the last result × workers − the workers' own time in run_job) /
videos: scheduling, shipping the job and the result, the progress polls (and, with 2 workers,
one worker idle while the other finishes the last video)."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MEDIA = Path(os.environ.get("VIVIT_DESKTOP_MEDIA", ROOT.parent / "shared" / "media"))
SOURCES = ("arm_wrestling.mp4", "flipping_pancake.mkv", "eye_makeup.avi", "bikes.mp4", "carphone.mp4",
           "cellauto_vp9.webm")


def make_clips(folder: Path, count: int, seconds: float) -> list[Path]:
    """`count` clips of `seconds` each, cut from the real clips at different offsets (H.264)."""
    clips = []
    for i in range(count):
        source = MEDIA / SOURCES[i % len(SOURCES)]
        start = (i // len(SOURCES)) * 1.0
        path = folder / f"clip{i:02d}.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{start}", "-i", str(source), "-t", f"{seconds}",
                        "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)],
                       check=True)
        clips.append(path)
    return clips


def jobs_for(clips: list[Path], out: Path, settings, post):
    from vivit_desktop.engine.service import AnalysisJob

    out.mkdir(parents=True, exist_ok=True)
    return [AnalysisJob(c, out / f"{c.stem}.json", None, settings, post, use_cache=False) for c in clips]


def sequential(spec, clips, out, settings, post, threads: int | None = None) -> dict:
    import torch

    from vivit_desktop.catalog import load
    from vivit_desktop.engine.predictor import Predictor
    from vivit_desktop.engine.service import run_job

    start = time.perf_counter()
    model, model_hash, _ = load(spec)
    predictor = Predictor(model, device="cpu", precision="float32")  # torch threads = cores, as `analyze`
    if threads:
        torch.set_num_threads(threads)
    loaded = time.perf_counter()
    frames = 0
    for job in jobs_for(clips, out, settings, post):
        frames += run_job(job, predictor, model_hash).frames
    end = time.perf_counter()
    return {"frames": frames, "startup": loaded - start, "work": end - loaded, "total": end - start,
            "overhead": 0.0}


def on_ray(spec, clips, out, settings, post, workers: int, threads: int | None) -> dict:
    from vivit_desktop.catalog import load
    from vivit_desktop.cluster import ClusterOptions, analyze_on_cluster, model_files

    start = time.perf_counter()
    model, model_hash, _ = load(spec)
    options = ClusterOptions(workers=workers, threads=threads, precision="float32", progress=False)
    lines: list[str] = []
    report = analyze_on_cluster(jobs_for(clips, out, settings, post), model_files(spec, model, model_hash),
                                model.card, options, out=lines.append, err=lines.append)
    end = time.perf_counter()
    assert not report.failed, report.failed
    return {"frames": report.frames, "startup": end - start - report.seconds, "work": report.seconds,
            "total": end - start, "overhead": report.overhead_per_video}


def end_to_end(spec, folder: Path, out: Path, ray: bool) -> float:
    command = [sys.executable, "-m", "vivit_desktop", "analyze", str(folder), "--out", str(out), "--no-progress",
               "--no-cache", "--precision", "float32", "--model", spec]
    if ray:
        command += ["--workers", "2", "--ray"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a checkpoint name or path (default: the shipped default)")
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind, interleaved; medians reported")
    args = parser.parse_args()
    if not MEDIA.is_dir() or shutil.which("ffmpeg") is None:
        sys.exit(f"needs the real clips at {MEDIA} (VIVIT_DESKTOP_MEDIA) and the ffmpeg command")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import dataclasses

    from vivit_desktop.catalog import load, resolve
    from vivit_desktop.engine.analysis import WindowSettings
    from vivit_desktop.engine.postprocess import PostProcessing
    from vivit_desktop.engine.windows import default_hop

    spec = str(resolve(args.model))
    card = load(spec)[0].card
    settings = dataclasses.replace(WindowSettings(), hop=default_hop(card))
    post = PostProcessing()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        tmp = Path(tmp)
        os.environ["VIVIT_DESKTOP_CACHE"] = str(tmp / "cache")  # nothing cached between runs, nothing kept
        (tmp / "clips").mkdir()
        clips = make_clips(tmp / "clips", args.clips, args.seconds)
        kinds = {
            "sequential (one process, the model loaded once)": lambda out: sequential(spec, clips, out, settings, post),
            "sequential, 1 torch thread": lambda out: sequential(spec, clips, out, settings, post, threads=1),
            "Ray, 1 worker": lambda out: on_ray(spec, clips, out, settings, post, 1, None),
            "Ray, 2 workers (torch threads = cores, as a local run)":
                lambda out: on_ray(spec, clips, out, settings, post, 2, None),
            "Ray, 2 workers, 1 torch thread each (--threads 1)":
                lambda out: on_ray(spec, clips, out, settings, post, 2, 1),
        }
        samples: dict[str, list[dict]] = {name: [] for name in kinds}
        e2e: dict[str, list[float]] = {"local": [], "ray": []}
        for n in range(args.repeat):  # interleaved, so that the machine's other load hits each alike
            for k, (name, run) in enumerate(kinds.items()):
                samples[name].append(run(tmp / f"run{n}-{k}"))
                print(f"{name}: {samples[name][-1]}", file=sys.stderr)
            e2e["local"].append(end_to_end(spec, tmp / "clips", tmp / f"e{n}-local", ray=False))
            e2e["ray"].append(end_to_end(spec, tmp / "clips", tmp / f"e{n}-ray", ray=True))
        runs = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for name, rs in samples.items()}
        e2e_seq, e2e_ray = statistics.median(e2e["local"]), statistics.median(e2e["ray"])
    frames = runs["sequential (one process, the model loaded once)"]["frames"]
    print(f"{datetime.date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{card.name}, {args.clips} clips of {args.seconds:g} s ({frames} frames), hop {settings.hop}, float32; "
          f"medians of {args.repeat} runs\n")
    print("| run | start-up (s) | analysis (s) | frames/s (analysis) | frames/s (with start-up) | "
          "overhead per video (ms) |")
    print("|---|---|---|---|---|---|")
    for name, r in runs.items():
        print(f"| {name} | {r['startup']:.1f} | {r['work']:.1f} | {r['frames'] / r['work']:.0f} | "
              f"{r['frames'] / r['total']:.0f} | {r['overhead'] * 1000:.0f} |")
    print("\n(overhead per video: the workers' time not spent in run_job, i.e. (analysis time x workers - the "
          "workers' own time on the videos) / videos; with 2 workers it includes one idle at the end)")
    print(f"end to end, as typed: `analyze FOLDER` {e2e_seq:.1f} s; `analyze FOLDER --workers 2 --ray` {e2e_ray:.1f} s")


if __name__ == "__main__":
    main()
