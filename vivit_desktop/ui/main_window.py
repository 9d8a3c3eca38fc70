"""The main window: wiring. The state is the `Workspace`'s; the parts draw it and forward what
the user asks for: the video view, the transport bar, the timeline, ethogram and attention
plots, the predictions panel, the status bar, the menus (declared in `actions`) and the exports.
Only the GUI thread touches widgets: the reader and the analysis workers emit, and a 10 Hz timer
redraws the plots when results have changed."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QInputDialog, QMainWindow, QMessageBox, QSplitter,
                               QVBoxLayout, QWidget)

from ..engine.sources import VIDEO_SUFFIXES, source_kind
from ..paths import app_root
from . import actions
from .analysis import PREPARE_CELLS
from .collector import lower_thread_priority
from .drawing import draw_attention_track, draw_run, draw_timeline, draw_window_attention
from .ethogram import Ethogram, compute_rows
from .exports import Exports
from .model_dialogs import ModelDialogs, column_title
from .models_menu import ModelsMenu
from .plots import RunTracks, WindowAttention
from .predictions import PredictionsPanel
from .settings import APP, ORG, Settings  # noqa: F401 - ORG: app.py names the application with it
from .status import StatusPanel
from .transport import TransportBar
from .video_view import VideoView
from .workspace import Workspace

log = logging.getLogger(__name__)



def icon_path() -> Path:
    return app_root() / "resources" / "icon.png"


def sample_clip() -> Path:
    return app_root() / "resources" / "sample.mp4"


class MainWindow(QMainWindow):
    """`open_path(path)`, `open_camera(index)`, `open_stream(url)`, `set_model(spec)`,
    `compare_with(spec)`, the exports: what the menus do; the state is `workspace`."""

    source_failed = Signal(str)  # after the dialog: for tests and the status bar

    def __init__(self, *, model: str | None = None, device: str | None = None, settings: QSettings | None = None,
                 show_dialogs: bool = True) -> None:
        super().__init__()
        self.settings = Settings.load(settings)
        if model is not None:
            self.settings.model = model  # for this session; saved once it loads
        if device is not None:
            self.settings.device = device
        self.show_dialogs = show_dialogs  # tests turn modal dialogs into status messages
        self.workspace = Workspace(self.settings, self)
        self.exports = Exports(self)
        self.model_dialogs = ModelDialogs(self)  # Get models…, Import checkpoint…, the card
        self.last_error = ""
        self.last_question = ""  # the last yes/no question asked (dialogs off: answered yes)
        self._heatmap_drawn = None  # the spatial map over the frame on screen
        self._steps: list = []  # the rest of a redraw done a step per event-loop pass
        self._preparing = 0  # redraws whose results are being prepared on the worker thread
        self._prepare_s = 0.0  # how long the last preparation took
        self._preparer = ThreadPoolExecutor(1, thread_name_prefix="vivit-prepare")
        self._prepared.connect(self._start_steps)
        self.clean_exit = True  # False after a close that left a worker in a forward pass
        self._dirty = True
        self._plots_at = 0.0  # when the plots were last redrawn
        self._docks_before_full_screen: dict = {}

        self.setWindowTitle(APP)
        if icon_path().exists():
            self.setWindowIcon(QIcon(str(icon_path())))
        self.setAcceptDrops(True)
        self._build_widgets()
        self.acts = actions.build_menus(self, self._handlers(), {
            "cameras": self._fill_cameras, "recent": self._fill_recent, "models": self._models_menu,
            "docks": lambda menu: [menu.addAction(d.toggleViewAction()) for d in (self.predictions_dock,
                                                                                  self.attention_dock)]})
        self.status = StatusPanel(self.statusBar())
        self._connect()
        self._apply_settings()
        available = self.screen().availableGeometry()  # a first window fits the screen (800×600 too)
        self.resize(min(1280, available.width()), min(720, available.height() - 30))
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)
        if self.settings.window_state is not None:
            self.restoreState(self.settings.window_state)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(lambda: self.refresh(staged=True))
        self._timer.start()

    # -- construction ------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.video = VideoView()
        self.transport = TransportBar()
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(2)
        top_layout.addWidget(self.video, 1)
        top_layout.addWidget(self.transport)

        self.tracks_box = QWidget()
        self.tracks_layout = QVBoxLayout(self.tracks_box)
        self.tracks_layout.setContentsMargins(0, 0, 0, 0)
        self.tracks: list[RunTracks] = []
        self._add_tracks()
        self.ethogram = Ethogram()
        self.ethogram.filter_box.setFocusPolicy(Qt.ClickFocus)  # single-key shortcuts (Space, H) stay the window's
        self.ethogram.filter_box.installEventFilter(self)  # Esc, Ctrl+key: the window's again (eventFilter)
        self.video.setFocusPolicy(Qt.ClickFocus)  # a click on the video takes the keys back from the filter box

        self.splitter = QSplitter(Qt.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.ethogram)
        self.splitter.addWidget(self.tracks_box)
        for i, stretch in enumerate((5, 2, 3)):
            self.splitter.setStretchFactor(i, stretch)
        self.splitter.setSizes([520, 160, 260])  # the video first; kept in proportion as the window resizes
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        self.panel = PredictionsPanel()
        self.predictions_dock = QDockWidget("Predictions", self)
        self.predictions_dock.setObjectName("predictions")
        self.predictions_dock.setWidget(self.panel)
        self.addDockWidget(Qt.RightDockWidgetArea, self.predictions_dock)
        self.window_attention = WindowAttention()
        self.attention_dock = QDockWidget("Temporal attention of the shown window", self)
        self.attention_dock.setObjectName("attention")
        self.attention_dock.setWidget(self.window_attention)
        self.addDockWidget(Qt.RightDockWidgetArea, self.attention_dock)
        self.resizeDocks([self.predictions_dock, self.attention_dock], [420, 200], Qt.Vertical)
        self.resizeDocks([self.predictions_dock], [330], Qt.Horizontal)

    def _add_tracks(self) -> RunTracks:
        tracks = RunTracks()
        tracks.timeline.seek_requested.connect(self.seek)
        tracks.attention.seek_requested.connect(self.seek)
        tracks.timeline.threshold_dragged.connect(lambda value: self.panel.set_threshold(value))
        # a compared model's plots: its cursor and threshold there from the start, not at the next frame or change
        tracks.set_playhead(self.workspace.playhead)
        tracks.timeline.set_threshold(self.workspace.post.threshold)
        self.tracks.append(tracks)
        self.tracks_layout.addWidget(tracks)
        return tracks

    def _handlers(self) -> dict:
        ws, t = self.workspace, self.transport
        return {
            "open": self.open_dialog, "open_stream": self.open_stream_dialog, "quit": self.close,
            "export_csv": lambda: self.export_predictions("csv"), "export_json": lambda: self.export_predictions("json"),
            "export_annotated": self.exports.annotated_dialog, "export_plots": self.exports.plots_dialog,
            "play": ws.toggle_play, "previous": lambda: ws.step(-1), "next": lambda: ws.step(1),
            "back_1s": lambda: ws.step_seconds(-1), "forward_1s": lambda: ws.step_seconds(1),
            "back_10s": lambda: ws.step_seconds(-10), "forward_10s": lambda: ws.step_seconds(10),
            "start": lambda: ws.seek(0), "end": lambda: ws.seek(t.slider.maximum()),
            "slower": lambda: t.step_speed(-1), "faster": lambda: t.step_speed(1),
            "loop": self.set_loop, "overlay": self.set_overlay_visible, "heatmap": self.set_heatmap_visible,
            "full_screen": self.toggle_full_screen,
            "leave_full_screen": lambda: self.toggle_full_screen() if self.isFullScreen() else None,
            "shortcuts": self.show_shortcuts, "labels_help": self.model_dialogs.show_labels_help, "about": self.about,
        }

    def _models_menu(self, menu) -> None:
        self.models_menu = menu
        self._models = ModelsMenu(menu, self)

    def _connect(self) -> None:
        ws, t, panel = self.workspace, self.transport, self.panel
        self.video.double_clicked.connect(self.toggle_full_screen)
        self.video.resized.connect(ws.set_display_size)
        t.play_clicked.connect(ws.toggle_play)
        t.step_requested.connect(ws.step)
        t.seek_requested.connect(self.seek)
        t.speed_changed.connect(ws.set_speed)
        t.loop_toggled.connect(self.set_loop)
        t.overlay_toggled.connect(self.set_overlay_visible)
        t.heatmap_toggled.connect(self.set_heatmap_visible)
        t.opacity_changed.connect(lambda v: (self.settings.set(heatmap_opacity=v), self._redraw_frame()))
        panel.post_changed.connect(self._post_changed)
        panel.invalid.connect(lambda message: self.statusBar().showMessage(message, 5000))
        panel.seek_requested.connect(self.seek)
        panel.labels_help_requested.connect(self.model_dialogs.show_labels_help)
        self.ethogram.seek_requested.connect(self.seek)
        self.ethogram.picked_changed.connect(lambda _: self._mark_dirty())
        ws.source_opened.connect(self._source_opened)
        ws.source_failed.connect(self._source_error)
        ws.source_closed.connect(self._clear_results)
        ws.frame_shown.connect(self._show_frame)
        ws.playing_changed.connect(t.set_playing)
        ws.length_changed.connect(lambda frames: t.set_length(frames, True))
        ws.runs_changed.connect(self._sync_tracks)
        ws.results_changed.connect(self._mark_dirty)
        ws.model_loaded.connect(self._model_loaded)
        ws.progress.connect(lambda done, total: self.status.set_progress(
            done, total, ws.primary is not None and ws.primary.complete))
        ws.run_failed.connect(lambda message: self.error("Analysis failed", message))
        ws.engine_ready.connect(lambda: self.video.clear("Opening…") if ws.title else None)
        ws.engine_failed.connect(lambda message: self.error(
            "The analysis engine did not load", f"{message}\n\nReinstall the program; if that does not help, "
            "report this message."))

    def _apply_settings(self) -> None:
        s = self.settings
        self.set_overlay_visible(s.overlay)
        self.set_loop(s.loop)
        self.transport.opacity.setValue(int(round(s.heatmap_opacity * 100)))
        self.set_heatmap_visible(s.heatmap)

    # -- sources ---------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES))
        start = self.settings.last_dir or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open video", start, f"Videos ({patterns});;All files (*)")
        if path:
            self.settings.set(last_dir=str(Path(path).parent))
            self.open_path(path)

    def open_stream_dialog(self) -> None:
        url, ok = QInputDialog.getText(self, "Open stream", "Stream URL (rtsp://, http://, https://, udp://…):")
        if ok and url.strip():
            self.open_stream(url.strip())

    def _fill_cameras(self, menu) -> None:
        from ..engine.sources import list_cameras

        menu.clear()
        cameras = list_cameras()
        for index, name in cameras:
            menu.addAction(name).triggered.connect(lambda checked=False, i=index: self.open_camera(i))
        if not cameras:
            menu.addAction("No camera found").setEnabled(False)

    def _fill_recent(self, menu) -> None:
        menu.clear()
        for source in self.settings.recent:
            menu.addAction(source).triggered.connect(lambda checked=False, s=source: self.open_source_text(s))
        if not self.settings.recent:
            menu.addAction("(none)").setEnabled(False)

    def recent_files(self) -> list[str]:
        return list(self.settings.recent)

    def open_source_text(self, text: str) -> None:
        """A file path, camera index or stream URL, as typed or remembered (one rule decides)."""
        kind = source_kind(text)
        if kind == "camera":
            self.open_camera(int(text))
        elif kind == "stream":
            self.open_stream(text)
        else:
            self.open_path(text)

    def open_path(self, path: str | Path) -> None:
        path = Path(path)
        self._open(str(path), path.name)  # Open Recent learns it once it has opened

    def open_camera(self, index) -> None:
        """A camera index, or a function returning a live VideoSource (a simulated camera)."""
        self._open(index, f"camera {index}" if not callable(index) else "simulated camera")

    def open_stream(self, url: str) -> None:
        self._open(url, url)

    def _open(self, spec, title: str) -> None:
        self.setWindowTitle(f"{title} — {APP}")
        self.workspace.open(spec, title)
        self.video.clear("Opening…" if self.workspace.ready else "Loading the analysis engine (PyTorch)…")

    def _source_opened(self, info) -> None:
        self.transport.set_length(info.frame_count or 1, seekable=not info.live)
        self._sync_tracks()

    def _source_error(self, message: str, spec: str) -> None:
        self.video.clear("Could not open the source.\n\n" + message)
        self.setWindowTitle(APP)
        kind = source_kind(spec) if spec else "file"
        # the conversion hint is for files that exist, and only where the engine's message has none
        no_hint = "ffmpeg" in message or "will not help" in message or kind != "file" or not Path(spec).is_file()
        self.error("Cannot play this source", message + ("" if no_hint else
                   "\n\nOpen another file (File ▸ Open), or convert this one, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"))
        self.source_failed.emit(message)

    def _clear_results(self) -> None:
        """Nothing of the previous source stays on screen (a failed open showed its predictions)."""
        self._sync_tracks()
        for tracks in self.tracks:
            draw_run(tracks, None, self.workspace)
        self.ethogram.set_data(None, (), None, 30.0)
        self.panel.clear()
        self.window_attention.set_window(None, None, 0)
        self.video.set_overlay([], "", "")
        self.transport.reset()
        self._last_frame = None

    # -- commands (the menus' and the tests') ----------------------------------------------------------
    def seek(self, frame: int) -> None:
        self.workspace.seek(frame)

    def step(self, frames: int) -> None:
        self.workspace.step(frames)

    def toggle_play(self) -> None:
        self.workspace.toggle_play()

    def set_model(self, spec: str | None) -> None:
        self.workspace.set_model(spec)

    def compare_with(self, spec: str | None) -> None:
        self.workspace.compare_with(spec)

    def export_predictions(self, kind: str, path: str | Path | None = None) -> list[Path]:
        return self.exports.predictions(kind, path)

    def export_plots(self, path: str | Path) -> Path | None:
        return self.exports.plots(path)

    def export_annotated(self, path: str | Path, wait: bool = False):
        return self.exports.annotated(path, wait)

    def set_loop(self, loop: bool) -> None:
        self.acts["loop"].setChecked(loop)
        self.transport.show_loop(loop)
        self.workspace.set_loop(loop)

    def set_overlay_visible(self, shown: bool) -> None:
        self.acts["overlay"].setChecked(shown)
        self.transport.show_overlay(shown)
        self.settings.set(overlay=bool(shown))
        self.video.show_overlay = shown
        self.video.update()

    def set_heatmap_visible(self, shown: bool) -> None:
        self.acts["heatmap"].setChecked(shown)
        self.transport.show_heatmap(shown)
        self.settings.set(heatmap=bool(shown))
        self._redraw_frame()

    def _redraw_frame(self) -> None:
        """The frame shown, drawn again (the heatmap was toggled or its opacity changed while paused)."""
        frame = getattr(self, "_last_frame", None)
        if frame is not None and self.workspace.info is not None:
            self.video.set_frame(self._with_heatmap(frame.image) if self.settings.heatmap else frame.image)

    def toggle_full_screen(self) -> None:
        """Full screen shows the video and its transport only; leaving brings the rest back."""
        hideable = [self.predictions_dock, self.attention_dock, self.ethogram, self.tracks_box]
        if self.isFullScreen():
            self.showNormal()
            self.menuBar().show()
            self.statusBar().show()
            for widget in hideable:
                widget.setVisible(self._docks_before_full_screen.get(widget, True))
            self._dirty = True  # the plots and the ethogram skipped data while hidden
        else:
            self._docks_before_full_screen = {w: w.isVisible() for w in hideable}
            for widget in hideable:
                widget.hide()
            self.menuBar().hide()
            self.statusBar().hide()
            self.showFullScreen()

    # -- drawing ---------------------------------------------------------------------------------
    def _mark_dirty(self) -> None:
        self._dirty = True

    def _model_loaded(self) -> None:
        run = self.workspace.primary
        if run is not None and run.card is not None:
            self.panel.set_column_title(column_title(run.card))
        self._dirty = True

    def _post_changed(self, post) -> None:
        self.workspace.set_post(post)
        for tracks in self.tracks:
            tracks.timeline.set_threshold(post.threshold)

    def _sync_tracks(self) -> None:
        wanted = max(1, len(self.workspace.runs))
        if wanted == len(self.tracks):
            return
        while len(self.tracks) < wanted:
            self._add_tracks()
        while len(self.tracks) > wanted:
            tracks = self.tracks.pop()
            tracks.setParent(None)
            tracks.deleteLater()
        # comparing: each run's attention track lower, and the plots a larger share of the height
        # (two runs' tracks in one run's space left each timeline some 25 px, unreadable)
        for tracks in self.tracks:
            tracks.attention.setMaximumHeight(110 if wanted == 1 else 60)
        total = sum(self.splitter.sizes())
        if total > 0:
            shares = (5, 2, 3) if wanted == 1 else (3, 2, 5)
            self.splitter.setSizes([total * share // 10 for share in shares])
        self._dirty = True

    def _show_frame(self, frame) -> None:
        ws = self.workspace
        self._last_frame = frame
        image = frame.image
        if self.settings.heatmap:
            image = self._with_heatmap(image)
        self.video.set_frame(image)
        info = ws.info
        if info is not None and not info.live:
            self.transport.set_position(frame.index, frame.time, ws.duration())
        else:
            self.transport.set_position(frame.index, frame.time, None)
        for tracks in self.tracks:
            tracks.set_playhead(frame.index)
        self.ethogram.set_playhead(frame.index)
        self._show_prediction()

    def _with_heatmap(self, image):
        """The frame with the model's spatial attention over the region it saw (the exports' own
        drawing), or the frame as it is when there is no map yet."""
        run = self.workspace.primary
        spatial = self.workspace.spatial_at()
        self._heatmap_drawn = spatial
        if spatial is None or run is None or run.card is None:
            return image
        from ..engine.annotate import draw_heatmap
        from ..engine.preprocess import Preprocessor

        h, w = image.shape[:2]
        return draw_heatmap(image.copy(), spatial, Preprocessor(run.card).crop_box(h, w),
                            self.settings.heatmap_opacity)

    def _show_prediction(self) -> None:
        ws = self.workspace
        shown = ws.prediction_at()
        run = ws.primary
        caption = run.name if run is not None else ""
        state = shown.state
        if state == "preparing" and ws.analysed_to():
            state = f"preparing ({ws.analysed_to()})"
        outage = ws.outage_s()
        if outage:
            state = f"no frames for {outage:.0f} s: reconnecting"  # the prediction shown is old
        multi = run is not None and run.card is not None and run.card.multi_head
        overlay = _leading_per_head(shown.ranked, run.card, 2) if multi else shown.ranked[:3]
        self.video.set_overlay(overlay, caption, state)
        draw_window_attention(self.window_attention, ws)
        if self.tracks:
            w = shown.window
            self.tracks[0].timeline.set_bracket(w.start_frame if w else None, w.end_frame if w else None)
        self.panel.set_ranking(shown.ranked)
        self.panel.set_note(_short_clip_note(run) if shown.state == "short clip" else
                            "Stale: no new prediction for over 2 s (the stream may have stalled)"
                            if shown.state == "stale" else _damaged_file_note(run) if run is not None else "")
        if run is not None and run.card is not None and shown.ranked:
            labels = run.card.qualified_labels
            top = shown.ranked[0][0]
            self.ethogram.set_current(labels.index(top) if top in labels else None)

    def refresh(self, staged: bool = False) -> None:
        """Redraw now (the 10 Hz timer calls it): status bar always; plots, ethogram and segments
        only when results changed. `staged` (the timer): the plots, the ethogram and the segments
        one per pass of the event loop, so that the window repaints and takes input between them
        rather than after one 40-60 ms redraw (bench/bench_gui.py)."""
        ws = self.workspace
        self.status.update(ws)
        if ws.is_live or (ws.primary is not None and ws.prediction_at().state == "preparing"):
            # the age of a live prediction, or how far the analysis has got, changes with no new frame
            self._show_prediction()
        self.panel.set_model_text(f"Model: {ws.primary.title}" if ws.primary is not None and ws.primary.card else
                                  "Model: loading…" if ws.primary is not None else "Model: —")
        # comparing: the ethogram and the panel show the first model only, and say which
        shown = ws.primary.name if len(ws.runs) > 1 else ""
        self.ethogram.set_caption(f"Ethogram — {shown}" if shown else "")
        title = f"Predictions — {shown}" if shown else "Predictions"
        if self.predictions_dock.windowTitle() != title:
            self.predictions_dock.setWindowTitle(title)
        if not staged and self._steps:  # a staged redraw still under way: finished now
            steps, self._steps = self._steps, []
            for step in steps:
                step()
        if not self._dirty or (staged and (self._preparing or self._steps)):
            return  # (a redraw under way: the next tick after it takes what changed meanwhile)
        now = time.perf_counter()
        analysing = any(not run.complete for run in ws.runs) and not ws.is_live
        if analysing and now - self._plots_at < max(1.0, 8 * self._prepare_s):
            # while windows arrive, the plots are redrawn once a second (a redraw is ~50 ms of
            # repaint), or less often when preparing the results takes long: parts of numpy
            # (copies, fills) hold the interpreter lock, and the window waits for them
            return
        self._plots_at = now
        self._dirty = False
        picked = self.ethogram.picked()
        results = [run.result() for run in ws.runs]  # what this redraw draws, whatever arrives meanwhile
        primary = results[0] if results else None
        timebase = (ws.primary.request.fps if ws.is_live else ws.timebase) if ws.primary is not None else 30.0
        offset = ws.primary.frame_offset if ws.primary is not None else 0

        def ethogram_rows():
            return compute_rows(primary.smoothed_probs(), primary.card.qualified_labels, primary.frame_classes(),
                                timebase, offset)

        steps = []
        for i, (run, result, tracks) in enumerate(zip(ws.runs, results, self.tracks)):
            steps += [lambda i=i, run=run, result=result, tracks=tracks:
                      draw_timeline(tracks, run, ws, picked if i == 0 else None, result) if run in ws.runs else None,
                      lambda run=run, result=result, tracks=tracks:
                      draw_attention_track(tracks, run, result) if run in ws.runs else None]
        big = sum(r.frame_count * len(r.labels) for r in results if r is not None) > PREPARE_CELLS
        if staged and big:
            # a long video with many classes (Kinetics: frames × 400 arrays): its per-frame
            # arrays, segments and ethogram rows are made on the worker thread (numpy leaves
            # the interpreter lock while it works), and drawn here once ready
            ethogram = self.ethogram.isVisible() and primary is not None
            runs = list(ws.runs)
            self._preparing += 1

            def prepare() -> None:
                lower_thread_priority()
                started = time.perf_counter()
                rows = None
                try:
                    for result in results:
                        if result is not None:
                            result.prepare()
                    if ethogram:
                        rows = ethogram_rows()
                except Exception:  # noqa: BLE001 - a bug: logged, and the redraw goes on with what there is
                    log.exception("preparing the results for drawing failed")
                try:
                    self._prepared.emit((runs, steps + [lambda: self._draw_ethogram(primary, lambda: rows),
                                                        lambda: self._draw_segments(primary)],
                                         time.perf_counter() - started))
                except RuntimeError:  # the window was deleted meanwhile
                    pass

            try:
                self._preparer.submit(prepare)
            except RuntimeError:  # shut down: the window is closing
                self._preparing -= 1
            return
        steps += [lambda: self._draw_ethogram(primary, ethogram_rows), lambda: self._draw_segments(primary)]
        if staged:
            self._steps = steps
            self._next_step()
        else:
            self._steps = []
            for step in steps:
                step()

    _prepared = Signal(object)  # [steps] of a redraw whose results the worker thread prepared

    def _start_steps(self, prepared: tuple) -> None:
        """Draw a redraw's results prepared on the worker thread, a step per event-loop pass; not
        if the runs changed meanwhile (another file, model or comparison): the next tick redraws."""
        self._preparing -= 1
        runs, steps, self._prepare_s = prepared
        if runs != list(self.workspace.runs):
            self._dirty = True
            return
        self._steps = steps
        self._next_step()

    def _next_step(self) -> None:
        if self._steps:
            self._steps.pop(0)()
            if self._steps:
                QTimer.singleShot(1, self._next_step)  # a timer, not 0 (a posted call): the loop repaints between

    def _draw_ethogram(self, result, rows) -> None:
        """The ethogram of the primary run's `result`; `rows()` makes its rows (or returns those
        the worker thread made from it)."""
        # the ethogram sorts every class over the whole video (~80 ms for 600 classes × 54k
        # frames): with the plots, so once a second while windows arrive
        primary = self.workspace.primary
        if primary is None or not self.ethogram.isVisible():
            return
        if result is None:
            # another model (or device, hop, ...) has no results yet: its rows are empty, not the
            # last run's under the new model's name; its class names once its card is known
            labels = primary.card.qualified_labels if primary.card is not None else self.ethogram.labels
            if self.ethogram.frames or labels != self.ethogram.labels:
                self.ethogram.set_data(None, labels, None, self.ethogram.timebase, self.ethogram.offset)
            return
        made = rows()
        if made is not None:  # (None: the worker thread failed, and logged why)
            self.ethogram.set_rows(made)

    def _draw_segments(self, result) -> None:
        ws = self.workspace
        self.panel.set_segments(result.segments()[:500] if result is not None and not ws.is_live else [])
        if self.settings.heatmap and not ws.is_live and not self._heatmap_current():
            self._redraw_frame()  # the frame on screen (paused, or a short clip's last) got its map
        self._show_prediction()

    def _heatmap_current(self) -> bool:
        """Whether the heatmap drawn over the frame on screen is the map for it now."""
        now, drawn = self.workspace.spatial_at(), self._heatmap_drawn
        return (now is None) == (drawn is None) and (now is None or np.array_equal(now, drawn))

    # -- messages ----------------------------------------------------------------------------------
    def message_box(self, title: str, html: str, details: str = "") -> None:
        dialog = QMessageBox(self)
        dialog.setWindowTitle(title)
        dialog.setTextFormat(Qt.RichText)
        dialog.setText(html)
        if details:
            dialog.setDetailedText(details)
        if self.show_dialogs:
            dialog.exec()

    def error(self, title: str, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(f"{title}: {message}", 10000)
        if self.show_dialogs:
            QMessageBox.warning(self, title, message)

    def ask(self, question: str) -> bool:
        self.last_question = question
        if not self.show_dialogs:
            return True
        return QMessageBox.question(self, APP, question) == QMessageBox.Yes

    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts: scrollable, and never taller than the screen (800×600)."""
        from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

        self.shortcuts_html = actions.shortcuts_html()
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        text = QTextBrowser()
        text.setHtml(self.shortcuts_html)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        available = self.screen().availableGeometry()
        dialog.resize(min(560, available.width() - 40), min(640, available.height() - 60))
        if self.show_dialogs:
            dialog.exec()

    def about(self) -> None:
        from .. import __version__

        QMessageBox.about(self, f"About {APP}",
                          f"<b>{APP}</b> {__version__}<br>Video classification with ViViT (Arnab et al., ICCV "
                          "2021) and its temporal attention." + (f"<br><br>The analysis engine did not load: "
                                                                 f"{self.workspace.engine_error}"
                                                                 if self.workspace.engine_error else ""))

    def eventFilter(self, watched, event) -> bool:
        """The ethogram's filter box: Esc clears it and gives the keys back to the window; a
        shortcut with Ctrl (Ctrl+E, Ctrl+Right) stays the window's instead of editing the text."""
        if watched is self.ethogram.filter_box and event.type() == QEvent.ShortcutOverride:
            if event.key() == Qt.Key_Escape:
                self.ethogram.filter_box.clear()
                self.video.setFocus()
                event.accept()
                return True
            if event.modifiers() & Qt.ControlModifier:
                event.ignore()  # not overridden: the window's shortcut runs
                return True
        return super().eventFilter(watched, event)

    # -- drag and drop, close ------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls:
            url = urls[0]
            self.open_path(url.toLocalFile()) if url.isLocalFile() else self.open_stream(url.toString())

    def closeEvent(self, event) -> None:
        if self.exports.running and not self.ask("An annotated video is being written. Cancel it and quit?"):
            event.ignore()
            return
        self.settings.set(geometry=self.saveGeometry(), window_state=self.saveState())
        self.settings.sync()
        self._timer.stop()
        self.hide()  # gone at once; the threads end behind it
        self.clean_exit = self.shutdown(wait_ms=600)
        super().closeEvent(event)

    def shutdown(self, wait_ms: int = 15000) -> bool:
        """Stop the reader, every analysis and any export, and wait up to `wait_ms` for their
        threads. False when one is still in a forward pass (app.py then ends the process: the
        caches and exports are written atomically, so nothing is half-written)."""
        self._preparer.shutdown(wait=False, cancel_futures=True)
        deadline = time.perf_counter() + wait_ms / 1000  # one wait for all of them, not one each

        def left() -> int:
            return max(0, int((deadline - time.perf_counter()) * 1000))

        done = self.exports.cancel(left())
        done = self.workspace.shutdown(left()) and done
        return self.model_dialogs.shutdown(left) and done


def _leading_per_head(ranked, card, k: int):
    """The first k entries of each head in a ranking ordered head by head."""
    out, start = [], 0
    for _, a, b in card.head_slices():
        out.extend(ranked[start:start + min(k, b - a)])
        start += b - a
    return out


def _damaged_file_note(run) -> str:
    """What the analysis found wrong with the file (cut short, undecodable frames), or ""."""
    if not run.file_warnings:
        return ""
    text = "; ".join(run.file_warnings)
    note = f"This file is damaged or incomplete: {text}."
    if "decoding stopped" in text:
        note += " Playback and the predictions end there; a complete copy of the file would give the rest."
    return note


def _short_clip_note(run) -> str:
    card = run.card
    needed = card.num_frames * card.frame_stride
    return (f"This clip has {run.frame_count} frames; the model's window needs {needed}. The prediction is from a "
            "padded window: do not trust it.")
