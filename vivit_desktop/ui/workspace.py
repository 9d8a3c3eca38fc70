"""The window's state without its widgets, in the spirit of napari's `Viewer`: the open source,
its reader, the analysis runs, the playhead and the settings. It emits what changed; widgets
draw and forward the user's intent; questions (`is_live`, `prediction_at(frame)`) are asked
here, so tests and the window agree on one answer.

The engine is imported on a thread of its own when the workspace starts (`engine_ready` when
done), and an analysis process (engine.remote) is started, which imports PyTorch for the files'
analyses: the window appears at once and a file plays while its model loads. This process
imports torch only for a camera or stream (the live worker, on its thread)."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import NamedTuple
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from ..engine.postprocess import PostProcessing
from ..engine.sources import source_kind
from ..engine.timebase import Timebase
from . import collector
from .reader import ReaderThread, ShownFrame, SourceInfo
from .settings import Settings

log = logging.getLogger(__name__)

STALE_S = 2.0  # a live prediction older than this is marked stale
SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)


def format_time(seconds: float) -> str:
    """0:00.40, 12:03.00, 1:02:03.00"""
    minutes, secs = divmod(max(seconds, 0.0), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:05.2f}" if hours else f"{minutes}:{secs:05.2f}"


class _EngineLoader(QThread):
    """Imports torch and the analysis engine off the GUI thread (seconds on a loaded machine)."""

    failed = Signal(str)

    def run(self) -> None:
        try:
            from ..engine.remote import processes

            processes.prewarm()  # the analysis process imports torch for the first file
            with collector.paused():
                from . import analysis  # noqa: F401 - the engine, without torch (only a live source needs it here)
                from .. import zoo  # noqa: F401
        except Exception as e:  # noqa: BLE001 - a broken install: said in the window, not a crash
            log.exception("engine import failed")
            self.failed.emit(f"{type(e).__name__}: {e}")


class Shown(NamedTuple):
    """What the window shows at a frame: the ranking (every class; each head's on its own), the
    window of the prediction, and a state ("" = fresh; "preparing", "stale", "short clip")."""
    ranked: list
    window: object
    state: str


class Workspace(QObject):
    source_opened = Signal(object)  # SourceInfo
    source_failed = Signal(str, str)  # message, the spec that failed
    source_closed = Signal()  # nothing of the previous source is left to show
    frame_shown = Signal(object)  # ShownFrame
    playing_changed = Signal(bool)
    length_changed = Signal(int)  # a file's frame count, corrected at its end
    runs_changed = Signal()  # runs started, replaced or stopped
    results_changed = Signal()  # new windows or post-processing: the window redraws (throttled)
    progress = Signal(int, int)  # the primary run's frames analysed, of
    model_loaded = Signal()
    run_failed = Signal(str)
    engine_ready = Signal()
    engine_failed = Signal(str)

    def __init__(self, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.model_spec: str | None = settings.model or None
        self.compare_spec: str | None = None
        self.post = PostProcessing()
        self.reader: ReaderThread | None = None
        self.info: SourceInfo | None = None
        self.title = ""
        self.runs: list = []  # AnalysisRun: [primary, compare?]
        self._retired: list = []  # cancelled runs and closed readers still finishing their current step
        self.playhead = 0
        self._stepped_to: tuple[int, float] | None = None  # (frame, time) the last step by seconds aimed at
        self.playing = False
        self.speed = 1.0
        self.shown_times: deque[float] = deque(maxlen=60)
        self.ready = False
        self.engine_error = ""
        self._pending: tuple | None = None
        self._loader = _EngineLoader(self)
        self._loader.finished.connect(self._engine_loaded)
        self._loader.failed.connect(self._engine_failed)
        self._loader.start()

    # -- questions -----------------------------------------------------------------------------
    @property
    def is_live(self) -> bool:
        return self.info is not None and self.info.live

    @property
    def primary(self):
        return self.runs[0] if self.runs else None

    @property
    def frame_total(self) -> int:
        """Frames in the open file as far as known (the container's claim until its end is met)."""
        return max(1, self.info.frame_count or 1) if self.info is not None and not self.info.live else 0

    @property
    def timebase(self) -> Timebase:
        """Frame numbers to seconds for the open source: the one mapping the time label, plots,
        ethogram and exports share (the decoder's timestamps on a variable-rate file)."""
        run = self.primary
        if run is not None and not self.is_live:
            return run.timebase
        return Timebase(self.info.fps if self.info is not None and self.info.fps else 30.0)

    def duration(self) -> float:
        """The open file's length in seconds, as far as known."""
        return self.timebase.time(self.frame_total)

    def fps_int(self) -> int:
        return max(1, int(round(self.info.fps))) if self.info else 25

    def display_fps(self) -> float:
        times = self.shown_times
        if len(times) < 3 or times[-1] <= times[0] or time.perf_counter() - times[-1] > 1.0:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def outage_s(self) -> float:
        """A live source: seconds since its last frame when that is over a second (a stream that
        dropped and is reconnecting, a camera unplugged); 0 otherwise."""
        if not self.is_live or not self.shown_times or not self.playing:
            return 0.0
        age = time.perf_counter() - self.shown_times[-1]
        return age if age > 1.0 else 0.0

    def prediction_at(self, frame: int | None = None) -> Shown:
        """The primary run's prediction for `frame` (default: the playhead)."""
        frame = self.playhead if frame is None else frame
        run = self.primary
        if run is None or run.card is None:
            return Shown([], None, "preparing")
        from ..engine.results import top_per_head  # imported by then (torch): never wait for it here

        window = run.window_at(frame)
        if window is None:
            return Shown([], None, "preparing")
        probs = run.smoothed_at(frame - run.frame_offset) if not self.is_live else None
        if probs is None:
            probs = window.probs
        ranked = [item for _, top in top_per_head(probs, run.card, len(probs)) for item in top]
        state = ""
        if self.is_live and time.perf_counter() - run.live.arrived > STALE_S:
            state = "stale"
        elif self.is_short_clip(run):
            state = "short clip"
        return Shown(ranked, window, state)

    def analysed_to(self) -> str:
        """"analysed to 0:12.40": how far the primary run's file analysis has got ("" live, or
        before it has decoded anything)."""
        run = self.primary
        if run is None or self.is_live or not run.decoded or not run.request.fps:
            return ""
        return f"analysed to {format_time(run.timebase.time(run.decoded))}"

    def is_short_clip(self, run=None) -> bool:
        """A file with fewer frames than the model's window: its prediction is from a padded
        window, and the window says so rather than showing a confident label."""
        run = run or self.primary
        if run is None or run.card is None or self.is_live or not run.complete:
            return False
        card = run.card
        return run.frame_count < card.num_frames * card.frame_stride

    def spatial_at(self, frame: int | None = None):
        """The primary run's spatial attention map (nh, nw) at a frame (default: the playhead), or
        None (no window there yet, or a result cached without maps)."""
        run = self.primary
        result = run.result() if run is not None else None
        if result is None:
            return None
        frame = self.playhead if frame is None else frame
        return result.spatial_at(frame - run.frame_offset, live=self.is_live)

    # -- the engine ------------------------------------------------------------------------------
    def _engine_loaded(self) -> None:
        if self.engine_error:
            return
        self.ready = True  # (torch's objects were frozen out of the collector's sight: collector.py)
        self.engine_ready.emit()
        if self._pending is not None:
            spec, title = self._pending
            self._pending = None
            self.open(spec, title)

    def _engine_failed(self, message: str) -> None:
        self.engine_error = message
        self.engine_failed.emit(message)

    def wait_engine(self, ms: int = 60000) -> bool:
        """Tests and the self-test: block until torch is imported (the GUI normally never waits)."""
        self._loader.wait(ms)
        if not self.ready and not self.engine_error:
            self._engine_loaded()
        return self.ready

    # -- sources ---------------------------------------------------------------------------------
    def open(self, spec, title: str) -> None:
        """A file path, camera index, stream URL, or a function returning a live source."""
        self.close_source()
        self.title = title
        if not self.ready:
            self._pending = (spec, title)
            return
        self.reader = ReaderThread(spec, on_live_frame=self._push_live)
        self.reader.opened.connect(self._source_opened)
        self.reader.frame_ready.connect(self._take_frame)
        self.reader.playing_changed.connect(self._playing_changed)
        self.reader.ended.connect(self._ended)
        self.reader.errored.connect(self._source_error)
        self.reader.set_speed(self.speed)
        self.reader.set_loop(self.settings.loop)
        self.reader.display_size = self.display_size
        self.reader.start()

    display_size = (1280, 720)

    def set_display_size(self, width: int, height: int) -> None:
        self.display_size = (width, height)
        if self.reader is not None:
            self.reader.display_size = (width, height)

    def _push_live(self, frame) -> None:
        """Reader thread: hand a live frame to every run (their runners preprocess it)."""
        for run in list(self.runs):
            run.push(frame)

    def close_source(self) -> None:
        self._pending = None
        if self.reader is not None:
            reader, self.reader = self.reader, None
            for signal in (reader.opened, reader.frame_ready, reader.playing_changed, reader.ended, reader.errored):
                signal.disconnect()
            if not reader.stop(0):  # never block the window: a stream read may take its timeout to return
                self._retired.append(reader)
                reader.finished.connect(lambda r=reader: self._retired.remove(r) if r in self._retired else None)
        self._stop_runs()
        had = self.info is not None or self.title
        self.info = None
        self.playhead = 0
        self.playing = False
        self.shown_times.clear()
        if had:
            self.source_closed.emit()
        self.runs_changed.emit()

    def _source_opened(self, info: SourceInfo) -> None:
        if self.reader is None or info is not self.reader.info:
            return  # a queued `opened` of a source closed or replaced since
        self.info = info
        if info.path is not None:
            self.settings.remember(str(Path(info.path).resolve()))
        elif isinstance(self.reader.spec, str) and source_kind(self.reader.spec) == "stream":
            self.settings.remember(self.reader.spec)  # a stream URL: Open Recent offers it again
        self.source_opened.emit(info)
        self._start_runs()
        if not info.live:
            self.reader.play()

    def _source_error(self, message: str) -> None:
        spec = str(self.reader.spec) if self.reader is not None else ""
        self.close_source()
        self.title = ""
        self.source_failed.emit(message, spec)

    def _ended(self, frames: int) -> None:
        if self.info is not None and not self.info.live:
            from dataclasses import replace

            self.info = replace(self.info, frame_count=frames)
            self.length_changed.emit(frames)

    def _take_frame(self) -> None:
        if self.reader is None:
            return
        frame: ShownFrame | None = self.reader.take_frame()
        if frame is None:
            return
        self.playhead = frame.index
        self.shown_times.append(time.perf_counter())
        if self.info is not None and not self.info.live and self.info.frame_count is not None \
                and frame.index >= self.info.frame_count:
            from dataclasses import replace

            self.info = replace(self.info, frame_count=frame.index + 1)  # the container undercounted
            self.length_changed.emit(frame.index + 1)
        self.frame_shown.emit(frame)

    def _playing_changed(self, playing: bool) -> None:
        self.playing = playing
        self.playing_changed.emit(playing)

    # -- playback --------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self.reader is not None:
            self.reader.toggle()

    def seek(self, frame: int) -> None:
        if self.reader is not None and self.info is not None and not self.info.live:
            self.reader.seek(int(frame))

    def step(self, frames: int) -> None:
        if self.reader is not None and self.info is not None and not self.info.live:
            self.reader.pause()
            self.reader.step(frames)

    def step_seconds(self, seconds: float) -> None:
        """To the frame on screen `seconds` later (earlier if negative). Repeated steps count from
        the time the last one aimed at, not from the start of the frame it landed on: on a file
        whose frames are held for a second or more, four steps back are four seconds back."""
        timebase = self.timebase
        start = timebase.time(self.playhead)
        if self._stepped_to is not None and self._stepped_to[0] == self.playhead:
            start = self._stepped_to[1]
        target = max(0.0, start + seconds)
        frames = timebase.shown_at(target) - self.playhead
        if not frames:  # still the frame on screen then: the next one, so the key is seen to work
            frames = int(np.sign(seconds))
            target = timebase.time(self.playhead + frames)
        self._stepped_to = (self.playhead + frames, target)
        self.step(frames)

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        if self.reader is not None:
            self.reader.set_speed(speed)

    def set_loop(self, loop: bool) -> None:
        self.settings.set(loop=bool(loop))
        if self.reader is not None:
            self.reader.set_loop(loop)

    # -- analysis runs -----------------------------------------------------------------------------
    def _request(self, model: str | None):
        from .analysis import RunRequest

        info = self.info
        return RunRequest(model=model, device=self.settings.device, precision=self.settings.precision,
                          hop=self.settings.hop, source=None if info.live else info.path, fps=info.fps,
                          frame_count=info.frame_count)

    def _start_runs(self) -> None:
        self._stop_runs()
        if self.info is None:
            return
        for spec in [self.model_spec] + ([self.compare_spec] if self.compare_spec else []):
            self._start_run(spec)
        self.runs_changed.emit()

    def _start_run(self, spec):
        from .analysis import AnalysisRun

        run = AnalysisRun(self._request(spec))
        run.set_post(self.post)
        run.model_loaded.connect(lambda card, r=run: self._model_loaded(r))
        run.changed.connect(self.results_changed)
        run.progress.connect(lambda done, total, r=run: self.progress.emit(done, total) if r is self.primary else None)
        run.finished.connect(self.results_changed)
        run.finished.connect(lambda r=run: self._run_finished(r))
        run.errored.connect(lambda message, r=run: self._run_error(r, message))
        self.runs.append(run)
        return run

    def _run_finished(self, run) -> None:
        # the analysis decoded the whole file: its frame count is the file's, whatever the header said
        if run is self.primary and not self.is_live and self.info is not None and run.frame_count \
                and run.frame_count != self.info.frame_count:
            self._ended(run.frame_count)

    def _stop_runs(self) -> None:
        for run in self.runs:
            self._retire(run)
        self.runs = []

    def _retire(self, run) -> None:
        """Cancel a run without blocking the window: it ends after its current batch."""
        run.cancel()
        for signal in (run.changed, run.progress, run.finished, run.errored, run.model_loaded):
            try:
                signal.disconnect()
            except (RuntimeError, TypeError):
                pass
        if run.running:  # kept until its worker ends, so that closing can wait for it
            self._retired.append(run)
            run.ended.connect(lambda r=run: self._retired.remove(r) if r in self._retired else None)

    @property
    def busy(self) -> bool:
        """Any worker still running (a cancelled one finishing its batch included)."""
        return any(run.running for run in self.runs) or bool(self._retired) or \
            (self.reader is not None and self.reader.isRunning())

    def _model_loaded(self, run) -> None:
        if run is self.primary:
            self.settings.set(model=self.model_spec or "")
        self.model_loaded.emit()
        self.results_changed.emit()

    def _run_error(self, run, message: str) -> None:
        if run is self.primary and run.loaded is None and self.model_spec is not None:
            self.model_spec = None  # fall back to the default, so the window keeps working
            self.settings.set(model="")
        self.run_failed.emit(message)

    def set_model(self, spec: str | None) -> None:
        """Switch the primary model; analysis restarts in the background and its results replace
        the old ones as they arrive."""
        self.model_spec = spec
        self.settings.set(model=spec or "")
        if spec is not None and spec == self.compare_spec:
            self.compare_with(None)  # comparing a model with itself shows the same thing twice
        if self.info is None:
            return
        if self.runs:
            self._retire(self.runs[0])
            new = self._start_run(spec)  # appended: it takes the old one's place
            self.runs.remove(new)
            self.runs[0] = new
        else:
            self._start_run(spec)
        self.runs_changed.emit()

    def compare_with(self, spec: str | None) -> None:
        """Run a second model on the same source, its tracks under the first; None stops it."""
        self.compare_spec = spec
        if len(self.runs) > 1:
            self._retire(self.runs.pop(1))
        if spec is not None and self.info is not None:
            self._start_run(spec)
        self.runs_changed.emit()

    def set_device(self, device: str) -> None:
        self.settings.set(device=device)
        self._start_runs()

    def set_precision(self, precision: str) -> None:
        self.settings.set(precision=precision)
        self._start_runs()

    def set_hop(self, hop: int) -> None:
        self.settings.set(hop=hop)
        self._start_runs()

    def set_post(self, post: PostProcessing) -> None:
        self.post = post
        for run in self.runs:
            run.set_post(post)
        self.results_changed.emit()

    # -- the end -----------------------------------------------------------------------------------
    def shutdown(self, wait_ms: int = 15000) -> bool:
        """Stop the reader and every analysis; wait up to `wait_ms` in all for their threads.
        False when one is still busy (a forward pass cannot be interrupted): the caller decides."""
        self.close_source()
        deadline = time.perf_counter() + wait_ms / 1000
        for worker in list(self._retired):  # runs finishing a batch, readers finishing a read
            if not worker.stop(max(0, int((deadline - time.perf_counter()) * 1000))):
                return False
        self._retired.clear()
        self._loader.wait(max(0, int((deadline - time.perf_counter()) * 1000)))
        return not self._loader.isRunning()
