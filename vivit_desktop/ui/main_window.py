"""The main window: playback with live predictions, the timelines and attention plots, model
switching and comparison, export. Only the GUI thread touches widgets: the reader and the
analysis workers emit, and a 10 Hz timer redraws the plots when results have changed."""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDockWidget, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QListWidget,
                               QListWidgetItem, QMainWindow, QMessageBox, QProgressBar, QProgressDialog, QProxyStyle,
                               QSlider, QSpinBox, QSplitter, QStyle, QTableWidget, QTableWidgetItem,
                               QToolButton, QVBoxLayout, QWidget)

from .. import catalog, zoo
from ..engine.postprocess import PostProcessing
from ..engine.predictor import device_available
from ..engine.results import top_per_head
from ..engine.sources import VIDEO_SUFFIXES, list_cameras
from ..paths import app_root
from .analysis import AnalysisRun, RunRequest
from .plots import RunTracks, WindowAttention
from .reader import ReaderThread, SourceInfo
from .video_view import VideoView

log = logging.getLogger(__name__)

ORG, APP = "vivit-desktop", "ViViT Desktop"
SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)
HOPS = (2, 4, 8, 16)
DEVICES = (("auto", "Auto"), ("cuda", "CUDA"), ("mps", "Apple MPS"), ("cpu", "CPU"))
PRECISIONS = (("auto", "Automatic (bf16/fp16 on GPU; on CPU int8 where it measures faster)"),
              ("float32", "Float32 everywhere"), ("int8", "Int8 on the CPU (dynamic quantisation)"))
MAX_RECENT = 10
STALE_S = 2.0  # a live prediction older than this is marked stale


def icon_path() -> Path:
    return app_root() / "resources" / "icon.png"


def sample_clip() -> Path:
    return app_root() / "resources" / "sample.mp4"


def format_time(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:05.2f}"


class _ClickToSeekStyle(QProxyStyle):
    """A left click on the seek slider's groove jumps there (a page step would move the handle
    without seeking), as in video players."""

    def styleHint(self, hint, option=None, widget=None, returnData=None):
        if hint == QStyle.SH_Slider_AbsoluteSetButtons:
            return Qt.LeftButton.value
        return super().styleHint(hint, option, widget, returnData)


class ExportThread(QThread):
    """Writes the annotated video off the GUI thread; cancel makes the progress callback raise,
    and the atomic write leaves nothing behind."""

    progressed = Signal(int)
    failed = Signal(str)
    written = Signal(str)

    def __init__(self, result, video: Path, target: Path, parent=None) -> None:
        super().__init__(parent)
        self.result, self.video, self.target = result, video, target
        self.cancelled = False

    def run(self) -> None:
        from ..engine.annotate import write_annotated
        from ..engine.sources import open_source

        done = 0

        def tick(n: int) -> None:
            nonlocal done
            if self.cancelled:
                raise InterruptedError("export cancelled")
            done += n
            self.progressed.emit(done)

        try:
            with open_source(self.video) as source:
                write_annotated(self.result, source, self.target, overwrite=True, progress=tick)
            self.written.emit(str(self.target))
        except InterruptedError:
            pass
        except Exception as e:  # noqa: BLE001
            self.failed.emit(f"cannot write {self.target}: {e}")


class MainWindow(QMainWindow):
    """`open_path(path)`, `open_camera(index)`, `open_stream(url)`, `set_model(spec)`,
    `compare_with(spec)`; everything the menus do is a method tests can call."""

    source_failed = Signal(str)  # after the dialog: for tests and the status bar

    def __init__(self, *, model: str | None = None, device: str | None = None, settings: QSettings | None = None,
                 show_dialogs: bool = True) -> None:
        super().__init__()
        self.settings = settings or QSettings(ORG, ORG)
        self.show_dialogs = show_dialogs  # tests turn modal dialogs into status messages
        self.model_spec: str | None = model or self.settings.value("model", None) or None
        if self.model_spec and not self._model_exists(self.model_spec):
            self.model_spec = None
        self.device = device or self.settings.value("device", "auto")
        self.precision = self.settings.value("precision", "auto")
        self.hop = int(self.settings.value("hop", 0))  # 0: the model's default (engine.windows.default_hop)
        self.compare_spec: str | None = None
        self.reader: ReaderThread | None = None
        self.info: SourceInfo | None = None
        self.runs: list[AnalysisRun] = []  # [primary, compare?]
        self._retired: list[AnalysisRun] = []  # cancelled runs still finishing their current batch
        self.playhead = 0
        self.playing = False
        self._dirty = True
        self._shown_times: deque[float] = deque(maxlen=60)
        self._export: ExportThread | None = None
        self.zoo_dialog = None  # Models ▸ Get models…, made when first opened
        self.last_error = ""
        self.post = PostProcessing()
        self._shown_segments: list[dict] | None = None

        self.setWindowTitle(APP)
        if icon_path().exists():
            self.setWindowIcon(QIcon(str(icon_path())))
        self.setAcceptDrops(True)
        self._build_widgets()
        self._build_menus()
        self._build_status()
        self.resize(1280, 720)
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window_state")
        if state is not None:
            self.restoreState(state)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._refresh)
        self._timer.start()

    # -- construction ------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.video = VideoView()
        self.video.double_clicked.connect(self.toggle_full_screen)
        self.video.resized.connect(self._view_resized)
        style = self.style()

        def button(icon, tip, slot):
            b = QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            return b

        self.play_button = button(QStyle.SP_MediaPlay, "Play / pause (Space)", self.toggle_play)
        back = button(QStyle.SP_MediaSeekBackward, "Previous frame (Left)", lambda: self.step(-1))
        forward = button(QStyle.SP_MediaSeekForward, "Next frame (Right)", lambda: self.step(1))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setStyle(_ClickToSeekStyle("Fusion"))
        self.slider.style().setParent(self.slider)  # the style lives as long as the slider
        self.slider.sliderMoved.connect(self.seek)
        self.slider.sliderPressed.connect(lambda: self.seek(self.slider.value()))
        self.time_label = QLabel("0:00.00 / 0:00.00")
        self.time_label.setMinimumWidth(150)
        self.speed_box = QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.setToolTip("Playback speed")
        self.speed_box.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))
        self.loop_box = QCheckBox("Loop")
        self.loop_box.toggled.connect(self.set_loop)
        self.overlay_box = QCheckBox("Overlay")
        self.overlay_box.setChecked(True)
        self.overlay_box.toggled.connect(self.set_overlay_visible)
        transport = QHBoxLayout()
        transport.setContentsMargins(4, 0, 4, 0)
        for w in (back, self.play_button, forward):
            transport.addWidget(w)
        transport.addWidget(self.slider, 1)
        for w in (self.time_label, self.speed_box, self.loop_box, self.overlay_box):
            transport.addWidget(w)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.video, 1)
        top_layout.addLayout(transport)

        self.tracks_box = QWidget()
        self.tracks_layout = QVBoxLayout(self.tracks_box)
        self.tracks_layout.setContentsMargins(0, 0, 0, 0)
        self.tracks: list[RunTracks] = []
        self._add_tracks()

        self.splitter = QSplitter(Qt.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.tracks_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([620, 380])  # the video first; kept in proportion as the window resizes
        self.setCentralWidget(self.splitter)

        # predictions dock: ranking, post-processing, segments
        self.ranking = QTableWidget(0, 2)
        self.ranking.setHorizontalHeaderLabels(["action", "probability"])
        self.ranking.verticalHeader().hide()
        self.ranking.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.ranking.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeToContents)
        self.ranking.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.ranking.setSelectionMode(QAbstractItemView.NoSelection)
        self.ranking.setFocusPolicy(Qt.NoFocus)
        self.model_label = QLabel("Model: —")
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("font-weight: bold;")

        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(0.0, 1.0)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setToolTip("A frame gets a label only if its probability reaches this")
        self.smooth_box = QComboBox()
        for text, value in (("none", "none"), ("moving average", "mean"), ("EMA (causal)", "ema")):
            self.smooth_box.addItem(text, value)
        self.smooth_width = QSpinBox()
        self.smooth_width.setRange(1, 301)
        self.smooth_width.setValue(9)
        self.smooth_width.setSuffix(" frames")
        self.hysteresis_box = QSpinBox()
        self.hysteresis_box.setRange(1, 300)
        self.hysteresis_box.setSuffix(" frames")
        self.min_bout_box = QDoubleSpinBox()
        self.min_bout_box.setRange(0.0, 60.0)
        self.min_bout_box.setSingleStep(0.1)
        self.min_bout_box.setSuffix(" s")
        for w in (self.threshold_box, self.min_bout_box):
            w.valueChanged.connect(self._post_changed)
        for w in (self.smooth_width, self.hysteresis_box):
            w.valueChanged.connect(self._post_changed)
        self.smooth_box.currentIndexChanged.connect(self._post_changed)
        form = QFormLayout()
        form.addRow("Threshold", self.threshold_box)
        form.addRow("Smoothing", self.smooth_box)
        form.addRow("Width", self.smooth_width)
        form.addRow("Hysteresis", self.hysteresis_box)
        form.addRow("Shortest segment", self.min_bout_box)
        self.segments = QListWidget()
        self.segments.itemClicked.connect(lambda item: self.seek(item.data(Qt.UserRole)))
        panel = QWidget()
        panel_layout = QVBoxLayout(panel)
        panel_layout.addWidget(self.model_label)
        panel_layout.addWidget(self.ranking, 3)
        panel_layout.addLayout(form)
        panel_layout.addWidget(QLabel("Segments (click to seek)"))
        panel_layout.addWidget(self.segments, 2)
        self.predictions_dock = QDockWidget("Predictions", self)
        self.predictions_dock.setObjectName("predictions")
        self.predictions_dock.setWidget(panel)
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
        tracks.timeline.threshold_dragged.connect(lambda value: self.threshold_box.setValue(round(value, 2)))
        self.tracks.append(tracks)
        self.tracks_layout.addWidget(tracks)
        return tracks

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open…", self.open_dialog, QKeySequence.Open)
        self.camera_menu = file.addMenu("Open &Camera")
        self.camera_menu.aboutToShow.connect(self._fill_cameras)
        self._action(file, "Open Stream &URL…", self.open_stream_dialog, "Ctrl+U")
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        export = file.addMenu("&Export")
        self._action(export, "Predictions as &CSV…", lambda: self.export_predictions("csv"), "Ctrl+E")
        self._action(export, "Predictions as &JSON…", lambda: self.export_predictions("json"))
        self._action(export, "&Annotated video…", self.export_annotated_dialog)
        self._action(export, "&Plots as PNG…", self.export_plots_dialog)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.Quit)

        play = bar.addMenu("&Playback")
        self._action(play, "Play / Pause", self.toggle_play, Qt.Key_Space)
        self._action(play, "Previous frame", lambda: self.step(-1), Qt.Key_Left)
        self._action(play, "Next frame", lambda: self.step(1), Qt.Key_Right)
        self._action(play, "Back 1 second", lambda: self.step(-self._fps_int()), "Ctrl+Left")
        self._action(play, "Forward 1 second", lambda: self.step(self._fps_int()), "Ctrl+Right")
        self._action(play, "Back 10 seconds", lambda: self.step(-10 * self._fps_int()), "Ctrl+Shift+Left")
        self._action(play, "Forward 10 seconds", lambda: self.step(10 * self._fps_int()), "Ctrl+Shift+Right")
        self._action(play, "Go to start", lambda: self.seek(0), Qt.Key_Home)
        self._action(play, "Go to end", lambda: self.seek(self.slider.maximum()), Qt.Key_End)
        play.addSeparator()
        self._action(play, "Full screen", self.toggle_full_screen, Qt.Key_F)
        leave = QAction(self)  # Esc leaves full screen (and does nothing otherwise)
        leave.setShortcut(QKeySequence(Qt.Key_Escape))
        leave.triggered.connect(lambda: self.toggle_full_screen() if self.isFullScreen() else None)
        self.addAction(leave)
        self.loop_action = self._action(play, "Loop", self.loop_box.setChecked, checkable=True)

        self.models_menu = bar.addMenu("&Models")
        self.models_menu.aboutToShow.connect(self._fill_models)
        view = bar.addMenu("&View")
        view.addAction(self.predictions_dock.toggleViewAction())
        view.addAction(self.attention_dock.toggleViewAction())
        self.overlay_action = self._action(view, "Prediction overlay", self.overlay_box.setChecked, "O", checkable=True)
        self.overlay_action.setChecked(True)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About", self.about)

    def _action(self, menu, text, slot, shortcut=None, checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.WindowShortcut)
        action.setCheckable(checkable)
        # a lambda taking the bool: PySide calls a bound C++ slot (QCheckBox.setChecked) with no argument
        action.triggered.connect((lambda checked: slot(checked)) if checkable else (lambda checked=False: slot()))
        menu.addAction(action)
        self.addAction(action)  # shortcuts work in full screen, with the menu bar hidden
        return action

    def _build_status(self) -> None:
        status = self.statusBar()
        self.status_labels = {}
        for key, tip in (("model", "The model whose results are shown"), ("device", "Inference device"),
                         ("latency", "Inference time per window"), ("state", "Prediction state"),
                         ("fps", "Displayed frames per second"), ("dropped", "Live windows replaced before "
                                                                  "they ran (latest wins)"),
                         ("gpu", "GPU memory in use")):
            label = QLabel("")
            label.setToolTip(tip)
            status.addPermanentWidget(label)
            self.status_labels[key] = label
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setFormat("analysed %p%")
        self.progress.hide()
        status.addPermanentWidget(self.progress)

    # -- sources ---------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES))
        start = self.settings.value("last_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open video", start, f"Videos ({patterns});;All files (*)")
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.open_path(path)

    def open_stream_dialog(self) -> None:
        url, ok = QInputDialog.getText(self, "Open stream", "Stream URL (rtsp://, http://, https://, udp://…):")
        if ok and url.strip():
            self.open_stream(url.strip())

    def _fill_cameras(self) -> None:
        self.camera_menu.clear()
        cameras = list_cameras()
        for index, name in cameras:
            action = self.camera_menu.addAction(name)
            action.triggered.connect(lambda checked=False, i=index: self.open_camera(i))
        if not cameras:
            action = self.camera_menu.addAction("No camera found")
            action.setEnabled(False)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_path(p))
        if not self.recent_files():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, path: str) -> None:
        recent = [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", [path, *recent][:MAX_RECENT])

    def open_path(self, path: str | Path) -> None:
        path = Path(path)
        self._open(str(path), f"{path.name}")  # Open Recent learns it once it has opened

    def open_camera(self, index) -> None:
        """A camera index, or a function returning a live VideoSource (a simulated camera)."""
        self._open(index, f"camera {index}" if not callable(index) else "simulated camera")

    def open_stream(self, url: str) -> None:
        self._open(url, url)

    def _open(self, spec, title: str) -> None:
        self._close_source()
        self.video.clear("Opening…")
        self.setWindowTitle(f"{title} — {APP}")
        self._title = title
        self.reader = ReaderThread(spec, on_live_frame=self._push_live)
        self.reader.opened.connect(self._source_opened)
        self.reader.frame_ready.connect(self._show_frame)
        self.reader.playing_changed.connect(self._playing_changed)
        self.reader.ended.connect(self._ended)
        self.reader.errored.connect(self._source_error)
        self.reader.set_speed(SPEEDS[self.speed_box.currentIndex()])
        self.reader.set_loop(self.loop_box.isChecked())
        ratio = self.video.devicePixelRatioF()
        self.reader.display_size = (int(self.video.width() * ratio), int(self.video.height() * ratio))
        self.reader.start()

    def _view_resized(self, width: int, height: int) -> None:
        if self.reader is not None:
            self.reader.display_size = (width, height)

    def _push_live(self, frame) -> None:
        """Reader thread: hand a live frame to every run (their runners preprocess it)."""
        for run in list(self.runs):
            run.push(frame)

    def _close_source(self) -> None:
        if self.reader is not None:
            reader, self.reader = self.reader, None
            for signal in (reader.opened, reader.frame_ready, reader.playing_changed, reader.ended, reader.errored):
                signal.disconnect()
            reader.stop()
        self._stop_runs()
        self.info = None
        self.playhead = 0
        self._clear_results()

    def _clear_results(self) -> None:
        """Nothing of the previous source stays on screen (a failed open showed its predictions)."""
        self._sync_tracks()
        for tracks in self.tracks:
            tracks.timeline.set_probs(None, ())
            tracks.attention.set_values(np.zeros(0))
        self.ranking.setRowCount(0)
        self._shown_segments = []
        self.segments.clear()
        self.window_attention.set_window(None, None, 0)
        self.video.set_overlay([], "", "")
        self.time_label.setText("0:00.00 / 0:00.00")

    def _source_opened(self, info: SourceInfo) -> None:
        if self.reader is None or info is not self.reader.info:
            return  # a queued `opened` of a source closed or replaced since (closing at start-up, a quick reopen)
        self.info = info
        if info.path is not None:
            self._remember(str(Path(info.path).resolve()))
        self.slider.setRange(0, max(0, (info.frame_count or 1) - 1))
        self.slider.setEnabled(not info.live)
        self._start_runs()
        if not info.live:
            self.reader.play()

    def _source_error(self, message: str) -> None:
        had_frames = self.info is not None
        spec = str(self.reader.spec) if self.reader is not None else ""
        self._close_source()
        self.video.clear("Could not open the source.\n\n" + message)
        self.setWindowTitle(APP)
        # the conversion hint is for files only, and only where the engine's message has none
        no_hint = had_frames or "ffmpeg" in message or "://" in spec or spec.isdigit()
        self.error("Cannot play this source", message + ("" if no_hint else
                   "\n\nOpen another file (File ▸ Open), or convert this one, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"))
        self.source_failed.emit(message)

    def _ended(self, frames: int) -> None:
        if self.info is not None and not self.info.live:
            self.slider.setRange(0, max(0, frames - 1))

    # -- analysis runs -----------------------------------------------------------------------------
    def _request(self, model: str | None) -> RunRequest:
        info = self.info
        return RunRequest(model=model, device=self.device, precision=self.precision, hop=self.hop,
                          source=None if info.live else info.path, fps=info.fps, frame_count=info.frame_count)

    def _start_runs(self) -> None:
        self._stop_runs()
        if self.info is None:
            return
        for spec in [self.model_spec] + ([self.compare_spec] if self.compare_spec else []):
            self._start_run(spec)
        self._sync_tracks()

    def _start_run(self, spec) -> AnalysisRun:
        run = AnalysisRun(self._request(spec))
        run.model_loaded.connect(lambda card, r=run: self._model_loaded(r))
        run.changed.connect(self._mark_dirty)
        run.progress.connect(lambda done, total, r=run: self._progress(r, done, total))
        run.finished.connect(self._mark_dirty)
        run.errored.connect(lambda message, r=run: self._run_error(r, message))
        self.runs.append(run)
        self._dirty = True
        return run

    def _stop_runs(self) -> None:
        for run in self.runs:
            self._retire(run)
        self.runs = []

    def _retire(self, run: AnalysisRun) -> None:
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

    def _model_loaded(self, run: AnalysisRun) -> None:
        if run is self.primary:
            self.settings.setValue("model", self.model_spec or "")
        self._dirty = True

    def _run_error(self, run: AnalysisRun, message: str) -> None:
        if run is self.primary and run.loaded is None and self.model_spec is not None:
            self.model_spec = None  # fall back to the default, so the window keeps working
            self.settings.remove("model")
        self.error("Analysis failed", message)

    @property
    def primary(self) -> AnalysisRun | None:
        return self.runs[0] if self.runs else None

    def set_model(self, spec: str | None) -> None:
        """Switch the primary model; analysis restarts in the background and its results replace
        the old ones as they arrive."""
        self.model_spec = spec
        self.settings.setValue("model", spec or "")
        if self.info is None:
            return
        if self.runs:
            self._retire(self.runs[0])
            new = self._start_run(spec)  # appended: it takes the old one's place
            self.runs.remove(new)
            self.runs[0] = new
        else:
            self._start_run(spec)
        self._sync_tracks()

    def compare_with(self, spec: str | None) -> None:
        """Run a second model on the same source, its tracks under the first; None stops it."""
        self.compare_spec = spec
        if len(self.runs) > 1:
            self._retire(self.runs.pop(1))
        if spec is not None and self.info is not None:
            self._start_run(spec)
        self._sync_tracks()

    def set_device(self, device: str) -> None:
        self.device = device
        self.settings.setValue("device", device)
        self._start_runs()

    def set_precision(self, precision: str) -> None:
        self.precision = precision
        self.settings.setValue("precision", precision)
        self._start_runs()

    def set_hop(self, hop: int) -> None:
        self.hop = hop
        self.settings.setValue("hop", hop)
        self._start_runs()

    def _sync_tracks(self) -> None:
        wanted = max(1, len(self.runs))
        while len(self.tracks) < wanted:
            self._add_tracks()
        while len(self.tracks) > wanted:
            tracks = self.tracks.pop()
            tracks.setParent(None)
            tracks.deleteLater()
        self._dirty = True

    def _mark_dirty(self) -> None:
        self._dirty = True

    def _progress(self, run: AnalysisRun, done: int, total: int) -> None:
        if run is not self.primary:
            return
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setVisible(not run.complete)

    # -- post-processing -------------------------------------------------------------------------
    def _post_changed(self, *_) -> None:
        smoothing = self.smooth_box.currentData()
        try:
            post = PostProcessing(smoothing=smoothing, mean_frames=self.smooth_width.value(),
                                  ema_alpha=min(1.0, 2.0 / (self.smooth_width.value() + 1)),
                                  threshold=self.threshold_box.value(), hysteresis=self.hysteresis_box.value(),
                                  min_bout_s=self.min_bout_box.value())
        except ValueError as e:
            self.statusBar().showMessage(str(e), 5000)
            return
        self.post = post
        for run in self.runs:
            run.set_post(post)
        for tracks in self.tracks:
            tracks.timeline.set_threshold(post.threshold)
        self._dirty = True

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

    def set_speed(self, speed: float) -> None:
        if self.reader is not None:
            self.reader.set_speed(speed)

    def set_loop(self, loop: bool) -> None:
        self.loop_action.setChecked(loop) if hasattr(self, "loop_action") else None
        if self.reader is not None:
            self.reader.set_loop(loop)

    def set_overlay_visible(self, shown: bool) -> None:
        self.overlay_action.setChecked(shown) if hasattr(self, "overlay_action") else None  # the View menu agrees
        self.video.show_overlay = shown
        self.video.update()

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
            self.menuBar().show()
        else:
            self.showFullScreen()

    def _fps_int(self) -> int:
        return max(1, int(round(self.info.fps))) if self.info else 25

    def _playing_changed(self, playing: bool) -> None:
        self.playing = playing
        self.play_button.setIcon(self.style().standardIcon(QStyle.SP_MediaPause if playing else QStyle.SP_MediaPlay))

    def _show_frame(self) -> None:
        if self.reader is None:
            return
        frame = self.reader.take_frame()
        if frame is None:
            return
        self.video.set_frame(frame.image)
        self.playhead = frame.index
        self._shown_times.append(time.perf_counter())
        if self.info is not None and not self.info.live:
            if frame.index > self.slider.maximum():
                self.slider.setMaximum(frame.index)
            if not self.slider.isSliderDown():
                self.slider.blockSignals(True)
                self.slider.setValue(frame.index)
                self.slider.blockSignals(False)
            total = (self.slider.maximum() + 1) / self.info.fps
            self.time_label.setText(f"{format_time(frame.time)} / {format_time(total)}")
        else:
            self.time_label.setText(f"live {format_time(frame.time)}")
        for tracks in self.tracks:
            tracks.set_playhead(frame.index)
        self._update_overlay()

    # -- what is shown at the playhead -------------------------------------------------------------
    def shown_prediction(self):
        """(ranked [(label, p)], window, state) for the playhead from the primary run."""
        run = self.primary
        if run is None or run.card is None:
            return [], None, "preparing"
        window = run.window_at(self.playhead)
        if window is None:
            return [], None, "preparing"
        result = run.result()
        probs = None
        if result is not None and run.request.source is not None:
            index = self.playhead - run.frame_offset
            smoothed = result.smoothed_probs()
            if 0 <= index < len(smoothed) and np.isfinite(smoothed[index]).all():
                probs = smoothed[index]
        if probs is None:
            probs = window.probs
        # every class, each head's ranked on its own ("verb: cut" ... then "noun: onion" ...)
        ranked = [item for _, top in top_per_head(probs, run.card, len(probs)) for item in top]
        state = ""
        if run.request.source is None and time.perf_counter() - run.live.arrived > STALE_S:
            state = "stale"
        return ranked, window, state

    def _update_overlay(self) -> None:
        ranked, window, state = self.shown_prediction()
        run = self.primary
        caption = run.name if run is not None else ""
        if state == "preparing" and run is not None and run.request.source is not None and run.decoded:
            state = f"preparing (analysed to {format_time(run.decoded / run.request.fps)})"
        multi = run is not None and run.card is not None and run.card.multi_head
        shown = self._leading_per_head(ranked, run.card, 2) if multi else ranked[:3]  # multi: 2 of each head
        self.video.set_overlay(shown, caption, state)
        self.window_attention.set_window(window.frames if window else None, window.attention if window else None,
                                         self.playhead)
        if self.tracks:
            self.tracks[0].timeline.set_bracket(window.start_frame if window else None,
                                                window.end_frame if window else None)
        self._fill_ranking(ranked)

    @staticmethod
    def _leading_per_head(ranked, card, k: int):
        """The first k entries of each head in a ranking ordered head by head."""
        out, start = [], 0
        for _, a, b in card.head_slices():
            out.extend(ranked[start:start + min(k, b - a)])
            start += b - a
        return out

    def _fill_ranking(self, ranked) -> None:
        if self.ranking.rowCount() != len(ranked):
            self.ranking.setRowCount(len(ranked))
        for row, (label, p) in enumerate(ranked):
            item = self.ranking.item(row, 0)
            if item is None:
                self.ranking.setItem(row, 0, QTableWidgetItem(label))
                bar = QProgressBar()
                bar.setRange(0, 1000)
                bar.setFormat("%p%")
                bar.setMaximumHeight(16)
                self.ranking.setCellWidget(row, 1, bar)
            else:
                item.setText(label)
            bar = self.ranking.cellWidget(row, 1)
            bar.setValue(int(round(p * 1000)))
            bar.setFormat(f"{p:.0%}")  # %p truncates (54.6% read 54% here, 55% on the overlay)

    def _refresh(self) -> None:
        """10 Hz: status bar always; plots and segments only when results changed."""
        self._update_status()
        if not self._dirty:
            return
        self._dirty = False
        for run, tracks in zip(self.runs, self.tracks):
            result = run.result()
            frames = max(run.frame_count, self.slider.maximum() + 1)
            fps = run.request.fps
            offset = run.frame_offset
            tracks.set_extent(fps, (result.frame_count if result is not None else frames) if run.request.source is None
                              else frames, offset)
            origin = f"   ({run.origin})" if run.origin else "   (shipped)"
            tracks.caption.setText(f"{run.name} — {catalog.family_of(run.name)}{origin}" if run.card else
                                   f"{run.name}: loading…")
            if result is None:
                tracks.timeline.set_probs(None, ())
                tracks.attention.set_values(np.zeros(0))
                continue
            tracks.timeline.set_probs(result.smoothed_probs(), result.card.qualified_labels)
            tracks.attention.set_values(result.frame_attention())
        self._fill_segments()
        self._update_overlay()

    def _fill_segments(self) -> None:
        run = self.primary
        result = run.result() if run is not None else None
        segments = result.segments()[:500] if result is not None and run.request.source is not None else []
        if segments == self._shown_segments:
            return  # rebuilding the list costs more than comparing
        self._shown_segments = segments
        self.segments.clear()
        for s in segments:
            item = QListWidgetItem(f"{format_time(s['start_time'])}–{format_time(s['end_time'])}   {s['label']}"
                                   f"   ({s['confidence']:.0%})")
            item.setData(Qt.UserRole, s["start_frame"])
            self.segments.addItem(item)

    def _update_status(self) -> None:
        run = self.primary
        labels = self.status_labels
        labels["model"].setText(f"Model: {run.name}" if run is not None else "Model: —")
        labels["model"].setToolTip(run.loaded.description if run is not None and run.loaded else "")
        self.model_label.setText(f"Model: {run.name}" if run is not None and run.card else
                                 "Model: loading…" if run is not None else "Model: —")
        predictor = run.predictor if run is not None else None
        labels["device"].setText(f"Device: {predictor.device}, {predictor.precision_used}" if predictor is not None
                                 else f"Device: {self.device}")
        labels["device"].setToolTip(f"Inference device and precision: {predictor.precision_note}"
                                    if predictor is not None else "Inference device")
        latencies = [w.latency_s for w in run.windows[-20:]] if run is not None else []
        if run is not None and run.request.source is None and run.live.arrived:
            labels["latency"].setText(f"Latency: {run.live.latency_s * 1000:.0f} ms "
                                      f"(forward {run.live.compute_s * 1000:.0f} ms)")
        else:
            labels["latency"].setText(f"Per window: {np.mean(latencies) * 1000:.0f} ms" if latencies else "")
        _, window, state = self.shown_prediction()
        if run is not None and run.request.source is None and window is not None:
            age = time.perf_counter() - run.live.arrived
            state = f"stale ({age:.1f} s old)" if age > STALE_S else f"live, {age * 1000:.0f} ms old"
        elif run is not None and run.complete:
            state = state or "analysed"
        elif run is not None and not state:
            state = "analysing ahead"
        labels["state"].setText(state)
        times = self._shown_times
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 2 and times[-1] > times[0] else 0.0
        if times and time.perf_counter() - times[-1] > 1.0:
            fps = 0.0
        labels["fps"].setText(f"Display: {fps:.1f} fps")
        labels["dropped"].setText(f"Dropped: {run.live.dropped}" if run is not None and run.request.source is None
                                  else "")
        gpu = ""
        if predictor is not None and predictor.device.type == "cuda":
            import torch

            gpu = f"GPU: {torch.cuda.memory_allocated(predictor.device) / 2**20:.0f} MiB"
        labels["gpu"].setText(gpu)
        if run is not None and run.complete:
            self.progress.hide()

    # -- models menu -----------------------------------------------------------------------------
    @staticmethod
    def _model_exists(spec: str) -> bool:
        try:
            catalog.resolve(spec)
            return True
        except ValueError:
            return False

    def _fill_models(self) -> None:
        menu = self.models_menu
        menu.clear()
        current = self.primary.name if self.primary is not None and self.primary.card else (self.model_spec or "")
        entries = [e for e in catalog.checkpoints() if e.usable]
        # a family: the catalogue's ("Kinetics-400", on the card of a model from Get models…), or
        # a shipped model's name without its variant code
        catalogued = {e.path: zoo.family_of_card(e.card) for e in entries}
        families = {e.path: catalogued[e.path] or (catalog.family_of(e.name) if e.shipped else None) for e in entries}
        mine = next((e for e in entries if current in (e.name, str(e.path))), None)  # a name, or a path
        family = (families[mine.path] if mine is not None else None) or \
            catalog.family_of(current or (catalog.default_model_name() or ""))
        group = QActionGroup(menu)
        menu.addSection(f"Variants of {family}")
        from ..model.config import VARIANT_TITLES

        def model_action(target, entry) -> QAction:
            evaluation = entry.card.evaluation or {}
            accuracy, published = evaluation.get("heldout_accuracy"), evaluation.get("published_top1")
            figure = (f" (held-out {accuracy:.0%})" if accuracy is not None else
                      f" (top-1 {published:g}%, published)" if published is not None else "")
            action = target.addAction(f"{VARIANT_TITLES[entry.card.variant]} — {entry.name}{figure}")
            action.triggered.connect(lambda checked=False, p=str(entry.path): self.set_model(p))
            return action

        shown = set()
        for entry in entries:
            if families[entry.path] == family:
                action = model_action(menu, entry)
                action.setCheckable(True)
                action.setChecked(entry is mine)
                group.addAction(action)
                shown.add(entry.path)
        for name in sorted({f for f in catalogued.values() if f and f != family}):  # other catalogue families
            sub = menu.addMenu(name)
            for entry in entries:
                if catalogued[entry.path] == name:
                    model_action(sub, entry)
                    shown.add(entry.path)
        others = menu.addMenu("Other checkpoints")
        for entry in entries:
            if entry.path in shown:
                continue
            where = "shipped" if entry.shipped else "user"
            action = others.addAction(f"{entry.name} ({where})")
            action.triggered.connect(lambda checked=False, p=str(entry.path): self.set_model(p))
        if others.isEmpty():
            others.addAction("(none; use Import checkpoint…)").setEnabled(False)
        compare = menu.addMenu("Compare with")
        for entry in entries:
            action = compare.addAction(entry.name + ("" if entry.shipped else " (user)"))
            action.triggered.connect(lambda checked=False, p=str(entry.path): self.compare_with(p))
        stop = compare.addAction("Stop comparing")
        stop.setEnabled(self.compare_spec is not None)
        stop.triggered.connect(lambda: self.compare_with(None))
        menu.addSeparator()
        menu.addAction("Get models…").triggered.connect(self.open_zoo)
        menu.addAction("Import checkpoint…").triggered.connect(self.import_dialog)
        menu.addAction("Model card…").triggered.connect(self.show_card)
        menu.addSeparator()
        for title, values, current_value, setter in (
                ("Device", DEVICES, self.device, self.set_device),
                ("Precision", PRECISIONS, self.precision, self.set_precision),
                ("Window hop", [(0, "The model's default (8; ViViT-B and up: 4 for Model 2, else 16)")]
                 + [(h, f"every {h} frames") for h in HOPS], self.hop, self.set_hop)):
            sub = menu.addMenu(title)
            sub_group = QActionGroup(sub)
            for value, text in values:
                action = sub.addAction(text)
                action.setCheckable(True)
                action.setChecked(value == current_value)
                if value in ("cuda", "mps"):
                    action.setEnabled(device_available(value))
                action.triggered.connect(lambda checked=False, v=value, s=setter: s(v))
                sub_group.addAction(action)

    def open_zoo(self):
        """Models ▸ Get models…: the catalogue; gets run in the background, and closing the
        dialog hides it (a running get carries on)."""
        from .zoo_dialog import ZooDialog

        if self.zoo_dialog is None:
            self.zoo_dialog = ZooDialog(self)
            self.zoo_dialog.installed.connect(
                lambda name, path: self.statusBar().showMessage(f"Installed {name}; it is in the Models menu", 10000))
        self.zoo_dialog.show()
        self.zoo_dialog.raise_()
        self.zoo_dialog.activateWindow()
        return self.zoo_dialog

    def import_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a Hugging Face ViViT checkpoint folder "
                                                      "(or cancel to pick a file)")
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Import a checkpoint: native, or scenic (JAX/Flax)", "",
                                                  "Checkpoints (*.safetensors *.json checkpoint checkpoint_*);;"
                                                  "All files (*)")
        if path:
            self.import_checkpoint(path)

    def import_checkpoint(self, path: str | Path) -> Path | None:
        """Copy a native checkpoint, or convert a Hugging Face or scenic one, into the user models
        folder and switch to it (the same import as `vivit-desktop import`)."""
        from ..model import save_model
        from ..model.foreign import checkpoint_kind, import_checkpoint
        from ..paths import user_models_dir

        path = Path(path)
        folder = user_models_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            name = path.stem if checkpoint_kind(path) == "native" else path.resolve().name
            model, note = import_checkpoint(path, name=name)
            target = folder / name
            if (folder / f"{name}.safetensors").exists():
                if not self.ask(f"{name} is already in your models folder. Replace it?"):
                    return None
            weights, _ = save_model(model, target, overwrite=True)
        except Exception as e:  # noqa: BLE001 - untrusted files: any failure is a message
            self.error("Cannot import this checkpoint", str(e))
            return None
        self.statusBar().showMessage(f"Imported {weights.name} into {folder}" + (f" ({note})" if note else ""), 8000)
        self.set_model(str(weights))
        return weights

    def show_card(self) -> None:
        run = self.primary
        if run is None or run.card is None:
            self.error("No model card", "No model is loaded yet.")
            return
        card = run.card
        evaluation = getattr(card, "evaluation", None) or {}
        labels = "; ".join(f"{head}: {', '.join(card.labels[a:b][:40])}{' …' if b - a > 40 else ''}" if head else
                           ", ".join(card.labels[:80]) + (" …" if len(card.labels) > 80 else "")
                           for head, a, b in card.head_slices())
        rows = [("Name", card.name), ("Variant", card.variant), ("Labels", labels),
                ("Input", f"{card.num_frames} frames, one every {card.frame_stride}"
                          + (f" at {card.fps:g} fps" if card.fps else " of the video's own") +
                          f", {card.image_size}×{card.image_size} px"),
                ("File", run.loaded.description)]
        for key in ("heldout_accuracy", "cpu_window_ms", "training_minutes"):
            if key in evaluation:
                rows.append((key.replace("_", " "), f"{evaluation[key]:.1%}" if key == "heldout_accuracy"
                             else str(evaluation[key])))
        html = "<table>" + "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows) + "</table>"
        if getattr(card, "description", ""):
            html += f"<p>{card.description}</p>"
        dialog = QMessageBox(self)
        dialog.setWindowTitle(f"Model card: {card.name}")
        dialog.setText(html)
        dialog.setDetailedText(card.to_json())
        if self.show_dialogs:
            dialog.exec()
        self.card_html = html

    # -- export ----------------------------------------------------------------------------------
    def _result_or_warn(self):
        run = self.primary
        result = run.result() if run is not None else None
        if result is None:
            self.error("Nothing to export", "No predictions yet: open a video and let the analysis run.")
        return result

    def _save_name(self, title: str, suggestion: str, pattern: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, title, suggestion, pattern)  # asks before overwriting
        return Path(path) if path else None

    def export_predictions(self, kind: str, path: str | Path | None = None) -> list[Path]:
        result = self._result_or_warn()
        if result is None:
            return []
        if path is None:
            stem = Path(self.info.path).with_suffix("") if self.info and self.info.path else Path.home() / "live"
            path = self._save_name(f"Export predictions ({kind.upper()})", f"{stem}.{kind}", f"{kind.upper()} (*.{kind})")
            if path is None:
                return []
        path = Path(path)
        if kind == "csv":  # the save dialog asked about FILE.csv; the set has two more files
            companions = [p for p in (path.with_suffix(".windows.csv"), path.with_suffix(".segments.csv")) if p.exists()]
            if companions and not self.ask(f"{' and '.join(p.name for p in companions)} exist too; the CSV export "
                                           f"replaces them with {path.name}. Replace all?"):
                return []
        try:
            written = (result.write_csv if kind == "csv" else result.write_json)(path, overwrite=True)
        except (OSError, ValueError) as e:
            self.error("Export failed", str(e))
            return []
        self.statusBar().showMessage("Wrote " + ", ".join(p.name for p in written), 8000)
        return written

    def export_plots_dialog(self) -> None:
        stem = Path(self.info.path).with_suffix("") if self.info and self.info.path else Path.home() / "vivit"
        path = self._save_name("Export plots", f"{stem}.plots.png", "PNG image (*.png)")
        if path:
            self.export_plots(path)

    def export_plots(self, path: str | Path) -> Path | None:
        from ..fileio import atomic_path

        path = Path(path)
        image = self.tracks_box.grab()
        try:
            with atomic_path(path, overwrite=True) as tmp:
                if not image.save(str(tmp), "PNG"):
                    raise OSError(f"cannot write {path}")
        except OSError as e:
            self.error("Export failed", str(e))
            return None
        self.statusBar().showMessage(f"Wrote {path.name}", 8000)
        return path

    def export_annotated_dialog(self) -> None:
        if self.info is None or self.info.live:
            self.error("Cannot export", "An annotated video is made from a file; open a video file first.")
            return
        path = self._save_name("Export annotated video", str(self.info.path.with_suffix("")) + ".annotated.mp4",
                               "MP4 video (*.mp4)")
        if path:
            self.export_annotated(path)

    def export_annotated(self, path: str | Path, wait: bool = False) -> ExportThread | None:
        result = self._result_or_warn()
        if result is None or self.info is None or self.info.path is None:
            return None
        if self._export is not None and self._export.isRunning():
            self.error("Export running", "Wait for the running export to finish, or cancel it.")
            return None
        dialog = QProgressDialog("Writing the annotated video…", "Cancel", 0, max(1, result.frame_count), self)
        dialog.setWindowTitle("Export")
        dialog.setMinimumDuration(300)
        thread = ExportThread(result, self.info.path, Path(path))
        thread.progressed.connect(dialog.setValue)
        thread.failed.connect(lambda message: self.error("Export failed", message))
        thread.written.connect(lambda p: self.statusBar().showMessage(f"Wrote {p}", 8000))
        thread.finished.connect(dialog.close)
        dialog.canceled.connect(lambda: setattr(thread, "cancelled", True))
        self._export = thread
        thread.start()
        if wait:
            thread.wait()
        return thread

    # -- messages ----------------------------------------------------------------------------------
    def error(self, title: str, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(f"{title}: {message}", 10000)
        if self.show_dialogs:
            QMessageBox.warning(self, title, message)

    def ask(self, question: str) -> bool:
        if not self.show_dialogs:
            return True
        return QMessageBox.question(self, APP, question) == QMessageBox.Yes

    def about(self) -> None:
        from .. import __version__

        QMessageBox.about(self, f"About {APP}",
                          f"<b>{APP}</b> {__version__}<br>Video classification with ViViT (Arnab et al., ICCV "
                          "2021) and its temporal attention.")

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
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self._timer.stop()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, wait_ms: int = 15000) -> None:
        """Stop the reader, every analysis and any export, and wait for their threads."""
        self._close_source()
        if self._export is not None:
            self._export.cancelled = True
            self._export.wait(wait_ms)
        for run in list(self._retired):
            run.stop(wait_ms)
        self._retired.clear()
        if self.zoo_dialog is not None:
            self.zoo_dialog.shutdown(wait_ms)
