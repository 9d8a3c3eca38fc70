"""The plots (pyqtgraph): a prediction timeline and a per-frame attention track over the whole
video, and the current window's per-frame attention as bars. Updated from the GUI thread by a
throttled timer (`set_result`), never from a worker; arrays are handed over whole with setData."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QGraphicsItem, QGraphicsTextItem, QVBoxLayout, QWidget

from ..engine.results import distinct_sorted
from ..engine.timebase import Timebase
from .elided import ElidedLabel

# no antialiasing: software-rasterised curves over a whole video cost tens of ms a repaint
pg.setConfigOptions(antialias=False, background=(24, 24, 28), foreground=(210, 210, 215))

# class colours, by the class's index in the model's labels: the first len(PALETTE) classes take
# these; the ethogram colours a picked class's name the same way, so the name and its curve match
PALETTE = [(80, 170, 255), (255, 150, 60), (120, 220, 120), (235, 90, 120), (190, 140, 255), (240, 220, 90),
           (90, 215, 215), (255, 130, 210), (175, 215, 75), (200, 200, 200)]
LEADING = 4  # classes drawn on the timeline by default: the video's most probable
LEGEND_CHARS = 24  # longer class names are elided in the middle in the legend (the ethogram shows them whole)


def class_colour(class_index: int) -> tuple[int, int, int]:
    """The colour of a class (its index in the model's labels), wherever it is drawn: the same
    whatever else is picked, in whatever order, and for every model with the same labels. Past
    PALETTE, hues a golden ratio of the circle apart: neighbours differ, and no two classes of
    a few hundred share a colour exactly."""
    if class_index < len(PALETTE):
        return PALETTE[class_index]
    colour = QColor.fromHsvF((class_index * 0.6180339887) % 1.0, 0.55, 1.0)
    return colour.red(), colour.green(), colour.blue()


def class_means(probs: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(classes,) each class's mean probability over its analysed (non-NaN) frames, 0 where it has
    none. Summed in float64 a chunk of frames at a time: temporaries stay small with 600 classes
    × 100k frames, and the timeline and the ethogram rank classes by the very same numbers."""
    frames, classes = probs.shape
    sums = np.zeros(classes)
    counts = np.zeros(classes)
    for f0 in range(0, frames, chunk):
        block = probs[f0:f0 + chunk]
        total = block.sum(axis=0, dtype=np.float64)  # a NaN in a column makes its sum NaN: one check per class
        if np.isnan(total).any():
            nan = np.isnan(block)
            sums += np.where(nan, 0.0, block).sum(axis=0)
            counts += len(block) - nan.sum(axis=0)
        else:
            sums += total
            counts += len(block)
    return np.divide(sums, counts, out=np.zeros(classes), where=counts > 0)


def leading_classes(means: np.ndarray, count: int = LEADING) -> list[int]:
    """The default classes to draw: the `count` with the highest mean probability."""
    return [int(k) for k in np.argsort(-np.asarray(means), kind="stable")[:count]]


def _elide(name: str, chars: int = LEGEND_CHARS) -> str:
    """In the middle: names that share a head ("verb: ...") or a stem still differ at the end."""
    if len(name) <= chars:
        return name
    head = (chars - 1) // 2
    return name[:head] + "…" + name[len(name) - (chars - 1 - head):]


SHORT_TITLES = {"probability": "p", "attention": "attn"}


def fit_axis_title(plot: pg.PlotWidget, title: str, short: str) -> None:
    """The left axis's rotated title, or its short form when the plot is too low for it (at
    800×600 "probability" was cut to "probabilit")."""
    item = plot.getPlotItem()
    if item is None:  # pyqtgraph resizes during its own __init__ and after close()
        return
    axis = item.getAxis("left")
    room = plot.height() - 30  # less the bottom axis
    text = title if QFontMetrics(axis.label.font()).horizontalAdvance(title) + 8 <= room else short
    if axis.labelText != text:
        axis.setLabel(text)


def _cached(curve: pg.PlotDataItem) -> pg.PlotDataItem:
    """A curve kept as a pixmap between data changes: the cursor moving over it (every frame or
    two while playing) then repaints in ~1 ms instead of redrawing every segment (~4 ms). Its
    data comes reduced to the plot's pixels (`envelope`)."""
    curve.curve.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
    return curve


def envelope(x: np.ndarray, y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) for drawing `y` (frames, or frames × curves) over `columns` pixels: each column's
    minimum then maximum at its first and last frame's x, so no peak is lost; unchanged when
    there are no more than two frames a column. NaN (not analysed) stays a gap: a column of
    only NaN gives NaN. A 30-minute video's 54 000 frames made the timeline's repaint after
    each update 45-60 ms with pyqtgraph's own peak downsampling (done in Python at paint
    time); reduced here in one numpy pass, it paints in the time of a short clip's."""
    n = len(y)
    if n <= 2 * max(columns, 1):
        return x, y
    starts = distinct_sorted(np.linspace(0, n, columns + 1).astype(np.int64)[:-1])
    ends = np.append(starts[1:], n) - 1
    with np.errstate(invalid="ignore"):
        low, high = np.fmin.reduceat(y, starts, axis=0), np.fmax.reduceat(y, starts, axis=0)
    xs = np.empty(2 * len(starts))
    xs[0::2], xs[1::2] = x[starts], x[ends]
    ys = np.empty((2 * len(starts),) + y.shape[1:])
    ys[0::2], ys[1::2] = low, high
    return xs, ys


def _hover_text(plot: pg.PlotItem, pos, describe) -> None:
    if plot.sceneBoundingRect().contains(pos):
        point = plot.vb.mapSceneToView(pos)
        plot.getViewWidget().setToolTip(describe(point.x()))


class Legend(QGraphicsTextItem):
    """The timeline's legend: each drawn class's colour and name, in one rich-text item on a
    translucent background (the curves under it stay visible, yet do not strike the names) in
    the plot's top right corner. pyqtgraph's LegendItem is a layout of two widgets an entry: a
    new one cost ~18 ms of the GUI thread, and the classes drawn change with the ranking and with
    the class on screen (a new one at most redraws while windows arrived); this is one setHtml.
    `entries`: the (colour, name) pairs shown (colour None: no sample, "+ n more")."""

    OFFSET = (10, 5)  # from the plot's right and top edges, px
    BACKGROUND = QColor(24, 24, 28, 190)

    def __init__(self, view: pg.ViewBox, point_size: int) -> None:
        super().__init__()
        self.setParentItem(view)  # in the view's pixels, not its data: it stays put as the axes change
        font = QFont()
        font.setPointSize(point_size)
        self.setFont(font)
        self.setDefaultTextColor(QColor(210, 210, 215))
        self.setZValue(100)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)  # the cursor passes under it every frame or two
        self.entries: list[tuple[tuple[int, int, int] | None, str]] = []
        self.columns = 0
        self.view = view
        view.sigResized.connect(self._place)
        self.hide()

    def set_entries(self, entries: list[tuple[tuple[int, int, int] | None, str]], columns: int) -> None:
        if (entries, columns) == (self.entries, self.columns):
            return
        self.entries, self.columns = list(entries), columns
        cells = []
        for colour, name in entries:
            sample = ("" if colour is None else
                      f'<span style="color: rgb{tuple(colour)}; font-weight: bold">&#9473;&#9473;</span>&nbsp;')
            cells.append(f'<td style="padding: 0 8px 0 2px">{sample}{html.escape(name)}</td>')
        rows = ["<tr>" + "".join(cells[r:r + columns]) + "</tr>" for r in range(0, len(cells), max(columns, 1))]
        self.setHtml(f'<table cellspacing="0" cellpadding="0">{"".join(rows)}</table>')
        self.setVisible(bool(entries))
        self._place()

    def _place(self) -> None:
        room, size = self.view.boundingRect(), self.boundingRect()
        self.setPos(room.right() - size.width() - self.OFFSET[0], room.top() + self.OFFSET[1])

    def paint(self, painter, option, widget=None) -> None:
        painter.fillRect(self.boundingRect(), self.BACKGROUND)
        super().paint(painter, option, widget)


GRID = (0.25, 0.5, 0.75)  # the timeline's probability grid lines: where its axis is labelled (label_y_axis)


class _TimePlot(pg.PlotWidget):
    """A plot over the video's time axis (seconds) with the playhead and a click to seek."""

    seek_requested = Signal(int)  # frame

    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent)
        self.timebase = Timebase(30.0)  # frame numbers to seconds (the workspace's)
        self._x_span: tuple[float, float] | None = None  # the x range set last
        self.frames = 0
        self.offset = 0  # live: the first frame the data covers
        self.playhead = 0  # the frame the cursor marks
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        # no pyqtgraph grid: its axes replay the grid lines over the whole plot at every repaint
        # (~11 ms an axis), a cursor step cost ~17 ms and a data update ~45 (bench/RESULTS.md,
        # "GUI"); the timeline draws three plain lines instead, and the axes are kept as
        # pixmaps, redrawn only when they change
        for side in ("left", "bottom", "top", "right"):
            item.getAxis(side).setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.titles = (title, SHORT_TITLES.get(title, title))
        item.setLabel("left", title)
        item.getAxis("left").enableAutoSIPrefix(False)  # "attention (x0.001)" did not fit a small plot
        item.setMouseEnabled(x=False, y=False)
        item.setClipToView(True)
        self.cursor = pg.InfiniteLine(0, angle=90, pen=pg.mkPen((255, 255, 255), width=1.5))
        item.addItem(self.cursor)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.scene().sigMouseMoved.connect(lambda pos: _hover_text(item, pos, self.describe))
        self.setMinimumHeight(48)  # two runs compared still fit a window of 800×600
        self._y_label_top = 1.0  # the y axis is labelled from 0 to this (label_y_axis)
        self._y_labels: tuple[float, int] | None = None
        item.vb.sigResized.connect(lambda _: self.label_y_axis())

    def label_y_axis(self, top: float | None = None) -> None:
        """Labels on the y axis from 0 to `top` in 4, 2 or 1 steps as the plot's height allows
        (pyqtgraph's own crammed six labels into a 60 px plot at 800x600)."""
        item = self.getPlotItem()
        if item is None:  # (being deleted)
            return
        self._y_label_top = top = self._y_label_top if top is None else top
        height = item.vb.boundingRect().height()
        steps = 4 if height >= 110 else 2 if height >= 45 else 1
        if (top, steps) != self._y_labels:
            self._y_labels = (top, steps)
            # a round step (1, 2, 2.5 or 5 times a power of ten): 0.1 apart under 0.35, not 0.0875
            step = next(m * 10.0 ** e for e in range(-4, 3) for m in (1, 2, 2.5, 5)
                        if m * 10.0 ** e * steps >= top - 1e-9)
            values = [k * step for k in range(steps + 1) if k * step <= top + 1e-9]
            if len(values) < 2:
                values.append(top)  # (a step past the top: the top itself)
            item.getAxis("left").setTicks([[(v, f"{round(v, 4):g}") for v in values]])

    @property
    def fps(self) -> float:
        return self.timebase.fps

    def frame_at(self, seconds: float) -> int:
        """The frame on screen at `seconds` of the x axis."""
        return self.timebase.frame(seconds)

    def describe(self, seconds: float) -> str:
        return f"frame {self.frame_at(seconds)}"

    def columns(self) -> int:
        """Device pixels across the plot's data area: what a curve needs no more points than."""
        return max(1, int(self.getPlotItem().vb.width() * self.devicePixelRatioF()))

    def frame_times(self, count: int) -> np.ndarray:
        """The x (seconds) of `count` frames from `offset`."""
        return self.timebase.time(np.arange(count) + self.offset)

    def redraw(self) -> None:
        """Hand the curves their data again (the plot's width changed: a new envelope)."""

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if "titles" in self.__dict__ and self.getPlotItem() is not None:  # (pyqtgraph resizes during its own __init__)
            fit_axis_title(self, *self.titles)
            if self.columns() != getattr(self, "_columns", None):
                self._columns = self.columns()
                self.redraw()

    def set_extent(self, timebase: Timebase | float, frames: int, offset: int = 0) -> None:
        """The x axis: frames offset .. offset + frames, in seconds by `timebase` (a Timebase, or
        a frame rate for a constant-rate source)."""
        self.timebase = timebase if isinstance(timebase, Timebase) else Timebase(float(timebase))
        self.frames, self.offset = frames, offset
        start, end = self.timebase.time(offset), self.timebase.time(offset + frames)
        if self._x_span is None or not np.allclose((start, end), self._x_span, rtol=0, atol=1e-4 * max(end - start, 1e-3)):
            # (setting the same range again still redraws the axes: ~3 ms each; and the
            # timestamps the analysis decodes move the end by a rounding error)
            self._x_span = (start, end)
            self.getPlotItem().setXRange(start, max(end, start + 1.0 / self.fps), padding=0.01)
        self.cursor.setValue(self.timebase.time(self.playhead))  # in seconds: placed again by the new timebase

    def set_playhead(self, frame: int) -> None:
        """Moves the cursor only when it moves by a pixel or more: over a long video most frames
        do not, and each move repaints the plot. The cursor marks the frame's start, its
        timestamp (the ethogram's playhead marks the same instant)."""
        self.playhead = frame
        seconds = self.timebase.time(frame)
        span = max(self.timebase.time(self.offset + self.frames) - self.timebase.time(self.offset), 1e-6)
        if abs(seconds - self.cursor.value()) * self.width() / span >= 1.0:
            self.cursor.setValue(seconds)

    def _clicked(self, event) -> None:
        item = self.getPlotItem()
        if event.button() != Qt.LeftButton or not item.sceneBoundingRect().contains(event.scenePos()):
            return
        seconds = item.vb.mapSceneToView(event.scenePos()).x()
        self.seek_requested.emit(self.frame_at(seconds))


class Timeline(_TimePlot):
    """Probability per frame of some classes, the threshold line (drag it to change the
    threshold) and a bracket over the frames that fed the shown prediction.

    `set_probs(probs, labels, classes)` draws exactly `classes` (class indices, in that order; class
    k's curve gets `class_colour(k)`, as the ethogram colours its name), or with
    classes=None the LEADING classes of highest mean probability. The legend sits in the top
    right corner on a translucent background, its names elided to LEGEND_CHARS, in as many
    columns as fit in about half the plot's width, at most LEGEND_ENTRIES entries, so it takes a
    strip, never half the plot; hovering the plot lists the drawn classes' probabilities.
    `shown` holds the names drawn, `shown_classes` their indices, in curve order."""

    threshold_dragged = Signal(float)
    LEGEND_FONT_PT = 8
    LEGEND_WIDTH = 0.55  # of the plot's width at most, while one column still fits
    LEGEND_ENTRIES = 8  # more curves than this: the first 7 and "+ n more" (the hover lists them all)

    def __init__(self, parent=None) -> None:
        super().__init__("probability", parent)
        item = self.getPlotItem()
        item.setYRange(0, 1, padding=0.02)
        for y in GRID:  # the grid: three faint lines (see _TimePlot: not pyqtgraph's)
            line = pg.InfiniteLine(y, angle=0, movable=False, pen=pg.mkPen((255, 255, 255, 38), width=1))
            line.setZValue(-20)
            item.addItem(line)
        # the axis is labelled where the lines are (pyqtgraph's own ticks fell at 0.2, 0.4, ...
        # between them): label_y_axis's quarters of 1
        self.label_y_axis(1.0)
        self.legend = Legend(item.vb, self.LEGEND_FONT_PT)
        self._top = 1.0  # the y range's top: above 1 by the legend's strip (_room_for_legend)
        item.vb.sigResized.connect(lambda _: self._room_for_legend())
        # a pool, grown on demand; curves past len(shown) are empty. The default count made now,
        # while the window opens: making them (~2 ms each) delayed the first results' redraw
        self.curves: list[pg.PlotDataItem] = [_cached(item.plot([], [])) for _ in range(LEADING)]
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
        self.shown: list[str] = []  # the names of the classes drawn, in curve order
        self.shown_classes: list[int] = []  # their indices

    def describe(self, seconds: float) -> str:
        """The drawn classes' probabilities at that time, highest first, then any of the three
        most probable classes that is not drawn."""
        frame = self.frame_at(seconds)
        text = f"frame {frame} ({seconds:.2f} s)"
        if self._probs is not None and 0 <= frame - self.offset < len(self._probs):
            row = self._probs[frame - self.offset]
            if not np.isnan(row).any():
                drawn = sorted(self.shown_classes, key=lambda k: -row[k])
                top = [int(k) for k in np.argsort(-row)[:3] if k not in drawn]
                text += "".join(f"\n{self._labels[k]}: {row[k]:.2f}" for k in drawn)
                text += "".join(f"\n{self._labels[k]}: {row[k]:.2f} (not drawn)" for k in top)
        return text

    def set_probs(self, probs: np.ndarray | None, labels: tuple[str, ...], classes=None) -> None:
        """(frames, classes) smoothed probabilities, NaN where no window covers yet. `classes`:
        the class indices to draw, in order (each in its class's colour); None draws the
        LEADING classes of highest mean probability."""
        self._probs, self._labels = probs, labels
        if probs is None or not len(probs):
            drawn: list[int] = []
        elif classes is None:
            drawn = leading_classes(class_means(probs))
        else:
            drawn = [int(k) for k in classes]
            bad = [k for k in drawn if not 0 <= k < probs.shape[1]]
            if bad:
                raise ValueError(f"class indices {bad} out of range for {probs.shape[1]} classes")
        item = self.getPlotItem()
        while len(self.curves) < len(drawn):
            self.curves.append(_cached(item.plot([], [])))  # named in the legend below
        self.shown_classes = drawn
        self._draw_curves()
        self.shown = [labels[k] for k in drawn]
        self._fill_legend()

    def _draw_curves(self) -> None:
        drawn, probs = self.shown_classes, self._probs
        if drawn:
            x, y = envelope(self.frame_times(len(probs)), probs[:, drawn], self.columns())
        for i, (curve, k) in enumerate(zip(self.curves, drawn)):
            if getattr(curve, "class_index", None) != k:  # (a new pen, even the same, redraws the curve again)
                curve.class_index = k
                curve.setPen(pg.mkPen(class_colour(k), width=1))
            curve.setData(x, y[:, i], connect="finite")  # NaN (not analysed): a gap, not zero
        for curve in self.curves[len(drawn):]:
            curve.setData([], [])

    def redraw(self) -> None:
        probs = getattr(self, "_probs", None)  # (None while __init__ runs)
        if probs is not None and len(probs):
            self._draw_curves()

    # -- legend -------------------------------------------------------------------------------
    def _legend_entries(self) -> list[tuple[tuple[int, int, int] | None, str]]:
        """(colour, name) of each drawn class, or the last entry (None, "+ n more")."""
        entries = [(class_colour(k), _elide(name)) for k, name in zip(self.shown_classes, self.shown)]
        if len(entries) > self.LEGEND_ENTRIES:
            hidden = len(entries) - self.LEGEND_ENTRIES + 1
            entries = entries[:self.LEGEND_ENTRIES - 1] + [(None, f"+ {hidden} more")]
        return entries

    def _legend_fit(self, entries) -> int:
        """The most columns (so the fewest rows) whose width stays within LEGEND_WIDTH of the plot."""
        if not entries:
            return 1
        metrics = QFontMetrics(self.legend.font())
        widths = [metrics.horizontalAdvance(text) + 36 for _, text in entries]  # + sample, spacing
        budget = self.LEGEND_WIDTH * max(self.width() - 60, 200)  # the plot: the widget less the left axis
        for columns in range(len(widths), 1, -1):
            total = sum(max(widths[c::columns]) for c in range(columns))
            if total <= budget:
                return columns
        return 1

    def _fill_legend(self) -> None:
        entries = self._legend_entries()
        self.legend.set_entries(entries, self._legend_fit(entries))
        self._room_for_legend()

    def _room_for_legend(self) -> None:
        """Probabilities 0-1 fill the plot below the legend: the range's top is raised by the
        legend's height, so it no longer sits on the curves near 1 (the axis stays labelled 0-1)."""
        item = self.getPlotItem()
        if item is None:  # (being deleted)
            return
        height = item.vb.boundingRect().height()
        used = self.legend.boundingRect().height() + Legend.OFFSET[1] if self.legend.isVisible() else 0.0
        # (a plot too small to give the legend its own strip keeps 0-1, the legend over it)
        top = round(1.0 + used / (height - used), 2) if 0 < used < height / 2 else 1.0
        if top != self._top:
            self._top = top
            item.setYRange(0, top, padding=0.02)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if "shown" in self.__dict__:  # (resized in __init__ too)
            self._fill_legend()

    def set_threshold(self, value: float) -> None:
        self.threshold.setValue(value)

    def set_bracket(self, first: int | None, last: int | None) -> None:
        if first is None:
            self.bracket.hide()
            return
        # from the first frame's start to the last one's end (the next frame's timestamp)
        self.bracket.setRegion((self.timebase.time(first), self.timebase.time(last + 1)))
        self.bracket.show()


class AttentionTrack(_TimePlot):
    """Temporal attention each frame received, averaged over the windows that sampled it."""

    def __init__(self, parent=None) -> None:
        super().__init__("attention", parent)
        self.curve = _cached(self.getPlotItem().plot([], [], pen=pg.mkPen((255, 150, 60), width=1)))
        self._values = np.zeros(0)
        self._top = 0.0  # the y axis's top
        self.getPlotItem().enableAutoRange(y=False)

    def describe(self, seconds: float) -> str:
        frame = self.frame_at(seconds)
        i = frame - self.offset
        value = "" if not 0 <= i < len(self._values) else (
            ": not analysed yet" if np.isnan(self._values[i]) else f": attention {self._values[i]:.3f}")
        return f"frame {frame}{value}"

    def set_values(self, values: np.ndarray) -> None:
        self._values = values
        self.redraw()
        # the y axis to the next 0.05 above the highest value, set only when that changes: letting
        # it follow every update redrew the axis at each (once a second while windows arrive)
        finite = values[np.isfinite(values)] if len(values) else values
        top = max(0.05, float(np.ceil(finite.max() / 0.05) * 0.05)) if len(finite) else 1.0
        if top != self._top:
            self._top = top
            self.getPlotItem().setYRange(0, top, padding=0.02)
            self.label_y_axis(top)

    def redraw(self) -> None:
        if "_values" not in self.__dict__:  # (while __init__ runs)
            return
        # frames no window covers yet are NaN: gaps, not a line at zero
        x, y = envelope(self.frame_times(len(self._values)), self._values, self.columns())
        self.curve.setData(x, y, connect="finite")


def window_ticks(frames, most: int = 8) -> list[tuple[int, str]]:
    """The bar axis's labels: each frame number once, under the first bar of its run (near the
    clip's start or end a window repeats a frame: "0 0 0 0 2" read as five frames), at most
    about `most`, at least len(frames) // most bars apart."""
    step = max(1, len(frames) // most)
    ticks: list[tuple[int, str]] = []
    for i, frame in enumerate(frames):
        if (i == 0 or frame != frames[i - 1]) and (not ticks or i - ticks[-1][0] >= step):
            ticks.append((i, str(frame)))
    return ticks


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
        item.getAxis("left").enableAutoSIPrefix(False)
        item.setLabel("bottom", "frames of the shown window")
        for side in ("left", "bottom"):  # no grid, axes as pixmaps: see _TimePlot
            item.getAxis(side).setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(255, 150, 60))
        self.current = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(80, 170, 255))
        item.addItem(self.bars)
        item.addItem(self.current)
        self.frames: tuple[int, ...] = ()
        self.values = np.zeros(0)
        self._top: float | None = None  # the y range's top and the x range's bar count set last
        self._bars: int | None = None
        self.scene().sigMouseMoved.connect(lambda pos: _hover_text(item, pos, self.describe))
        self.setMinimumHeight(90)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        fit_axis_title(self, "attention", "attn")

    def describe(self, x: float) -> str:
        i = int(round(x))
        if 0 <= i < len(self.frames):
            repeated = self.frames.count(self.frames[i]) > 1
            return f"frame {self.frames[i]}: attention {self.values[i]:.3f}" + (
                " (repeated: the window pads past the clip's start or end)" if repeated else "")
        return ""

    def set_window(self, frames: tuple[int, ...] | None, values: np.ndarray | None, playhead: int) -> None:
        if not frames:
            self.bars.setOpts(x=[], height=[])
            self.current.setOpts(x=[], height=[])
            if self.frames:  # the last window's frame numbers go with it
                self.getPlotItem().getAxis("bottom").setTicks([[]])
            self.frames, self.values = (), np.zeros(0)
            return
        values = np.asarray(values, float)
        x = np.arange(len(frames))
        if tuple(frames) != self.frames or not np.array_equal(values, self.values):
            self.frames, self.values = tuple(frames), values
            self.bars.setOpts(x=x, height=values)
            self.getPlotItem().getAxis("bottom").setTicks([window_ticks(frames)])
            # the axes only when they change: each change redraws an axis (~3 ms), and a new
            # window is shown every few frames; the top in steps of half a power of ten
            top = max(float(values.max()) * 1.15, 1e-3)
            step = 10 ** np.floor(np.log10(top)) / 2
            top = float(np.ceil(top / step) * step)
            if top != self._top:
                self._top = top
                self.getPlotItem().setYRange(0, top * 1.06, padding=0)  # (room for the top tick's label)
            if len(frames) != self._bars:
                self._bars = len(frames)
                self.getPlotItem().setXRange(-0.6, len(frames) - 0.4, padding=0)
        nearest = int(np.argmin(np.abs(np.asarray(frames) - playhead)))
        if self.current.opts.get("x") is None or list(self.current.opts["x"]) != [nearest] \
                or list(self.current.opts["height"]) != [values[nearest]]:
            self.current.setOpts(x=[nearest], height=[values[nearest]])  # a repaint only when the bar moves


class RunTracks(QWidget):
    """One model's timeline and attention track, x-linked, with a caption naming the model."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.caption = ElidedLabel("")
        self.caption.setStyleSheet("color: #bbb; padding-left: 4px;")
        self.timeline = Timeline()
        self.attention = AttentionTrack()
        self.attention.setXLink(self.timeline)
        self.attention.setMaximumHeight(110)
        layout.addWidget(self.caption)
        layout.addWidget(self.timeline, 3)
        layout.addWidget(self.attention, 2)

    def set_extent(self, timebase: Timebase | float, frames: int, offset: int = 0) -> None:
        self.timeline.set_extent(timebase, frames, offset)
        attention = self.attention
        attention.timebase, attention.frames, attention.offset = self.timeline.timebase, frames, offset
        attention.cursor.setValue(attention.timebase.time(attention.playhead))

    def set_playhead(self, frame: int) -> None:
        self.timeline.set_playhead(frame)
        self.attention.set_playhead(frame)
