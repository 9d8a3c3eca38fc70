"""Kinetics-sized ViViT on this CPU: live ViViT-B/16x2 FE at 30 fps input against the hop, the
tubelet encoding in float32 and int8, and (issue 14) `analyze`'s real-time factor and live
windows/s and latency at a hop of one tubelet for ViViT-B/16x2 FE, ViViT-L/16x2 FE and
ViViT-B/16x2 Model 1. Random weights of the official shapes (32 frames of 224², frame stride 2,
400 classes): speed does not depend on the weights. Prints Markdown rows for bench/RESULTS.md.

    python bench/bench_kinetics_cpu.py tubelets [--threads 2]   # ms per tubelet, float32 vs int8, batches of 1/2/4
    python bench/bench_kinetics_cpu.py hops [--all-cores] [--hops 4 16]   # B FE live, int8 + cache, 1 torch thread
    python bench/bench_kinetics_cpu.py kinetics   # B FE, L FE, B Model 1: analyze and live (issue 14)
    python bench/bench_kinetics_cpu.py all

Live runs feed a real clip's frames (../shared/media/bikes.mp4, looped) at 30 fps, paced by the
clock, to the engine's LiveRunner, with `leave_a_core=True` (one torch thread here; the other
core decodes, preprocesses and would draw the window). The first seconds of a run (the first
window encodes all 16 tubelets) are left out: figures are for the steady state. A hop "keeps
up" when at least 95 % of the windows due in the steady state complete (latest wins drops the
rest). With frame stride 2, one tubelet spans 4 source frames: a hop of 2 frames shifts the
window by half a tubelet, so its tubelets come back only every other window.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vivit_desktop.engine.analysis import WindowSettings, analyze_source  # noqa: E402
from vivit_desktop.engine.live import LiveRunner  # noqa: E402
from vivit_desktop.engine.predictor import Predictor, quantize_int8  # noqa: E402
from vivit_desktop.engine.sources import FileSource, Frame, paced  # noqa: E402
from vivit_desktop.engine.windows import default_hop  # noqa: E402
from vivit_desktop.model import create_model  # noqa: E402

MEDIA = Path(os.environ.get("VIVIT_DESKTOP_MEDIA", ROOT.parent / "shared" / "media"))
MODELS = {"ViViT-B/16x2 FE": "vivit_b16x2_fe", "ViViT-L/16x2 FE": "vivit_l16x2_fe",
          "ViViT-B/16x2 Model 1": "vivit_b16x2_st"}
WARMUP_S = 6.0  # input seconds left out at the start of a live run


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def model(name: str):
    torch.manual_seed(0)
    return create_model(MODELS[name], num_classes=400).eval()


def spread(values) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}–{max(values):.0f})"


def tubelets(repeats: int = 5, threads: int = 1) -> None:
    """One spatial-encoder pass per tubelet (what a live window costs per new tubelet), with one
    torch thread, as live runs with a core left. Besides wall time, the thread's CPU time: with
    one thread the work runs in the calling thread, so CPU time is what the pass costs even when
    other work shares the machine (wall time then includes the time the thread waited for a core).
    With more threads, the process's CPU time (all threads, their spin-waits included)."""
    torch.set_num_threads(threads)
    clock = time.thread_time if threads == 1 else time.process_time
    float_model = model("ViViT-B/16x2 FE")
    int8_model = quantize_int8(float_model)
    print(f"ViViT-B/16x2 FE, encode_tubelets, {torch.get_num_threads()} torch thread(s), {repeats} interleaved "
          f"repeats, CPU time of the {'thread' if threads == 1 else 'process'}; {load()}")
    print("| tubelets per call | float32 wall ms per tubelet, median (range) | float32 CPU ms | "
          "int8 wall ms per tubelet | int8 CPU ms | int8 / float32 (CPU) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for batch in (1, 2, 4):
        x = torch.randn(batch, 2, 3, 224, 224)
        wall = {"float32": [], "int8": []}
        cpu = {"float32": [], "int8": []}
        with torch.inference_mode():
            float_model.encode_tubelets(x), int8_model.encode_tubelets(x)  # warm-up
            for _ in range(repeats):  # interleaved, so drift in the machine's load hits both alike
                for name, m in (("float32", float_model), ("int8", int8_model)):
                    start, start_cpu = time.perf_counter(), clock()
                    m.encode_tubelets(x)
                    cpu[name].append((clock() - start_cpu) * 1000 / batch)
                    wall[name].append((time.perf_counter() - start) * 1000 / batch)
        f, q = statistics.median(cpu["float32"]), statistics.median(cpu["int8"])
        print(f"| {batch} | {spread(wall['float32'])} | {spread(cpu['float32'])} | {spread(wall['int8'])} | "
              f"{spread(cpu['int8'])} | {q / f:.2f} |", flush=True)
    print(f"budget at 30 fps input, frame stride 2: a new tubelet every {4000 / 30:.0f} ms; {load()}")


def clip_images() -> list[np.ndarray]:
    with FileSource(MEDIA / "bikes.mp4") as source:
        return [f.image for f in source.frames()]


def live_run(predictor: Predictor, images, hop: int, seconds: float) -> dict:
    """Feed `seconds` of 30 fps input; steady-state figures (after WARMUP_S)."""
    if predictor.cache is not None:
        predictor.cache.clear()
    results = []
    runner = LiveRunner(predictor, fps=30.0, hop=hop, on_result=results.append)
    n = int(seconds * 30)
    runner.run(paced(Frame(i, i / 30.0, images[i % len(images)]) for i in range(n)))
    runner.stop(finish=True, timeout=120)
    steady = [r for r in results if r.end_time >= WARMUP_S]
    if len(steady) < 2:
        return {"due": 0, "completed": len(steady), "rate": 0.0, "latency": [float("nan")],
                "compute": [float("nan")], "keeps_up": False}
    first, last = steady[0].window.index, runner.submitted - 1  # windows due from the first steady one on
    due = last - first + 1
    span = steady[-1].end_time - steady[0].end_time
    return {"due": due, "completed": len(steady), "rate": (len(steady) - 1) / span if span > 0 else 0.0,
            "latency": [r.latency_s * 1000 for r in steady], "compute": [r.compute_s * 1000 for r in steady],
            "keeps_up": len(steady) >= 0.95 * due}


def hops(seconds: float = 30.0, repeats: int = 3, choices=(2, 4, 8, 16), all_cores: bool = False) -> int | None:
    images = clip_images()
    predictor = Predictor(model("ViViT-B/16x2 FE"), device="cpu", leave_a_core=not all_cores, precision="int8")
    print(f"ViViT-B/16x2 FE, 32x224², {predictor.precision_used}, tubelet cache, {torch.get_num_threads()} torch "
          f"thread(s), 30 fps input for {seconds:.0f} s per run (first {WARMUP_S:.0f} s left out), {repeats} "
          f"interleaved repeats; {load()}")
    runs: dict[int, list[dict]] = {hop: [] for hop in choices}
    for r in range(repeats):
        order = choices if r % 2 == 0 else tuple(reversed(choices))
        for hop in order:
            runs[hop].append(live_run(predictor, images, hop, seconds))
            print(f"  repeat {r + 1}, hop {hop}: {runs[hop][-1]['completed']}/{runs[hop][-1]['due']} windows, "
                  f"{runs[hop][-1]['rate']:.2f}/s; {load()}", file=sys.stderr, flush=True)
    print("| hop (frames) | windows due per s | completed / due (median of runs) | windows/s, median (range) | "
          "latency p50 ms, median (range) | latency p95 ms | compute p50 ms | keeps up (runs) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    smallest = None
    for hop in choices:
        rs = runs[hop]
        rates = [r["rate"] for r in rs]
        p50 = [statistics.median(r["latency"]) for r in rs]
        p95 = [float(np.percentile(r["latency"], 95)) for r in rs]
        compute = [statistics.median(r["compute"]) for r in rs]
        share = statistics.median(r["completed"] / max(1, r["due"]) for r in rs)
        kept = sum(r["keeps_up"] for r in rs)
        if smallest is None and kept * 2 > len(rs):
            smallest = hop
        print(f"| {hop} | {30 / hop:.2f} | {share:.0%} | {statistics.median(rates):.2f} "
              f"({min(rates):.2f}–{max(rates):.2f}) | {spread(p50)} | {statistics.median(p95):.0f} | "
              f"{statistics.median(compute):.0f} | {kept}/{len(rs)} |", flush=True)
    print(f"smallest hop that keeps up (in most runs): {smallest}; the default for such models is "
          f"{default_hop(predictor.card)}")
    return smallest


def kinetics(seconds: float = 30.0) -> None:
    """Issue 14: analyze's real-time factor (as `vivit-desktop analyze` runs: every core, precision
    auto) and live at a hop of one tubelet (4 frames; int8 where auto picks it, one torch thread)."""
    images = clip_images()
    print(f"analyze ../shared/media/bikes.mp4 (250 frames, 10.0 s, 640x272), batch 8, precision auto, "
          f"{os.cpu_count()} torch threads; live: 30 fps input for {seconds:.0f} s, hop 4 frames (one tubelet), "
          f"tubelet cache for FE, one torch thread; {load()}")
    print("| model | precision (auto) | analyze hop | analyze seconds | real-time factor | live windows/s "
          "(due 7.5/s) | live completed / due | latency p50 ms | latency p95 ms | compute p50 ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in MODELS:
        m = model(name)
        torch.set_num_threads(os.cpu_count() or 1)
        predictor = Predictor(m, device="cpu", precision="auto")
        hop = default_hop(m.card)
        rows = []
        for h in ((hop, 16) if m.variant == "factorised_encoder" else (hop,)):
            if predictor.cache is not None:
                predictor.cache.clear()
            with FileSource(MEDIA / "bikes.mp4") as source:
                started = time.perf_counter()
                result = analyze_source(source, predictor, WindowSettings(hop=h, batch_size=8))
                took = time.perf_counter() - started
            rows.append((h, took, result.duration / took))
        live_predictor = Predictor(m, device="cpu", leave_a_core=True, precision="auto")
        run = live_run(live_predictor, images, 4, seconds if m.variant == "factorised_encoder" else 1.5 * seconds)
        for h, took, rtf in rows:
            print(f"| {name} | {predictor.precision_used} (live: {live_predictor.precision_used}) | {h} | "
                  f"{took:.1f} | {rtf:.2f}x | {run['rate']:.2f} | {run['completed']}/{run['due']} | "
                  f"{statistics.median(run['latency']):.0f} | {np.percentile(run['latency'], 95):.0f} | "
                  f"{statistics.median(run['compute']):.0f} |", flush=True)
        print(f"  {name}: analyze {predictor.precision_note}; live {live_predictor.precision_note}; {load()}",
              file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("tubelets", "hops", "kinetics", "all"))
    parser.add_argument("--seconds", type=float, default=30.0, help="input seconds per live run (default 30)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of the hop runs (default 3)")
    parser.add_argument("--hops", type=int, nargs="+", default=[2, 4, 8, 16], help="hops to run (default 2 4 8 16)")
    parser.add_argument("--threads", type=int, default=1, help="tubelets: torch threads (default 1)")
    parser.add_argument("--all-cores", action="store_true",
                        help="hops: let torch use every core (no core left to the window)")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{platform.python_version()}")
    if args.what in ("tubelets", "all"):
        tubelets(threads=args.threads)
    if args.what in ("hops", "all"):
        hops(args.seconds, args.repeats, tuple(args.hops), args.all_cores)
    if args.what in ("kinetics", "all"):
        kinetics(args.seconds)


if __name__ == "__main__":
    main()
