"""One model's analysis of the open source.

A file is analysed ahead of the playhead in an analysis process (engine.remote, running
engine.service's `analyse_video`, which `vivit-desktop analyze` runs too: windows arrive in
batches, a finished analysis goes to the sidecar cache and comes back from it at once next time);
a worker thread here turns its messages into signals. The process shares no interpreter lock
with the window, so the model never delays a repaint. For a camera or stream the worker loads
the model in this process, for a `LiveRunner` that the reader feeds. `cancel()` cancels the
worker's CancelToken (passed on to the process). Workers only emit signals; the results live
here, on the GUI thread, and are appended when the signals arrive.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from ..cancel import CancelToken
from ..engine.postprocess import PostProcessing
from ..engine.results import AnalysisResult, WindowResult
from ..engine.timebase import Timebase
from ..errors import one_line
from . import collector

log = logging.getLogger(__name__)

# A result holding more numbers than this (frames × classes) is not post-processed on the
# window's thread: the window prepares it on a worker thread (main_window.refresh) and the frame
# shown reads the newest result so prepared. 400 classes over 30 minutes took about a second of
# the window's thread each time windows arrived; 9 classes over 30 minutes or 400 over 20 s
# take a few milliseconds.
PREPARE_CELLS = 200_000


@dataclass(frozen=True)
class RunRequest:
    """Immutable: what to analyse, with what. `source` is a path (file) or None (live: frames
    come from the reader)."""

    model: str | None  # a catalog spec; None = the shipped default
    device: str = "auto"
    precision: str = "auto"
    hop: int = 8  # 0: the model's default (engine.windows.default_hop), resolved once it is loaded
    source: Path | None = None
    fps: float = 30.0
    frame_count: int | None = None
    use_cache: bool = True


@dataclass
class LoadedModel:
    card: object  # ModelCard
    sha256: str
    description: str


class _Worker(QThread):
    """Files: hands the request to an analysis process (engine.remote) and turns its messages
    into signals. Live sources: loads the model here, for the run's LiveRunner."""

    model_loaded = Signal(object, object)  # LoadedModel, PredictorInfo or (live) the Predictor
    windows = Signal(list)  # [WindowResult], in order
    times = Signal(list)  # the timestamps of the frames decoded since the last, before their windows
    progress = Signal(int)  # frames decoded so far
    device = Signal(object)  # PredictorInfo, as it changes (GPU memory)
    done = Signal(object)  # (the finished AnalysisResult, from the cache?) (files), or None (cancelled)
    failed = Signal(str)

    def __init__(self, request: RunRequest, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("vivit-analysis")
        self.request = request
        self.token = CancelToken()
        self.process = None  # the engine.remote.AnalysisProcess analysing the file

    def run(self) -> None:
        if self.request.source is None:
            self._load_for_live()
        else:
            self._analyse_file()

    def _load_for_live(self) -> None:
        from .. import catalog
        from ..engine.predictor import Predictor

        request = self.request
        try:
            with collector.paused():  # a model's objects: built without full collections stalling the window
                model, sha, description = catalog.load(request.model)
                predictor = Predictor(model, device=request.device, leave_a_core=True, precision=request.precision)
        except Exception as e:  # noqa: BLE001 - any load failure is the user's to see
            self.failed.emit(f"cannot load the model {request.model or '(default)'}: {one_line(e)}")
            return
        self.model_loaded.emit(LoadedModel(model.card, sha, description), predictor)

    def _analyse_file(self) -> None:
        from ..engine.remote import AnalysisRequest, ProcessDied, processes

        request = self.request
        try:
            process = self.process = processes.acquire()
        except Exception as e:  # noqa: BLE001 - cannot start a process: out of memory, a broken install
            log.exception("cannot start the analysis process")
            self.failed.emit(f"cannot start the analysis process: {one_line(e)}")
            return
        ended = False  # the child said how the job ended: it can take another
        try:
            process.send(("analyse", AnalysisRequest(
                request.model, request.source, request.device, request.precision, request.hop, request.use_cache,
                environment=dict(os.environ))))
            asked_to_stop = False
            while True:
                if self.token.cancelled and not asked_to_stop:
                    process.send(("cancel",))
                    asked_to_stop = True
                message = process.receive(0.05)
                if message is None:
                    continue
                kind = message[0]
                if kind == "model":
                    _, card, sha, description, info = message
                    self.model_loaded.emit(LoadedModel(card, sha, description), info)
                elif kind == "times":
                    self.times.emit(message[1])
                elif kind == "windows":
                    self.windows.emit(message[1])
                    self.device.emit(message[2])
                elif kind == "progress":
                    self.progress.emit(message[1])
                elif kind == "done":
                    ended = True
                    result, cached = message[1], message[2]
                    if cached:
                        self.windows.emit(list(result.windows))
                    self.progress.emit(result.frame_count)
                    self.done.emit((result, cached))
                    return
                elif kind == "cancelled":
                    ended = True
                    self.done.emit(None)
                    return
                elif kind == "failed":
                    ended = True
                    self.failed.emit(message[1])
                    return
        except (ProcessDied, OSError) as e:
            if not self.token.cancelled:
                self.failed.emit(f"analysis of {request.source.name} failed: {one_line(e)}")
        finally:
            processes.release(process, reusable=ended)
            self.process = None

    def kill(self) -> None:
        """End the analysis process now (the window is closing and will not wait for a batch)."""
        process = self.process
        if process is not None:
            process.kill()


@dataclass
class LiveStats:
    latency_s: float = 0.0
    compute_s: float = 0.0
    dropped: int = 0
    newest_frame: int = -1
    arrived: float = 0.0  # time.perf_counter() of the newest result


class AnalysisRun(QObject):
    """The results of one model on the open source, and the worker producing them.

    Signals: `model_loaded(card)`, `changed()` (new windows or a new frame count),
    `progress(decoded, total)`, `finished()`, `errored(message)`."""

    model_loaded = Signal(object)
    ended = Signal()  # the worker thread is done (live runs: once the model is loaded)
    changed = Signal()
    progress = Signal(int, int)
    finished = Signal()
    errored = Signal(str)

    def __init__(self, request: RunRequest, parent=None) -> None:
        super().__init__(parent)
        self.request = request
        self.loaded: LoadedModel | None = None
        self.predictor = None  # live runs: the Predictor their LiveRunner feeds (files: in the analysis process)
        self._device_info = None  # files: the analysis process's PredictorInfo
        self.windows: list[WindowResult] = []
        self.frame_count = request.frame_count or 0
        self.frame_times: list[float] = []  # each decoded frame's timestamp (files)
        self.decoded = 0
        self.complete = False
        self.cached = False  # a finished file analysis read from the sidecar cache (no inference ran)
        self.frames_skipped, self.ended_early = 0, ""  # what the finished analysis found wrong with the file
        self.file_warnings: list[str] = []  # the same, in words (AnalysisResult.file_warnings)
        self.post = PostProcessing()
        self.live = LiveStats()
        self._runner = None
        self._result: AnalysisResult | None = None
        self._processed: AnalysisResult | None = None  # the newest result whose post-processing is computed
        self._result_built: AnalysisResult | None = None  # the last result built (kept when windows arrive)
        self._timebase: tuple[int, Timebase] | None = None  # (times it was made from, it)
        self._worker = _Worker(request)
        self._worker.finished.connect(self.ended)
        self._worker.model_loaded.connect(self._on_model)
        self._worker.windows.connect(self._on_windows)
        self._worker.times.connect(self._on_times)
        self._worker.progress.connect(self._on_progress)
        self._worker.device.connect(self._on_device)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self.errored)
        self._live_bridge.connect(self._on_live)  # LiveRunner calls back on its own thread
        self._error_bridge.connect(self.errored)
        self._worker.start()

    # -- worker side, delivered on the GUI thread ------------------------------------------------
    def _on_model(self, loaded: LoadedModel, predictor) -> None:
        self.loaded = loaded
        if self.request.source is None:
            self.predictor = predictor
        else:
            self._device_info = predictor
        if not self.request.hop:
            from ..engine.windows import default_hop

            self.request = dataclasses.replace(self.request, hop=default_hop(loaded.card))
        if self.request.source is None:
            from ..engine.live import LiveRunner

            self._runner = LiveRunner(predictor, self.request.fps, self.request.hop,
                                      on_result=self._live_bridge.emit, on_error=lambda e: self._error_bridge.emit(str(e)))
        self.model_loaded.emit(loaded.card)

    _live_bridge = Signal(object)
    _error_bridge = Signal(str)

    def _on_windows(self, batch: list) -> None:
        self.windows.extend(batch)
        self.frame_count = max(self.frame_count, batch[-1].end_frame + 1)
        self._result = None
        self.changed.emit()

    def _on_times(self, times: list) -> None:
        self.frame_times.extend(times)

    def _on_device(self, info) -> None:
        self._device_info = info

    def _on_progress(self, decoded: int) -> None:
        self.decoded = decoded
        self.progress.emit(decoded, self.request.frame_count or 0)

    def _on_done(self, outcome) -> None:
        if outcome is None:
            return
        result, self.cached = outcome
        self.frame_count = result.frame_count
        self.frames_skipped, self.ended_early = result.frames_skipped, result.ended_early
        self.file_warnings = result.file_warnings()
        if result.frame_times is not None:
            self.frame_times = list(result.frame_times)
        if result.windows:  # from the cache (otherwise every window came in a batch)
            self.windows = list(result.windows)
        self.complete = True
        self._result = None
        self.changed.emit()
        self.finished.emit()

    def _on_live(self, live) -> None:
        self.windows.append(live.window)
        if len(self.windows) > 4000:  # a long webcam session: keep the last few minutes
            del self.windows[:1000]
        self.live = LiveStats(live.latency_s, live.compute_s, live.dropped, live.window.end_frame, time.perf_counter())
        self.frame_count = max(self.frame_count, live.window.end_frame + 1)
        self._result = None
        self.changed.emit()

    # -- the GUI's side ---------------------------------------------------------------------------
    def push(self, frame) -> None:
        """Live sources: the reader thread hands each frame over (ignored until the model is loaded)."""
        runner = self._runner
        if runner is not None:
            runner.push(frame)

    @property
    def card(self):
        return self.loaded.card if self.loaded else None

    @property
    def device_info(self):
        """The predictor's device and precision (engine.remote.PredictorInfo), None until loaded."""
        if self.predictor is not None:
            from ..engine.remote import PredictorInfo

            return PredictorInfo.of(self.predictor)
        return self._device_info

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels if self.card else ()

    @property
    def name(self) -> str:
        return self.card.name if self.card else (self.request.model or "default model")

    @property
    def title(self) -> str:
        """The name as the window shows it: "(yours)" after a model that is not a shipped one,
        so an imported copy of a shipped model is told apart from it."""
        return self.name + (" (yours)" if self.origin else "")

    @property
    def origin(self) -> str:
        """Where the model came from, when it is not a shipped one: two files may share a name."""
        from ..paths import shipped_models_dir

        if self.loaded is None or Path(self.loaded.description).parent == shipped_models_dir():
            return ""
        return self.loaded.description

    def result(self) -> AnalysisResult | None:
        """The windows so far as an AnalysisResult (rebuilt only when windows arrive)."""
        if self.card is None or not self.windows:
            return None
        if self._result is None or self._result.post != self.post:
            offset = self.frame_offset
            # a copy: self.windows grows as windows arrive, and a result is the windows it was made of
            windows = list(self.windows) if not offset else [self._shift(w, offset) for w in self.windows]
            self._result = AnalysisResult(
                source=str(self.request.source or "live"), fps=self.request.fps,
                frame_count=self.frame_count - offset, frames_skipped=self.frames_skipped, ended_early=self.ended_early,
                claimed_frame_count=self.request.frame_count,
                card=self.card, hop=self.request.hop, windows=windows, seconds=0.0,
                model_sha256=self.loaded.sha256 if self.loaded else "", post=self.post,
                frame_times=np.asarray(self.frame_times, np.float64) if self.frame_times else None
            ).continue_from(self._result_built)  # (its per-frame sums are redone only after the windows it had)
            self._result_built = self._result
        return self._result

    def smoothed_at(self, index: int) -> np.ndarray | None:
        """The post-processed probabilities of frame `index` of `result()` (classes,), or None
        where no window covers it yet. A large result (over PREPARE_CELLS) is read only once
        processed off this thread, so until then from the newest one that was: its windows
        lag by at most a redraw, and if none was yet, None (the caller shows the window's own)."""
        result = self.result()
        if result is None:
            return None
        if result.processed() or result.frame_count * len(result.labels) <= PREPARE_CELLS:
            self._processed = result
        processed = self._processed
        if processed is None or processed.post != result.post:
            return None
        smoothed = processed.smoothed_probs()
        if 0 <= index < len(smoothed) and np.isfinite(smoothed[index]).all():
            return smoothed[index]
        return None

    @property
    def timebase(self) -> Timebase:
        """Frame numbers to seconds for this run's source: the decoder's timestamps as far as
        decoded (engine.timebase), then the nominal rate."""
        result = self.result()
        if result is not None and len(self.frame_times) >= result.frame_count:
            return result.timebase
        if self._timebase is None or self._timebase[0] != len(self.frame_times):
            self._timebase = (len(self.frame_times), Timebase.from_times(self.request.fps, self.frame_times))
        return self._timebase[1]

    @property
    def frame_offset(self) -> int:
        """Live results cover only recent frames: index 0 of `result()` is this source frame."""
        return self.windows[0].start_frame if self.request.source is None and self.windows else 0

    @staticmethod
    def _shift(w: WindowResult, offset: int) -> WindowResult:
        # replace, not a new WindowResult: a field added later (the spatial maps) is kept
        return dataclasses.replace(w, centre_frame=w.centre_frame - offset, frames=tuple(f - offset for f in w.frames))

    def window_at(self, frame: int) -> WindowResult | None:
        """The window whose prediction is shown at `frame` (source frame numbers), by the core's
        rule (`AnalysisResult.window_at`: for a file the one centred nearest; live, the newest
        that has ended by then)."""
        result = self.result()
        if result is None:
            return None
        live = self.request.source is None
        shown = result.window_at(frame - self.frame_offset, live)
        if shown is None or not live:
            return shown
        # live results are shifted to the first frame they cover: give the window as it came
        return next(w for w, s in zip(reversed(self.windows), reversed(result.windows)) if s is shown)

    def set_post(self, post: PostProcessing) -> None:
        self.post = post
        self.changed.emit()

    def cancel(self) -> None:
        """Stop the live runner and ask the worker to stop after its current batch; no waiting."""
        self._worker.token.cancel()
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    def stop(self, wait_ms: int = 10000) -> bool:
        """Cancel and wait for the worker to end; a file's analysis process that has not
        stopped by then is ended."""
        self.cancel()
        if self._worker.wait(wait_ms):
            return True
        self._worker.kill()
        return self._worker.wait(1000)

    @property
    def running(self) -> bool:
        return self._worker.isRunning()
