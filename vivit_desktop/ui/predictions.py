"""The predictions panel: the model, every class ranked at the frame shown (each head on its
own), the labelled segments, and the post-processing that makes segments of probabilities."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QHeaderView,
                               QLabel, QListWidget, QListWidgetItem, QSpinBox, QStyledItemDelegate, QTableWidget,
                               QTableWidgetItem, QTabWidget, QToolButton, QVBoxLayout, QWidget)

from ..engine.postprocess import PostProcessing
from .workspace import format_time


PROBABILITY = Qt.UserRole  # the probability column's items: the probability (float), drawn as a bar
BAR_WIDTH = 95  # px: the probability column


class ProbabilityBar(QStyledItemDelegate):
    """A probability as a light bar behind its percentage: the bar first, in a tint of the
    highlight colour, then the figure over it in the text colour, so it reads at any value (the
    style's own bar, a saturated chunk, was painted over the figure above about 40%). A delegate
    painting the item's data, not a progress bar per row: those repainted themselves at every
    change (QProgressBar.setValue repaints at once), 12-18 ms of the window's thread per new
    ranking, and a Kinetics model ranks 400 rows."""

    def paint(self, painter: QPainter, option, index) -> None:
        p = index.data(PROBABILITY)
        if p is None:
            return
        palette = option.palette
        rect = option.rect.adjusted(0, 2, -1, -3)
        painter.save()
        painter.fillRect(rect, palette.base())
        tint = QColor(palette.highlight().color())
        tint.setAlpha(110)  # over the base colour: light on a light theme, dark on a dark one
        painter.fillRect(QRectF(rect.left(), rect.top(), rect.width() * min(max(p, 0.0), 1.0), rect.height() + 1), tint)
        painter.setPen(palette.mid().color())
        painter.drawRect(rect)
        painter.setPen(palette.text().color())
        painter.drawText(rect, Qt.AlignCenter, index.data(Qt.DisplayRole) or "")
        painter.restore()


class PredictionsPanel(QWidget):
    post_changed = Signal(object)  # PostProcessing
    seek_requested = Signal(int)
    labels_help_requested = Signal()
    invalid = Signal(str)  # a post-processing the engine refuses (said in the status bar)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model_label = QLabel("Model: —")
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("font-weight: bold;")
        self.help_button = QToolButton()
        self.help_button.setText("?")
        self.help_button.setToolTip("What these labels mean (from the model card)")
        self.help_button.clicked.connect(self.labels_help_requested)
        header = QHBoxLayout()
        header.addWidget(self.model_label, 1)
        header.addWidget(self.help_button)
        self.note = QLabel("")  # "short clip", "stale": said in words beside the numbers
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #f0c060;")
        self.note.hide()

        self.ranking = QTableWidget(0, 2)
        self.ranking.setHorizontalHeaderLabels(["class", "probability"])
        self.ranking.verticalHeader().hide()
        self.ranking.verticalHeader().setDefaultSectionSize(20)
        self.ranking.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.ranking.horizontalHeader().setSectionResizeMode(1, QHeaderView.Fixed)
        self.ranking.setColumnWidth(1, BAR_WIDTH)
        self.ranking.setItemDelegateForColumn(1, ProbabilityBar(self.ranking))
        self.ranking.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.ranking.setSelectionMode(QAbstractItemView.NoSelection)
        self.ranking.setFocusPolicy(Qt.NoFocus)
        self.ranking.setMinimumHeight(90)

        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(0.0, 1.0)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setToolTip("A frame gets a label only if its probability reaches this "
                                      "(or drag the dashed line on the timeline)")
        self.smooth_box = QComboBox()
        for text, value in (("none", "none"), ("moving average", "mean"), ("EMA (causal)", "ema")):
            self.smooth_box.addItem(text, value)
        self.smooth_width = QSpinBox()
        self.smooth_width.setRange(1, 301)
        self.smooth_width.setValue(9)
        self.smooth_width.setSuffix(" frames")
        self.smooth_width.setEnabled(False)  # until a smoothing is chosen
        self.hysteresis_box = QSpinBox()
        self.hysteresis_box.setRange(1, 300)
        self.hysteresis_box.setToolTip("A label must lead for this many frames before it changes")
        self._frames_suffix(self.hysteresis_box)
        self.min_bout_box = QDoubleSpinBox()
        self.min_bout_box.setRange(0.0, 60.0)
        self.min_bout_box.setSingleStep(0.1)
        self.min_bout_box.setSuffix(" s")
        self.min_bout_box.setToolTip("Segments shorter than this are merged into their neighbours")
        for w in (self.threshold_box, self.min_bout_box, self.smooth_width, self.hysteresis_box):
            w.valueChanged.connect(self._changed)
        self.smooth_box.currentIndexChanged.connect(self._changed)
        form_box = QWidget()
        form = QFormLayout(form_box)
        form.addRow("Threshold", self.threshold_box)
        form.addRow("Smoothing", self.smooth_box)
        form.addRow("Width", self.smooth_width)
        form.addRow("Hysteresis", self.hysteresis_box)
        form.addRow("Shortest segment", self.min_bout_box)

        self.segments = QListWidget()
        self.segments.setToolTip("Click a segment to seek to its start")
        self.segments.itemClicked.connect(lambda item: self.seek_requested.emit(item.data(Qt.UserRole)))
        self._shown_segments: list[dict] | None = None
        self._ranked: list | None = None  # the ranking shown
        self.tabs = QTabWidget()
        self.tabs.addTab(self.segments, "Segments")
        self.tabs.addTab(form_box, "Post-processing")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.note)
        layout.addWidget(self.ranking, 3)
        layout.addWidget(self.tabs, 2)

    @staticmethod
    def _frames_suffix(box: QSpinBox) -> None:
        """"1 frame", "2 frames"."""
        def update(value: int) -> None:
            box.setSuffix(" frame" if value == 1 else " frames")
        box.valueChanged.connect(update)
        update(box.value())

    def _changed(self, *_) -> None:
        smoothing = self.smooth_box.currentData()
        self.smooth_width.setEnabled(smoothing != "none")
        width = self.smooth_width.value()
        try:
            post = PostProcessing(smoothing=smoothing, mean_frames=width, ema_alpha=min(1.0, 2.0 / (width + 1)),
                                  threshold=self.threshold_box.value(), hysteresis=self.hysteresis_box.value(),
                                  min_bout_s=self.min_bout_box.value())
        except ValueError as e:
            self.invalid.emit(str(e))
            return
        self.post_changed.emit(post)

    # -- drawn from the workspace ---------------------------------------------------------------------
    def set_model_text(self, text: str, tip: str = "") -> None:
        self.model_label.setText(text)
        self.model_label.setToolTip(tip)

    def set_column_title(self, title: str) -> None:
        self.ranking.horizontalHeaderItem(0).setText(title)

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_ranking(self, ranked) -> None:
        if ranked == self._ranked:
            return  # each frame asks; the ranking changes with the window shown
        self._ranked = list(ranked)
        if self.ranking.rowCount() != len(ranked):
            self.ranking.setRowCount(len(ranked))
        for row, (label, p) in enumerate(ranked):
            item = self.ranking.item(row, 0)
            if item is None:
                self.ranking.setItem(row, 0, QTableWidgetItem(label))
                self.ranking.setItem(row, 1, QTableWidgetItem())
            elif item.text() != label:
                item.setText(label)
            bar = self.ranking.item(row, 1)
            text = f"{p:.0%}"  # not truncated (54.6% reads 55%, as on the overlay)
            if bar.text() != text:  # each frame: repaint only the bars whose figure changed
                bar.setText(text)
                bar.setData(PROBABILITY, round(float(p), 2))  # to the figure's precision: the bar matches it

    def set_segments(self, segments: list[dict]) -> None:
        if segments == self._shown_segments:
            return  # rebuilding the list costs more than comparing
        self._shown_segments = segments
        self.segments.clear()
        for s in segments:
            item = QListWidgetItem(f"{format_time(s['start_time'])}–{format_time(s['end_time'])}   {s['label']}"
                                   f"   ({s['confidence']:.0%})")
            item.setData(Qt.UserRole, s["start_frame"])
            self.segments.addItem(item)

    def set_threshold(self, value: float) -> None:
        self.threshold_box.setValue(round(value, 2))

    def clear(self) -> None:
        self.set_ranking([])
        self.set_segments([])
        self.set_note("")
