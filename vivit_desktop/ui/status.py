"""The status bar: model, device, latency, prediction state, display rate, dropped live windows,
GPU memory and the analysis progress, drawn from the workspace at 10 Hz."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from .elided import ElidedLabel
from .workspace import STALE_S, Workspace

FIELDS = (("model", "The model whose results are shown"), ("device", "Inference device"),
          ("latency", "Inference time per window"), ("state", "Prediction state"),
          ("frame", "The frame shown (numbered from 0, as in the exports)"),
          ("fps", "Displayed frames per second"), ("dropped", "Live windows replaced before they ran (latest wins)"),
          ("gpu", "GPU memory in use"))


class Progress(QWidget):
    """The status bar's "analysed n %" bar. Not a QProgressBar: its setValue repaints at once,
    and a repaint from inside the progress signal painted every widget waiting to repaint
    (plots, ethogram, video) there and then: while a file was analysed, 63 % of the window
    thread's time went through it (py-spy over bench_gui.py). This one asks for a repaint
    (`update`), which Qt merges with the rest of the window's."""

    def __init__(self) -> None:
        super().__init__()
        self.done, self.total = 0, 0
        self.setMaximumWidth(160)

    def sizeHint(self) -> QSize:
        return QSize(160, self.fontMetrics().height() + 6)

    def text(self) -> str:
        return f"analysed {self.percent()}%"

    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    def set(self, done: int, total: int) -> None:
        before = self._look()
        self.done, self.total = min(done, total), total
        if self._look() != before:
            self.update()  # (only when the text or the bar changes by a pixel)

    def _look(self) -> tuple[int, int]:
        """(percent, filled pixels): what the bar shows."""
        return self.percent(), round(self.width() * self.done / self.total) if self.total else 0

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        box = QRectF(self.rect()).adjusted(0.5, 2.5, -0.5, -2.5)
        painter.setPen(palette.color(QPalette.Mid))
        painter.setBrush(palette.color(QPalette.Base))
        painter.drawRoundedRect(box, 3, 3)
        filled = QRectF(box.left(), box.top(), box.width() * self.done / self.total if self.total else 0, box.height())
        painter.setPen(Qt.NoPen)
        painter.setBrush(palette.color(QPalette.Highlight))
        painter.drawRoundedRect(filled, 3, 3)
        # the text in the highlight's own colour over the filled part, so it reads on both
        for clip, role in ((filled, QPalette.HighlightedText), (box.adjusted(filled.width(), 0, 0, 0), QPalette.Text)):
            painter.setClipRect(clip)
            painter.setPen(palette.color(role))
            painter.drawText(box, Qt.AlignCenter, self.text())


class StatusPanel:
    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.labels: dict[str, ElidedLabel] = {}
        for key, tip in FIELDS:
            label = ElidedLabel("", tip)  # (not its text's width: a long model name kept 800x600 windows from fitting)
            bar.addPermanentWidget(label)
            self.labels[key] = label
        self.labels["model"].setMaximumWidth(260)
        # short figures keep enough to say what they are ("Per win…" and "Display: 2…" said nothing)
        for key, sample in (("latency", "Per window: 88 ms"), ("fps", "Display: 30.0 fps"), ("device", "Device: cpu")):
            self.labels[key].setMinimumWidth(self.labels[key].fontMetrics().horizontalAdvance(sample) + 4)
        # the frame number is never elided: a cut "Frame 1…" is a wrong number at a glance
        self.labels["frame"].setMinimumWidth(self.labels["frame"].fontMetrics().horizontalAdvance("Frame 0000000"))
        self.progress = Progress()
        # no taller than a label: a status bar that grew by 3 px when the bar showed (and shrank
        # when the analysis ended) resized every widget above it, video, plots and ethogram
        self.progress.setFixedHeight(QLabel("Model: Xg").sizeHint().height())
        self.progress.hide()
        bar.addPermanentWidget(self.progress)

    def set_progress(self, done: int, total: int, complete: bool) -> None:
        if total:
            self.progress.set(done, total)
            if self.progress.isVisible() == complete:
                self.progress.setVisible(not complete)

    def state_text(self, workspace: Workspace) -> str:
        run = workspace.primary
        if not workspace.ready:
            return "loading the engine…" if not workspace.engine_error else "engine failed to load"
        if run is None:
            return ""  # nothing open (or it failed to open): nothing is being prepared
        shown = workspace.prediction_at()
        if workspace.outage_s():
            return f"no frames for {workspace.outage_s():.0f} s (a stream reconnects for up to 30 s)"
        if run is not None and workspace.is_live and shown.window is not None:
            age = time.perf_counter() - run.live.arrived
            return f"stale ({age:.1f} s old)" if age > STALE_S else f"live, {age * 1000:.0f} ms old"
        if shown.state == "short clip":
            return "short clip: shorter than the model's window"
        if run is not None and run.complete:
            return shown.state or ("analysed (earlier: from the cache)" if run.cached else "analysed")
        if run is not None and run.card is None:
            return "loading the model…"
        if run is not None and not shown.state:
            return "analysing ahead"
        if shown.state == "preparing" and workspace.analysed_to():
            return workspace.analysed_to()
        return shown.state

    def update(self, workspace: Workspace) -> None:
        run = workspace.primary
        labels = self.labels
        labels["model"].setText(f"Model: {run.title}" if run is not None else "Model: —")
        labels["model"].set_tip(run.loaded.description if run is not None and run.loaded else "")
        predictor = run.device_info if run is not None else None
        labels["device"].setText(f"Device: {predictor.device}, {predictor.precision_used}" if predictor is not None
                                 else f"Device: {workspace.settings.device}")
        labels["device"].set_tip(f"Inference device and precision: {predictor.precision_note}"
                                    if predictor is not None else "Inference device")
        latencies = [w.latency_s for w in run.windows[-20:]] if run is not None else []
        if run is not None and workspace.is_live and run.live.arrived:
            labels["latency"].setText(f"Latency: {run.live.latency_s * 1000:.0f} ms "
                                      f"(forward {run.live.compute_s * 1000:.0f} ms)")
        else:
            labels["latency"].setText(f"Per window: {np.mean(latencies) * 1000:.0f} ms" if latencies else "")
        state = labels["state"]
        state.setText(self.state_text(workspace))
        # what the prediction is doing is never squeezed out by a long model name (which has 260 px
        # at most here, and is whole in the predictions panel)
        wanted = min(state.fontMetrics().horizontalAdvance(state.text()) + 6, 300)
        if state.minimumWidth() != wanted:
            state.setMinimumWidth(wanted)
        labels["frame"].setText(f"Frame {workspace.playhead}" if workspace.info is not None else "")
        labels["fps"].setText(f"Display: {workspace.display_fps():.1f} fps")
        labels["dropped"].setText(f"Dropped: {run.live.dropped}" if run is not None and workspace.is_live else "")
        labels["gpu"].setText(f"GPU: {predictor.gpu_mib:.0f} MiB" if predictor is not None and predictor.gpu_mib is not None
                              else "")
        if run is not None and run.complete:
            self.progress.hide()
