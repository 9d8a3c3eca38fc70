"""`vivit-desktop --self-test [VIDEO]`: proves an installed program works, on a machine with no
screen. It loads every shipped model, analyses the bundled sample clip with each and checks the
default model against what the sample's camera really did, analyses VIDEO (a real clip) with the
default model, and opens the window offscreen to play VIDEO until a prediction is on screen.
Each check prints one line; the exit status is 0 only when every check passed.

Only `window_check` touches Qt (imported there), so the model and engine checks run without it,
and the test suite uses `sample_disagreements` without Qt.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

# A stretch of the sample clip is read right when its motion is the label of at least this share
# of the stretch's middle half. The default model must read all but MAX_MISREAD of the 11
# right: the check is that the installation computes what the build computed (a broken model or
# preprocessing misreads most of them), and the shipped default misreads the two zooms over the
# cup's smooth rim (README, "The shipped models").
MIN_AGREEMENT = 2 / 3
MAX_MISREAD = 2


class CheckFailed(Exception):
    pass


def sample_disagreements(frame_labels: Sequence[str], motions: list[dict]) -> list[str]:
    """What is wrong with per-frame labels of the sample clip, judged on the middle half of each
    stretch (windows at the edges straddle two motions): one message per stretch whose most
    common label is not its motion, or is it on fewer than MIN_AGREEMENT of those frames."""
    wrong = []
    for stretch in motions:
        margin = (stretch["end_frame"] - stretch["start_frame"] + 1) // 4
        frames = list(frame_labels[stretch["start_frame"] + margin:stretch["end_frame"] - margin + 1])
        if not frames:
            wrong.append(f"{stretch['label']} at frames {stretch['start_frame']}-{stretch['end_frame']}: no labels")
            continue
        label, count = Counter(frames).most_common(1)[0]
        if label != stretch["label"] or count < MIN_AGREEMENT * len(frames):
            only = "only " if label == stretch["label"] else ""
            wrong.append(f"{stretch['label']} at {stretch['start_time']:.0f}-{stretch['end_time']:.0f} s read as "
                         f"{label} on {only}{count}/{len(frames)} frames")
    return wrong


def _check_result(result, name: str, expect_frames: int | None = None) -> str:
    """Sanity of an analysis: every frame covered, probabilities and attention are distributions."""
    if result.frame_count <= 0 or not result.windows:
        raise CheckFailed(f"{name}: no frames decoded")
    if expect_frames is not None and result.frame_count != expect_frames:
        raise CheckFailed(f"{name}: decoded {result.frame_count} frames, expected {expect_frames}")
    expected_windows = -(-result.frame_count // result.hop)
    if abs(len(result.windows) - expected_windows) > 1:
        raise CheckFailed(f"{name}: {len(result.windows)} windows for {result.frame_count} frames at hop "
                          f"{result.hop} (expected about {expected_windows})")
    probs = np.stack([w.probs for w in result.windows])
    attention = np.stack([w.attention for w in result.windows])
    if not (np.isfinite(probs).all() and np.isfinite(attention).all()):
        raise CheckFailed(f"{name}: non-finite probabilities or attention")
    if not (np.allclose(probs.sum(1), 1, atol=1e-3) and (probs >= 0).all()):
        raise CheckFailed(f"{name}: probabilities do not sum to 1")
    if not np.allclose(attention.sum(1), 1, atol=1e-3):
        raise CheckFailed(f"{name}: temporal attention does not sum to 1")
    if not np.isfinite(result.frame_probs()).all():
        raise CheckFailed(f"{name}: some frames have no prediction")
    ms = 1000 * float(np.median([w.latency_s for w in result.windows]))
    top = Counter(result.label_name(i) for i in result.frame_labels() if i >= 0).most_common(1)
    return (f"{result.frame_count} frames, {len(result.windows)} windows, {ms:.1f} ms/window, mostly "
            f"{top[0][0] if top else 'no label'}")


def _analyse(model, path: Path, device: str):
    from ..engine.analysis import analyze_source
    from ..engine.predictor import Predictor
    from ..engine.sources import open_source

    source = open_source(str(path))
    try:
        return analyze_source(source, Predictor(model, device=device))
    finally:
        source.close()


def model_checks(video: Path | None, device: str) -> list[tuple[str, Callable[[], str]]]:
    from .. import catalog
    from ..model import load_model
    from ..paths import app_root

    sample = app_root() / "resources" / "sample.mp4"
    motions = json.loads(sample.with_suffix(".json").read_text())
    default = catalog.default_model_name()
    entries = [e for e in catalog.checkpoints() if e.shipped]
    checks: list[tuple[str, Callable[[], str]]] = []

    def shipped_present() -> str:
        if not entries:
            raise CheckFailed(f"no shipped models in {catalog.shipped_models_dir()}")
        if default not in {e.name for e in entries}:
            raise CheckFailed(f"default.json names {default!r}, which is not shipped")
        return f"{len(entries)} models, default {default}"

    checks.append(("shipped models", shipped_present))
    for entry in entries:
        def one(entry=entry) -> str:
            model = load_model(entry.path)
            result = _analyse(model, sample, device)
            summary = _check_result(result, entry.name, expect_frames=motions["motions"][-1]["end_frame"] + 1)
            if entry.name == default:
                names = [result.label_name(i) or "" for i in result.frame_labels()]
                wrong = sample_disagreements(names, motions["motions"])
                right = len(motions["motions"]) - len(wrong)
                if len(wrong) > MAX_MISREAD:
                    raise CheckFailed(f"the default model read only {right} of the sample's {len(motions['motions'])} "
                                      "stretches of camera motion right: " + "; ".join(wrong))
                summary += f", {right} of {len(motions['motions'])} stretches of camera motion right"
                if wrong:
                    summary += f" (misread: {'; '.join(wrong)})"
            return summary

        checks.append((f"{entry.name}: sample clip", one))
    if video is not None:
        def real() -> str:
            model, _, _ = catalog.load(None)
            return _check_result(_analyse(model, video, device), video.name)

        checks.append((f"real clip {video.name}", real))
    return checks


def window_check(video: Path, timeout_s: float = 60.0) -> str:
    """The window, offscreen: open VIDEO, play it, wait until a frame is painted with a prediction
    over it and the timeline has curves; nothing of the user's settings is read or written."""
    import tempfile

    from PySide6.QtCore import QSettings, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    def quiet(kind, context, message: str) -> None:  # the offscreen platform's one harmless notice
        if "does not support propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(quiet)
    app = QApplication.instance() or QApplication(["vivit-desktop"])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat),
                            show_dialogs=False)
        window.show()
        try:
            window.open_path(video)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                app.processEvents()
                ranked, shown, _ = window.workspace.prediction_at()
                if (window.last_error or (window.video.painted > 0 and shown is not None and ranked
                                          and window.tracks and window.tracks[0].timeline.shown)):
                    break
                time.sleep(0.02)
            if window.last_error:
                raise CheckFailed(f"the window reported: {window.last_error}")
            ranked, shown, _ = window.workspace.prediction_at()
            if window.video.painted == 0:
                raise CheckFailed(f"no frame painted within {timeout_s:.0f} s")
            if shown is None or not ranked:
                raise CheckFailed(f"no prediction on screen within {timeout_s:.0f} s")
            label, p = ranked[0]
            return (f"{QApplication.platformName()} platform, {window.video.painted} frames painted, "
                    f"frame {window.workspace.playhead} shows {label} {p:.0%}")
        finally:
            window.shutdown()
            window.close()


def run(video: str | None = None, device: str = "auto", out=sys.stdout) -> int:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no screen needed, whatever the session has
    from .. import __version__
    from ..paths import app_root

    frozen = "frozen bundle" if getattr(sys, "frozen", False) else "source"
    print(f"vivit-desktop {__version__} self-test ({frozen} at {app_root()}; Python {platform.python_version()}, "
          f"{platform.system()} {platform.machine()})", file=out, flush=True)
    clip = Path(video) if video else None
    if clip is not None and not clip.is_file():
        print(f"FAIL  {video}: no such file (give a real video clip to analyse)", file=out)
        return 2
    try:
        checks = model_checks(clip, device)
    except (OSError, ValueError) as exc:  # the bundle lacks its sample clip's motions or a readable models folder
        print(f"FAIL  bundle: {exc}", file=out)
        return 1
    checks.append(("window (offscreen)", lambda: window_check(clip or app_root() / "resources" / "sample.mp4")))
    failed = 0
    for name, check in checks:
        started = time.perf_counter()
        try:
            detail = check()
            status = "ok  "
        except (CheckFailed, ValueError, OSError) as exc:  # bad input or a broken bundle: said in one line
            detail, status = str(exc), "FAIL"
        except Exception as exc:  # a bug: its traceback, and the next check
            detail, status = f"{type(exc).__name__}: {exc}", "FAIL"
            traceback.print_exc(file=sys.stderr)
        failed += status == "FAIL"
        detail = " ".join(detail.split())  # one line per check
        print(f"{status}  {name}: {detail} ({time.perf_counter() - started:.1f} s)", file=out, flush=True)
    if clip is None:
        print("note: no real clip given; `vivit-desktop --self-test VIDEO` also analyses one", file=out)
    print(f"self-test {'FAILED' if failed else 'passed'}: {len(checks) - failed}/{len(checks)} checks",
          file=out, flush=True)
    return 1 if failed else 0
