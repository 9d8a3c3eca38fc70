"""`vivit-desktop live`: causal windows on a camera, a stream or a file played in real time."""

from __future__ import annotations

import argparse
import sys

from ..cancel import CancelToken
from .common import UserError, add_inference_options, load_for_analysis, positive_float, positive_int

NAME = "live"


def add_parser(sub) -> None:
    live = sub.add_parser("live", help="predict live from a camera, a network stream or a file played in real time",
                          description="Causal windows ending at the newest frame; while the model is busy the "
                                      "waiting window is replaced by the newest (latest wins). Prints one line per "
                                      "prediction with its latency. Ctrl+C stops.")
    live.add_argument("source", help="a camera index (0), a stream URL (rtsp://, http://...), a video file or a "
                                     "folder of images (played at its own speed)")
    live.add_argument("--model", metavar="NAME|PATH", help="as for analyze (default: the shipped default model)")
    add_inference_options(live)
    live.add_argument("--top-k", type=positive_int, default=3, help="labels per line (default 3)")
    live.add_argument("--seconds", type=positive_float, help="stop after this many seconds")
    live.add_argument("--size", metavar="WxH", help="ask a camera for this resolution, e.g. 640x480")
    live.add_argument("--fps", type=positive_float, help="ask a camera for this frame rate")


def run(args: argparse.Namespace) -> int:
    import time

    from ..engine.live import LiveRunner
    from ..engine.predictor import Predictor
    from ..engine.sources import open_source
    from ..engine.windows import default_hop

    model, _ = load_for_analysis(args.model)
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
    stop = CancelToken()
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

    from ..engine.sources import paced

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
            stop.cancel()

    feeder = threading.Thread(target=feed, name="vivit-live-feed", daemon=True)
    feeder.start()
    try:
        stop.wait(args.seconds)  # None: until the source ends or fails
    except KeyboardInterrupt:
        stop.cancel()
        print("interrupted", file=sys.stderr)
    stop.cancel()
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
