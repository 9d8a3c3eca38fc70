"""The window playing a video while the model analyses it: displayed fps, event-loop stalls and
prediction latency.

    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py VIDEO [--model NAME] [--seconds 20]

A 5 ms timer on the GUI thread records how late each of its ticks comes: a late tick is a
stall of the event loop (what a user feels as a frozen window); counted from the first frame
painted, with the start-up (torch importing behind the window) reported on its own line. Displayed fps counts the
frames the video view painted. Without VIDEO, a 720p 30 fps clip is made from
../shared/media/bikes.mp4 with ffmpeg.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_720p(out: Path, seconds: float = 30.0) -> Path:
    source = Path(__file__).resolve().parents[2] / "shared" / "media" / "bikes.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source), "-vf",
                    "scale=1280:720,fps=30", "-c:v", "libx264", "-preset", "veryfast", "-t", f"{seconds:g}", str(out)],
                   check=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", nargs="?", type=Path)
    parser.add_argument("--model", default=None, help="default: the shipped default model")
    parser.add_argument("--tiny-classes", type=int, metavar="N",
                        help="instead of --model: a tiny random model (32² input, width 64, one layer; about "
                             "as fast as the shipped ones) with the first N Kinetics-400 labels: the window with "
                             "a Kinetics-sized label set, without a model too slow to analyse ahead")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--trace", action="store_true",
                        help="also list what the long ticks were: each event dispatch and garbage collection "
                             "over 20 ms (times every event, so the stalls themselves grow a little)")
    args = parser.parse_args()

    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    slow: list[tuple[float, str, float]] = []  # (ms, what, when), with --trace
    if args.trace:
        import gc
        from collections import Counter

        class TracingApplication(QApplication):
            def notify(self, receiver, event):
                started = time.perf_counter()
                try:
                    return super().notify(receiver, event)
                finally:
                    ms = (time.perf_counter() - started) * 1000
                    if ms > 20:
                        slow.append((ms, f"{event.type().name} -> {type(receiver).__name__}", time.perf_counter()))

        gc_started = [0.0]

        def gc_trace(phase, info):
            if phase == "start":
                gc_started[0] = time.perf_counter()
            elif (ms := (time.perf_counter() - gc_started[0]) * 1000) > 20:
                slow.append((ms, f"garbage collection of generation {info['generation']} "
                                 f"({threading.current_thread().name})", time.perf_counter()))

        gc.callbacks.append(gc_trace)

    from vivit_desktop.ui.main_window import MainWindow

    tmp = Path(tempfile.mkdtemp())
    if args.tiny_classes:
        from vivit_desktop.model import create_model, save_model
        from vivit_desktop.model.labels import label_list

        labels = label_list("kinetics400")[:args.tiny_classes]
        tiny = create_model("vivit_t16x2_fe", labels=labels, num_frames=16, image_size=32, patch_size=8, depth=1,
                            temporal_depth=1, hidden_size=64, num_heads=2, mlp_dim=128, init="timm")
        tiny.card = tiny.card.replace(name=f"tiny-{len(labels)}-classes", frame_stride=2)
        args.model = str(save_model(tiny, tmp / "tiny")[0])
    video = args.video or make_720p(tmp / "720p.mp4", args.seconds + 10)  # longer than the run: it plays throughout
    os.environ["VIVIT_DESKTOP_CACHE"] = str(tmp / "cache")  # never the cached results: the model must run
    app = QApplication.instance() or (TracingApplication([]) if args.trace else QApplication([]))
    window = MainWindow(model=args.model, settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat),
                        show_dialogs=False)
    window.resize(1280, 720)
    window.show()
    window.open_path(video)

    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    startup: list[float] = []  # gaps before the first frame is painted (torch loading behind the window)

    # stalls over 50 ms: (ms, ms of it the GUI thread ran on a CPU, ms it was ready to run but
    # waited for a CPU); the rest it slept: on the interpreter lock, a lock or I/O. From Linux's
    # /proc/thread-self/schedstat (run time, run-queue wait); elsewhere the thread's CPU time only
    busy: list[tuple[float, float, float | None]] = []
    schedstat = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")

    def scheduler() -> tuple[float, float | None]:
        try:
            ran, waited = schedstat.read_text().split()[:2]
            return int(ran) / 1e6, int(waited) / 1e6
        except (OSError, ValueError):
            return time.thread_time() * 1000, None

    def stolen() -> float:
        """ms of CPU time the hypervisor gave to others so far, all CPUs (/proc/stat's steal; 0
        where there is none, or no /proc): a virtual machine's stall the window cannot help."""
        try:
            with open("/proc/stat") as f:
                return int(f.readline().split()[8]) * 1000 / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return 0.0

    cpu = [scheduler()]
    steal = [stolen(), stolen()]  # at the last tick, at the start

    def tick() -> None:
        now = clock.nsecsElapsed()
        gap = (now - last[0]) / 1e6
        (gaps if first else startup).append(gap)
        last[0] = now
        (ran, waited), (ran0, waited0) = scheduler(), cpu[0]
        cpu[0] = (ran, waited)
        stolen_now, stolen_before = stolen(), steal[0]
        steal[0] = stolen_now
        if not first:
            steal[1] = stolen_now  # (counted from the first frame)
        if first and gap > 55:
            busy.append((gap - 5, ran - ran0, None if waited is None else waited - waited0,
                         stolen_now - stolen_before))

    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(tick)
    probe.start()
    first: list[tuple[int, float]] = []

    def note_first_paint() -> None:
        if not first and window.video.painted:
            first.append((window.video.painted, time.perf_counter()))

    probe.timeout.connect(note_first_paint)
    report: list[str] = []

    def finish() -> None:  # before quitting: Qt 6's quit() closes the window
        report.extend(summary(window, video, first, gaps))
        if busy:
            report.append("stalls over 50 ms: how much of each the GUI thread ran, waited for a CPU, and slept "
                          "(on the interpreter lock, a lock or I/O), and the CPU time the hypervisor took from "
                          "this machine meanwhile (steal, both CPUs, in 10 ms ticks): " + ", ".join(
                              f"{s:.0f} ms ({u:.0f} ran" + (f", {w:.0f} waited, {s - u - w:.0f} slept" if w is not None
                                                            else "") + (f"; {t:.0f} stolen)" if t else ")")
                              for s, u, w, t in busy))
        if first:
            seconds = time.perf_counter() - first[0][1]
            share = (stolen() - steal[1]) / (seconds * 1000 * (os.cpu_count() or 1))
            report.append(f"the hypervisor took {share:.1%} of this machine's CPU time while it played "
                          "(/proc/stat steal; 0 on a machine of its own)")
        if startup:
            report.append(f"before the first frame (the engine loading behind the window): longest stall "
                          f"{max(startup) - 5.0:.1f} ms over {len(startup)} ticks")
        app.quit()

    QTimer.singleShot(int(args.seconds * 1000), finish)
    app.exec()
    print("\n".join(report))
    if args.trace:
        print("over 20 ms (nested dispatches count in each level):")
        for what, count in Counter(what for _, what, _ in slow).most_common(15):
            longest = max(ms for ms, w, _ in slow if w == what)
            print(f"  {count:4d} x  longest {longest:6.1f} ms  {what}")
        shown_from = first[0][1] if first else 0.0
        print("over 25 ms, when (s after the first frame): " + "; ".join(
            f"{at - shown_from:.1f} {what} {ms:.0f} ms" for ms, what, at in slow if ms > 25))
        tracked = Counter(type(o).__name__ for o in gc.get_objects(generation=2))
        print(f"objects a full collection walks: {sum(tracked.values())} (frozen: {gc.get_freeze_count()}); "
              "most: " + ", ".join(f"{name} {n}" for name, n in tracked.most_common(8)))
    return 0 if report and not report[0].startswith("the video did not play") else 1


def summary(window, video: Path, first, gaps) -> list[str]:
    if not first or window.workspace.info is None:
        return [f"the video did not play: {window.last_error or 'no frame shown'}"]
    painted_at_start, shown_from = first[0]
    elapsed = time.perf_counter() - shown_from
    painted = window.video.painted - painted_at_start
    run = window.workspace.primary
    latencies = [w.latency_s * 1000 for w in run.windows] if run else []
    stalls = np.array(gaps) - 5.0
    lines = [f"video: {video.name} {window.workspace.info.width}x{window.workspace.info.height} at {window.workspace.info.fps:.0f} fps; "
             f"model {run.name if run else '-'} on {run.device_info.device if run and run.device_info else '-'}",
             f"displayed: {painted / elapsed:.1f} fps over {elapsed:.1f} s",
             f"event-loop stall: max {stalls.max():.1f} ms, p99 {np.percentile(stalls, 99):.1f} ms "
             f"({len(gaps)} ticks of a 5 ms timer)",
             "longest, when (s after the first frame): " + ", ".join(
                 f"{np.sum(gaps[:i + 1]) / 1000:.1f} s: {stalls[i]:.0f} ms" for i in sorted(np.argsort(stalls)[-5:])),
             f"stalls over 50 ms: {int((stalls > 50).sum())}, over 30 ms: {int((stalls > 30).sum())}"]
    if latencies:
        lines.append(f"per-window inference: median {np.median(latencies):.1f} ms, p95 "
                     f"{np.percentile(latencies, 95):.1f} ms ({len(latencies)} windows; analysis reached frame "
                     f"{run.decoded} while playback was at {window.workspace.playhead})")
    return lines


if __name__ == "__main__":
    sys.exit(main())
