"""The plots (pyqtgraph): a prediction timeline and a per-frame attention track over the whole
video, and the current window's per-frame attention as bars. Updated from the GUI thread by a
throttled timer (`set_result`), never from a worker; arrays are handed over whole with setData."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

# no antialiasing: software-rasterised curves over a whole video cost tens of ms a repaint
pg.setConfigOptions(antialias=False, background=(24, 24, 28), foreground=(210, 210, 215))

PALETTE = [(80, 170, 255), (255, 150, 60), (120, 220, 120), (235, 90, 120), (190, 140, 255), (240, 220, 90)]
LEADING = 4  # classes drawn on the timeline: the video's most probable


def _hover_text(plot: pg.PlotItem, pos, describe) -> None:
    if plot.sceneBoundingRect().contains(pos):
        point = plot.vb.mapSceneToView(pos)
        plot.getViewWidget().setToolTip(describe(point.x()))


class _TimePlot(pg.PlotWidget):
    """A plot over the video's time axis (seconds) with the playhead and a click to seek."""

    seek_requested = Signal(int)  # frame

    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent)
        self.fps = 30.0
        self.frames = 0
        self.offset = 0  # live: the first frame the data covers
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setLabel("left", title)
        item.setMouseEnabled(x=False, y=False)
        item.setClipToView(True)
        self.cursor = pg.InfiniteLine(0, angle=90, pen=pg.mkPen((255, 255, 255), width=1.5))
        item.addItem(self.cursor)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.scene().sigMouseMoved.connect(lambda pos: _hover_text(item, pos, self.describe))
        self.setMinimumHeight(70)

    def describe(self, seconds: float) -> str:
        return f"frame {int(round(seconds * self.fps))}"

    def set_extent(self, fps: float, frames: int, offset: int = 0) -> None:
        self.fps, self.frames, self.offset = fps, frames, offset
        end = max((offset + frames) / fps, 1.0 / fps)
        self.getPlotItem().setXRange(offset / fps, end, padding=0.01)

    def set_playhead(self, frame: int) -> None:
        self.cursor.setValue(frame / self.fps)

    def _clicked(self, event) -> None:
        item = self.getPlotItem()
        if event.button() != Qt.LeftButton or not item.sceneBoundingRect().contains(event.scenePos()):
            return
        seconds = item.vb.mapSceneToView(event.scenePos()).x()
        self.seek_requested.emit(max(0, int(round(seconds * self.fps))))


class Timeline(_TimePlot):
    """Probability of the leading classes per frame, the threshold line (drag it to change the
    threshold) and a bracket over the frames that fed the shown prediction."""

    threshold_dragged = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__("probability", parent)
        item = self.getPlotItem()
        item.setYRange(0, 1, padding=0.02)
        self.legend = item.addLegend(offset=(-10, 5), labelTextSize="8pt", colCount=2,
                                     brush=(24, 24, 28, 210))  # opaque enough that curves do not strike the names
        self.curves: list[pg.PlotDataItem] = []
        for i in range(LEADING):
            curve = item.plot([], [], pen=pg.mkPen(PALETTE[i], width=1.5))  # named in the legend by set_probs
            self.curves.append(curve)
        self.threshold = pg.InfiniteLine(0.0, angle=0, movable=True, pen=pg.mkPen((255, 200, 80), width=1, style=Qt.DashLine),
                                         label="threshold {value:.2f}",  # left-aligned: not cut off at the left
                                         labelOpts={"position": 0.02, "color": (255, 200, 80),
                                                    "anchors": [(0, 0), (0, 1)]})
        self.threshold.setBounds((0, 1))
        self.threshold.sigPositionChangeFinished.connect(lambda line: self.threshold_dragged.emit(float(line.value())))
        item.addItem(self.threshold)
        self.bracket = pg.LinearRegionItem((0, 0), movable=False, brush=pg.mkBrush(80, 170, 255, 40),
                                           pen=pg.mkPen((80, 170, 255, 160)))
        self.bracket.setZValue(-10)
        item.addItem(self.bracket)
        self.bracket.hide()
        self._probs: np.ndarray | None = None
        self._labels: tuple[str, ...] = ()
        self.shown: list[str] = []  # the classes drawn, in curve order

    def describe(self, seconds: float) -> str:
        frame = int(round(seconds * self.fps))
        text = f"frame {frame} ({seconds:.2f} s)"
        if self._probs is not None and 0 <= frame - self.offset < len(self._probs):
            row = self._probs[frame - self.offset]
            if not np.isnan(row).any():
                top = np.argsort(-row)[:3]
                text += "\n" + "\n".join(f"{self._labels[i]}: {row[i]:.2f}" for i in top)
        return text

    def set_probs(self, probs: np.ndarray | None, labels: tuple[str, ...]) -> None:
        """(frames, classes) smoothed probabilities, NaN where no window covers yet."""
        self._probs, self._labels = probs, labels
        if probs is None or not len(probs):
            for curve in self.curves:
                curve.setData([], [])
            self.legend.clear()  # no blank swatches, no names of a video no longer shown
            self.shown = []
            return
        with np.errstate(invalid="ignore"):
            mean = np.nan_to_num(np.nanmean(probs, axis=0)) if np.isfinite(probs).any() else np.zeros(probs.shape[1])
        leading = list(np.argsort(-mean)[:LEADING])
        x = (np.arange(len(probs)) + self.offset) / self.fps
        names = []
        for curve, k in zip(self.curves, leading):
            curve.setData(x, probs[:, k], connect="finite")
            names.append(labels[k])
        for curve in self.curves[len(leading):]:
            curve.setData([], [])
        if names != self.shown:
            self.legend.clear()
            for curve, name in zip(self.curves, names):
                self.legend.addItem(curve, name)
            self.shown = names

    def set_threshold(self, value: float) -> None:
        self.threshold.setValue(value)

    def set_bracket(self, first: int | None, last: int | None) -> None:
        if first is None:
            self.bracket.hide()
            return
        self.bracket.setRegion(((first - 0.5) / self.fps, (last + 0.5) / self.fps))
        self.bracket.show()


class AttentionTrack(_TimePlot):
    """Temporal attention each frame received, averaged over the windows that sampled it."""

    def __init__(self, parent=None) -> None:
        super().__init__("attention", parent)
        self.curve = self.getPlotItem().plot([], [], pen=pg.mkPen((255, 150, 60), width=1))
        self._values = np.zeros(0)

    def describe(self, seconds: float) -> str:
        frame = int(round(seconds * self.fps))
        i = frame - self.offset
        value = "" if not 0 <= i < len(self._values) else (
            ": not analysed yet" if np.isnan(self._values[i]) else f": attention {self._values[i]:.3f}")
        return f"frame {frame}{value}"

    def set_values(self, values: np.ndarray) -> None:
        self._values = values
        # frames no window covers yet are NaN: gaps, not a line at zero
        self.curve.setData((np.arange(len(values)) + self.offset) / self.fps, values, connect="finite")


class WindowAttention(pg.PlotWidget):
    """The shown window's attention per input frame, one bar per sampled frame, labelled with
    the source frame number; the bar of the frame on screen is highlighted."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.setLabel("left", "attention")
        item.setLabel("bottom", "frames of the shown window")
        item.showGrid(y=True, alpha=0.15)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(255, 150, 60))
        self.current = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(80, 170, 255))
        item.addItem(self.bars)
        item.addItem(self.current)
        self.frames: tuple[int, ...] = ()
        self.values = np.zeros(0)
        self.scene().sigMouseMoved.connect(lambda pos: _hover_text(item, pos, self.describe))
        self.setMinimumHeight(90)

    def describe(self, x: float) -> str:
        i = int(round(x))
        if 0 <= i < len(self.frames):
            return f"frame {self.frames[i]}: attention {self.values[i]:.3f}"
        return ""

    def set_window(self, frames: tuple[int, ...] | None, values: np.ndarray | None, playhead: int) -> None:
        if not frames:
            self.bars.setOpts(x=[], height=[])
            self.current.setOpts(x=[], height=[])
            self.frames, self.values = (), np.zeros(0)
            return
        values = np.asarray(values, float)
        x = np.arange(len(frames))
        if tuple(frames) != self.frames or not np.array_equal(values, self.values):
            self.frames, self.values = tuple(frames), values
            self.bars.setOpts(x=x, height=values)
            axis = self.getPlotItem().getAxis("bottom")
            step = max(1, len(frames) // 8)
            axis.setTicks([[(i, str(frames[i])) for i in range(0, len(frames), step)]])
            self.getPlotItem().setYRange(0, max(float(values.max()) * 1.15, 1e-3), padding=0)
            self.getPlotItem().setXRange(-0.6, len(frames) - 0.4, padding=0)
        nearest = int(np.argmin(np.abs(np.asarray(frames) - playhead)))
        self.current.setOpts(x=[nearest], height=[values[nearest]])


class RunTracks(QWidget):
    """One model's timeline and attention track, x-linked, with a caption naming the model."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.caption = QLabel("")
        self.caption.setStyleSheet("color: #bbb; padding-left: 4px;")
        self.timeline = Timeline()
        self.attention = AttentionTrack()
        self.attention.setXLink(self.timeline)
        self.attention.setMaximumHeight(110)
        layout.addWidget(self.caption)
        layout.addWidget(self.timeline, 3)
        layout.addWidget(self.attention, 2)

    def set_extent(self, fps: float, frames: int, offset: int = 0) -> None:
        self.timeline.set_extent(fps, frames, offset)
        self.attention.fps, self.attention.frames, self.attention.offset = fps, frames, offset

    def set_playhead(self, frame: int) -> None:
        self.timeline.set_playhead(frame)
        self.attention.set_playhead(frame)
