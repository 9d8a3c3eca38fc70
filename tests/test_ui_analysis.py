"""The window's analysis run (ui/analysis.py) goes through the one file-analysis service
(engine.service.analyse_video), in an analysis process of its own (engine.remote): the sidecar
cache read and filled there, cancelled with its CancelToken, and a process that dies is said,
not waited for."""

import multiprocessing
import os
import signal
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from vivit_desktop.engine import service  # noqa: E402
from vivit_desktop.engine.remote import processes  # noqa: E402
from vivit_desktop.model import create_model, save_model  # noqa: E402
from vivit_desktop.ui.analysis import AnalysisRun, RunRequest  # noqa: E402

from test_engine import make_clip  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = create_model("vivit_t16x2_st", labels=["a", "b", "c"], num_frames=8, image_size=32, depth=1,
                         hidden_size=32, num_heads=2, mlp_dim=64)
    model.card = model.card.replace(name="tiny", frame_stride=1)
    return str(save_model(model, tmp_path_factory.mktemp("models") / "tiny")[0])


def _run(qtbot, request) -> AnalysisRun:
    run = AnalysisRun(request)
    with qtbot.waitSignal(run.ended, timeout=60000):
        pass
    return run


def test_a_second_run_of_the_same_file_comes_from_the_service_s_cache(qtbot, tmp_path, checkpoint):
    clip = make_clip(tmp_path / "clip.avi", frames=40)
    request = RunRequest(checkpoint, device="cpu", hop=4, source=clip, frame_count=40)
    first = _run(qtbot, request)
    assert first.complete and first.windows and first.frame_count == 40 and not first.cached
    assert len(list(service.ResultCache().folder.glob("*.json"))) == 1  # stored by the service

    second = _run(qtbot, request)  # the service said it read the cache: no inference ran
    assert second.complete and second.cached and len(second.windows) == len(first.windows) and second.decoded == 40
    np.testing.assert_allclose(second.windows[-1].probs, first.windows[-1].probs, atol=1e-5)  # JSON keeps 6 places


def test_a_reused_analysis_process_caches_where_the_window_now_says(qtbot, tmp_path, checkpoint, monkeypatch):
    """The process outlives one test's (or one session's) settings: each job carries the
    window's environment, so the cache folder is the one in force when the run starts."""
    clip = make_clip(tmp_path / "clip.avi", frames=40)
    request = RunRequest(checkpoint, device="cpu", hop=4, source=clip, frame_count=40)
    _run(qtbot, request)
    elsewhere = tmp_path / "other-cache"
    monkeypatch.setenv("VIVIT_DESKTOP_CACHE", str(elsewhere))
    again = _run(qtbot, request)
    assert again.complete and not again.cached  # a cache folder of its own: analysed afresh
    assert len(list(service.ResultCache().folder.glob("*.json"))) == 1 and service.ResultCache().folder.is_relative_to(elsewhere)


def _running(pid: int) -> bool:
    """Whether a process runs (a zombie does not), asked of the OS: Process.is_alive() says True
    for a child another part of the test process has reaped."""
    status = Path(f"/proc/{pid}/status")
    if status.parent.parent.is_dir() and Path("/proc/self").exists():
        try:
            return "\tZ" not in next(line for line in status.read_text().splitlines() if line.startswith("State:"))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _analysis_children() -> list:
    return [p for p in multiprocessing.active_children() if p.name == "vivit-analysis"]


def test_an_analysis_process_that_dies_is_reported_and_the_next_run_works(qtbot, tmp_path, checkpoint):
    """Out of memory, a crash in a native library: the run says so (the window shows it) and
    the next run gets a new process."""
    clip = make_clip(tmp_path / "clip.avi", frames=400)
    run = AnalysisRun(RunRequest(checkpoint, device="cpu", hop=4, source=clip, frame_count=400))
    errors = []
    run.errored.connect(errors.append)
    qtbot.waitUntil(lambda: run.decoded > 0, timeout=60000)
    assert os.getpid() not in [p.pid for p in _analysis_children()]
    for child in _analysis_children():
        os.kill(child.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not run.running, timeout=30000)
    assert len(errors) == 1 and "ended unexpectedly" in errors[0] and not run.complete

    again = _run(qtbot, RunRequest(checkpoint, device="cpu", hop=4, source=make_clip(tmp_path / "b.avi", frames=40),
                                   frame_count=40))
    assert again.complete and again.frame_count == 40


def test_ending_the_processes_leaves_none_running(qtbot, tmp_path, checkpoint):
    """What the program does when its window closes, busy or not (ui/app.py)."""
    clip = make_clip(tmp_path / "clip.avi", frames=400)
    run = AnalysisRun(RunRequest(checkpoint, device="cpu", hop=4, source=clip, frame_count=400))
    qtbot.waitUntil(lambda: run.decoded > 0, timeout=60000)
    children = _analysis_children()
    assert children
    pooled = processes.pids()
    assert all(child.pid in pooled for child in children), (children, pooled)  # the app ends what it knows of
    processes.shutdown()
    qtbot.waitUntil(lambda: not any(_running(child.pid) for child in children), timeout=30000)
    qtbot.waitUntil(lambda: not run.running, timeout=30000)
    assert processes.count == 0


def test_cancelling_a_run_stops_it_and_caches_nothing(qtbot, tmp_path, checkpoint):
    clip = make_clip(tmp_path / "clip.avi", frames=400)
    run = AnalysisRun(RunRequest(checkpoint, device="cpu", hop=4, source=clip, frame_count=400))
    qtbot.waitUntil(lambda: run.decoded > 0, timeout=60000)
    run.cancel()
    assert run.stop(30000) and not run.complete and run.decoded < 400
    assert not list(service.ResultCache().folder.glob("*.json"))  # nothing of the cancelled run is cached


WINDOW_SCRIPT = r'''
import sys, time
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from vivit_desktop.ui.main_window import MainWindow

if __name__ == "__main__":  # (the analysis process is spawned: this file is imported there too)
    app = QApplication([])
    window = MainWindow(model=sys.argv[1], settings=QSettings(sys.argv[3], QSettings.IniFormat), show_dialogs=False)
    window.show()
    window.open_path(sys.argv[2])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (window.workspace.primary is not None and window.workspace.primary.complete):
        app.processEvents()
        time.sleep(0.01)
    run = window.workspace.primary
    print("complete" if run is not None and run.complete else "not complete", len(run.windows) if run else 0,
          "torch" if "torch" in sys.modules else "no torch", flush=True)
    window.close()
'''


def test_the_window_s_process_analyses_a_file_without_importing_torch(tmp_path, checkpoint):
    """The model runs in the analysis process: the window's interpreter never holds torch's
    import (seconds of its lock) nor its inference, so playback is not delayed by either."""
    import subprocess
    import sys

    script = tmp_path / "window.py"
    script.write_text(WINDOW_SCRIPT)
    clip = make_clip(tmp_path / "clip.avi", frames=40)
    out = subprocess.run([sys.executable, str(script), checkpoint, str(clip), str(tmp_path / "s.ini")],
                         capture_output=True, text=True, timeout=180,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "VIVIT_DESKTOP_NO_FAST_EXIT": "1"})
    assert out.stdout.split()[:1] == ["complete"], out.stdout + out.stderr
    assert int(out.stdout.split()[1]) > 0 and "no torch" in out.stdout
