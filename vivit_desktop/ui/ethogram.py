"""The ethogram: every class of the model as one row, its probability over time as colour (as
DeepEthogram and BORIS show behaviour), the labelled frames outlined on their class's row, the
playhead, click to seek, and a checkbox per row picking the classes the timeline draws as curves.

Fast with hundreds of classes and long videos: the probabilities are max-pooled over time once
per `set_data` into at most BASE_BINS bins (max, so an event shorter than a pixel stays
visible), then, per width, pooled to the pixels and painted as one 8-bit indexed image; a
repaint draws only the rows on screen."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QScrollArea, QToolTip, QVBoxLayout, QWidget

from ..engine.timebase import Timebase
from .elided import ElidedLabel
from .plots import class_colour, class_means, leading_classes
from .workspace import format_time

BASE_BINS = 4096  # time bins kept per class after set_data (more than any screen is wide)
BACKGROUND = QColor(24, 24, 28)
NAN_COLOUR = (88, 88, 94)  # frames not analysed: grey, unlike probability 0 (near black)
NAN_INDEX = 0  # colour index of NaN, the lowest: a max over a bin is NaN only if all of it is; 1..255 = p 0..1
LABEL_PEN = QColor(255, 255, 255)
PLAYHEAD_PEN = QColor(255, 255, 255)
NAMES_MAX = 260  # px: longer class names are elided (the tooltip shows them whole)
CHECK = 10  # px: the pick box left of each name


def _colour_table() -> list[int]:
    lut = pg.colormap.get("inferno").getLookupTable(nPts=255, alpha=False)  # (255, 3) uint8
    return [QColor(*NAN_COLOUR).rgb()] + [QColor(int(r), int(g), int(b)).rgb() for r, g, b in lut]


def colour_index(probs: np.ndarray) -> np.ndarray:
    """Probabilities -> uint8 colour indices: NaN -> NAN_INDEX (0), 0..1 -> 1..255. Monotone, so a
    max over indices is the index of the max, and NaN loses to any number."""
    with np.errstate(invalid="ignore"):
        index = np.rint(np.clip(probs, 0.0, 1.0) * 254.0) + 1.0
    return np.where(np.isnan(probs), NAN_INDEX, index).astype(np.uint8)


def pool(probs: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Max-pool (frames, classes) probabilities into at most `max_bins` time bins of equal length
    (the last may be shorter).

    Returns (bins, classes) float32 maxima (NaN only where every frame of the bin is NaN) and
    the bin edges in frames (bins + 1,)."""
    frames, classes = probs.shape
    length = -(-frames // max_bins)  # frames per bin
    bins = -(-frames // length)
    edges = np.minimum(np.arange(bins + 1, dtype=np.int64) * length, frames)
    out = np.empty((bins, classes), np.float32)
    whole = frames // length  # bins of `length` frames: a reshape, no gather (reduceat is ~10x slower)
    if length == 1:
        out[:] = probs
    else:
        # fmax: NaN only where all are NaN
        out[:whole] = np.fmax.reduce(probs[:whole * length].reshape(whole, length, classes), axis=1)
        if whole < bins:
            out[whole] = np.fmax.reduce(probs[whole * length:], axis=0)
    return out, edges


@dataclass
class Rows:
    """What `compute_rows` makes of a result for the ethogram: numpy only, so the window makes it
    on a thread of its own for a large result and hands it to `Ethogram.set_rows`."""

    probs: np.ndarray  # (frames, classes)
    labels: tuple[str, ...]
    frame_labels: np.ndarray  # (frames, heads) int64
    timebase: Timebase
    offset: int
    base: np.ndarray  # (classes, bins) uint8 colour index of the pooled maxima
    base_edges: np.ndarray  # (bins + 1,) the bins' edges in samples
    base_labelled: np.ndarray  # (classes, bins) a frame of the bin is labelled with the class
    means: np.ndarray  # (classes,)
    coverage: np.ndarray  # (classes,) share of frames labelled with the class
    order: np.ndarray  # all classes, sorted: coverage, then mean, then index

    @property
    def frames(self) -> int:
        return len(self.probs)


def time_samples(timebase: Timebase, offset: int, frames: int) -> np.ndarray:
    """The frames (relative to the data) on screen at evenly spaced times: one per nominal
    frame interval, at most BASE_BINS × 4; a variable-rate video's image is drawn from them."""
    start, end = timebase.time(offset), timebase.time(offset + max(frames, 1))
    count = int(min(max(frames, round((end - start) * timebase.fps)), BASE_BINS * 4))
    times = start + (np.arange(count) + 0.5) * (end - start) / count
    return np.clip(timebase.shown_at(times) - offset, 0, frames - 1)


def compute_rows(probs: np.ndarray | None, labels: tuple[str, ...], frame_labels: np.ndarray | None = None,
                 timebase: Timebase | float = 30.0, offset: int = 0) -> Rows:
    """The ethogram's rows for (frames, classes) probabilities (`Ethogram.set_data`'s
    arguments): each class's row pooled to at most BASE_BINS bins, its labelled bins, and the
    order of the rows. Raises ValueError for arrays of the wrong shape."""
    labels = tuple(labels)
    if probs is None or not probs.size:
        probs = np.zeros((0, len(labels)), np.float32)
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[1] != len(labels):
        raise ValueError(f"probs must be (frames, {len(labels)} classes), got {probs.shape}")
    frames, classes = probs.shape
    if frame_labels is None:
        frame_labels = np.full(frames, -1)
    frame_labels = np.asarray(frame_labels, np.int64)
    if frame_labels.ndim == 1:
        frame_labels = frame_labels[:, None]
    if len(frame_labels) != frames:
        raise ValueError(f"frame_labels has {len(frame_labels)} frames, probs {frames}")
    if not isinstance(timebase, Timebase):
        timebase = Timebase(float(timebase) if timebase and timebase > 0 else 30.0)
    # the image's columns are time: on a variable-rate video, frames are first sampled at even
    # times (each sample the frame on screen then), so the ethogram lines up with the plots
    sampled, sampled_labels = probs, frame_labels
    if frames and not timebase.constant:
        sampled_frames = time_samples(timebase, int(offset), frames)
        sampled, sampled_labels = probs[sampled_frames], frame_labels[sampled_frames]
    if frames:
        pooled, edges = pool(sampled, BASE_BINS)  # (bins, C) float32
        base = np.ascontiguousarray(colour_index(pooled).T)  # (C, bins): a class's row is contiguous
    else:
        base, edges = np.zeros((classes, 0), np.uint8), np.zeros(1, np.int64)
    means = class_means(probs)
    # labelled frames: per class, the fraction of frames (coverage) and the bins holding any
    bins = base.shape[1]
    coverage = np.zeros(classes)
    labelled = np.zeros((classes, bins), bool)
    if bins:
        bin_of_sample = np.repeat(np.arange(bins), np.diff(edges))
        for head in sampled_labels.T:
            valid = (head >= 0) & (head < classes)
            labelled[head[valid], bin_of_sample[valid]] = True
        for head in frame_labels.T:
            valid = (head >= 0) & (head < classes)
            coverage += np.bincount(head[valid], minlength=classes)[:classes]
        coverage /= frames
    order = np.lexsort((np.arange(classes), -means, -coverage))
    return Rows(probs, labels, frame_labels, timebase, int(offset), base, edges, labelled, means, coverage, order)


class Ethogram(QWidget):
    """Every class as a row: colour = probability over time (inferno; grey where not analysed),
    white outlines where the frame labels show that class, the playhead as a white line.

    Rows are sorted by coverage (the fraction of frames labelled with the class; ties by mean
    probability, then index), scroll vertically (rows of `row_height`, 16 px or the font's height
    + 3) with the names at the left (elided past NAMES_MAX px or 40% of the width), and
    the filter box hides rows whose name does not contain its text (case-insensitive). Clicking
    the image or the time axis seeks; clicking a name or its box picks or unpicks the class.
    Hovering shows class, time and probability.

    API (GUI thread only):
      set_data(probs, labels, frame_labels, fps, offset=0)
          probs: (F, C) float, NaN for frames not analysed; labels: C qualified names ("verb: cut");
          frame_labels: (F,) class index shown per frame or -1, or (F, H) one column per head
          (`AnalysisResult.frame_classes()` gives a result's);
          offset: the video frame of row 0 of probs (live streams), added to seeks.
          Picks reset to the default (the LEADING classes of highest mean probability, the
          timeline's own default) when the labels change, and follow that default on every
          call until the user picks something.
      set_playhead(frame), set_current(class_index | None): the class on screen, always picked.
      picked() -> list[int]: the classes to draw as curves: the picks in the order made, then
          the current class if not among them. Pass it unchanged to
          `Timeline.set_probs(probs, labels, classes=ethogram.picked())`: class k's curve gets
          `class_colour(k)`, the colour its name has here.
      set_picked(classes): replace the picks (as if the user made them).
      shown_classes() -> list[int]: the rows after sorting and filtering, top to bottom.
      set_caption(text): a line naming the model shown ("" hides it: one model, nothing to tell apart).
    Signals: seek_requested(int frame), picked_changed(list[int]) (whenever picked() changes)."""

    seek_requested = Signal(int)
    picked_changed = Signal(list)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.timebase = Timebase(30.0)
        self.offset = 0
        self.probs: np.ndarray | None = None
        self.labels: tuple[str, ...] = ()
        self.frame_labels = np.zeros((0, 1), np.int64)
        self.frames = 0
        self.playhead = 0
        self.current: int | None = None
        self._picks: list[int] = []
        self._user_picked = False
        self._last_emitted: list[int] = []
        self._base = np.zeros((0, 0), np.uint8)  # (C, bins) colour index of the pooled maxima
        self._base_edges = np.zeros(1, np.int64)
        self._base_labelled = np.zeros((0, 0), bool)  # (C, bins) a frame of the bin is labelled with C
        self._data_generation = 0  # bumped by set_data: the rows' per-width cache is stale
        self.coverage = np.zeros(0)
        self.means = np.zeros(0)
        self._order = np.zeros(0, np.int64)  # all classes, sorted
        self._shown = np.zeros(0, np.int64)  # after the filter
        self._table = _colour_table()

        self.filter_box = QLineEdit()
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.setPlaceholderText("filter classes")
        self.filter_box.textChanged.connect(self._apply_filter)
        self.header = _TimeHeader(self)
        self.rows = _Rows(self)
        self.scroll = QScrollArea()
        self.scroll.setFrameShape(QScrollArea.NoFrame)  # the rows start at x=0, under the header
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOn)  # the time axis keeps its width when filtering
        self.scroll.setWidget(self.rows)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(0)
        top.addWidget(self.filter_box)
        top.addWidget(self.header, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        self.caption = ElidedLabel("")  # the model shown, while another is compared (set_caption)
        self.caption.setStyleSheet("color: #bbb; padding-left: 4px;")  # as the plots' captions
        self.caption.hide()
        layout.addWidget(self.caption)
        layout.addLayout(top)
        layout.addWidget(self.scroll, 1)
        metrics = QFontMetrics(self.rows.font())
        self.row_height = max(16, metrics.height() + 3)
        self.names_width = 120
        self._names_natural = 120  # the longest name's width, box and padding included
        self.setMinimumHeight(60)

    # -- data ---------------------------------------------------------------------------------
    def set_data(self, probs: np.ndarray | None, labels: tuple[str, ...], frame_labels: np.ndarray | None = None,
                 timebase: Timebase | float = 30.0, offset: int = 0) -> None:
        """`timebase`: frame numbers to seconds (the workspace's; a frame rate for a constant-rate
        source). Columns are time, as the plots' x axis is: on a variable-rate video a frame held
        for a second is as wide as a second."""
        self.set_rows(compute_rows(probs, labels, frame_labels, timebase, offset))

    def set_rows(self, rows: Rows) -> None:
        """Show rows made by `compute_rows`."""
        new_labels = rows.labels != self.labels
        self.probs, self.labels, self.frame_labels, self.frames = rows.probs, rows.labels, rows.frame_labels, rows.frames
        self.timebase, self.offset = rows.timebase, rows.offset
        self._base, self._base_edges, self._base_labelled = rows.base, rows.base_edges, rows.base_labelled
        self._data_generation += 1
        self.means, self.coverage, self._order = rows.means, rows.coverage, rows.order
        classes = len(rows.labels)
        labels = rows.labels

        if new_labels:
            self._picks, self._user_picked = leading_classes(self.means), False
            if self.current is not None and self.current >= classes:
                self.current = None
            metrics = QFontMetrics(self.rows.font())
            longest = max((metrics.horizontalAdvance(name) for name in labels), default=60)
            self._names_natural = longest + CHECK + 14
            self.filter_box.setPlaceholderText(f"filter {classes} classes")
        elif not self._user_picked:
            self._picks = leading_classes(self.means)
        self._layout_names()
        self._apply_filter(self.filter_box.text())
        self._emit_picked()

    def set_caption(self, text: str) -> None:
        """A line over the rows naming the model shown ("" hides it)."""
        if text != self.caption.text():
            self.caption.setText(text)
            self.caption.setVisible(bool(text))

    def _layout_names(self) -> None:
        self.names_width = int(max(90, min(self._names_natural, NAMES_MAX, 0.4 * max(self.width(), 1))))
        self.filter_box.setFixedWidth(self.names_width)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        if needle:
            keep = np.array([needle in self.labels[k].lower() for k in self._order], bool)
            self._shown = self._order[keep] if len(self._order) else self._order
        else:
            self._shown = self._order
        self.filter_box.setToolTip(f"{len(self._shown)} of {len(self.labels)} classes shown; "
                                   "type part of a name to show only the classes that contain it")
        self.rows.setFixedHeight(max(len(self._shown), 1) * self.row_height)
        self.rows.invalidate()
        self.header.update()

    def shown_classes(self) -> list[int]:
        return [int(k) for k in self._shown]

    # -- picks --------------------------------------------------------------------------------
    def picked(self) -> list[int]:
        out = list(self._picks)
        if self.current is not None and self.current not in out:
            out.append(self.current)
        return out

    def set_picked(self, classes) -> None:
        self._picks = [int(k) for k in dict.fromkeys(classes) if 0 <= int(k) < len(self.labels)]
        self._user_picked = True
        self.rows.update()
        self._emit_picked()

    def toggle(self, class_index: int) -> None:
        picks = list(self._picks)
        if class_index in picks:
            picks.remove(class_index)
        else:
            picks.append(class_index)
        self.set_picked(picks)

    def set_current(self, class_index: int | None) -> None:
        if class_index is not None and not 0 <= class_index < len(self.labels):
            class_index = None
        if class_index == self.current:
            return
        self.current = class_index
        self.rows.update()
        self._emit_picked()

    def _emit_picked(self) -> None:
        picked = self.picked()
        if picked != self._last_emitted:
            self._last_emitted = picked
            self.picked_changed.emit(picked)

    # -- time <-> x ---------------------------------------------------------------------------
    def image_rect(self) -> QRect:
        """The image's columns in the rows widget's coordinates (x) ; the header shares them."""
        left = self.names_width
        return QRect(left, 0, max(self.rows.width() - left - 2, 1), self.rows.height())

    def span(self) -> tuple[float, float]:
        """The times (s) at the image's left and right edges: the first frame's start and the last one's end."""
        return self.timebase.time(self.offset), self.timebase.time(self.offset + max(self.frames, 1))

    def x_of_time(self, seconds: float) -> float:
        rect = self.image_rect()
        start, end = self.span()
        return rect.left() + (seconds - start) * rect.width() / max(end - start, 1e-9)

    def time_at(self, x: float) -> float:
        rect = self.image_rect()
        start, end = self.span()
        return start + (x - rect.left()) * (end - start) / rect.width()

    @property
    def fps(self) -> float:
        return self.timebase.fps

    def x_of_frame(self, frame: int) -> float:
        """Where a video frame is drawn (the middle of its column: of the time it is on screen),
        in rows/header coordinates."""
        return (self.x_of_time(self.timebase.time(frame)) + self.x_of_time(self.timebase.time(frame + 1))) / 2

    def x_of_playhead(self, frame: int) -> float:
        """Where the playhead is drawn with `frame` on screen: the frame's start (the left edge of
        its column), the instant of its timestamp, as the time axis above reads and
        as the plots' cursor marks it (`_TimePlot.set_playhead`), not the column's middle."""
        return self.x_of_time(self.timebase.time(frame))

    def frame_at(self, x: float) -> int:
        """The video frame under x (rows/header coordinates): on screen at that time; clamped to the data."""
        frame = self.timebase.shown_at(self.time_at(x))
        return min(max(frame, self.offset), self.offset + max(self.frames - 1, 0))

    def set_playhead(self, frame: int) -> None:
        if frame == self.playhead:
            return
        old = self.x_of_playhead(self.playhead)
        self.playhead = int(frame)
        new = self.x_of_playhead(self.playhead)
        for widget, shift in ((self.rows, 0), (self.header, self.names_width)):
            for x in (old, new):  # repaint the two strips, not the whole image
                widget.update(QRect(int(x - shift) - 6, 0, 13, widget.height()))

    def describe(self, row: int, x: float) -> str:
        """The hover text for a row (display order) at x."""
        if not 0 <= row < len(self._shown) or self.probs is None:
            return ""
        k = int(self._shown[row])
        name = self.labels[k]
        if x < self.names_width:
            if k in self._picks:
                state = "picked: click to unpick"
            elif k == self.current:
                state = "drawn while it is the class on screen: click to keep its curve"
            else:
                state = "click to draw its curve on the timeline"
            return (f"{name}\ncovers {self.coverage[k]:.1%} of the frames, mean probability {self.means[k]:.3f}\n"
                    + state)
        if not self.frames:
            return name
        frame = self.frame_at(x)
        text = f"{name}\n{format_time(self.timebase.time(frame))} (frame {frame})\n"
        value = self.probs[frame - self.offset, k]
        text += "not analysed" if np.isnan(value) else f"probability {value:.3f}"
        f0, f1 = self._pixel_frames(x)
        if f1 - f0 > 1:
            column = self.probs[f0:f1, k]
            if np.isfinite(column).any():
                text += f" (max {np.nanmax(column):.3f} over frames {f0 + self.offset}–{f1 - 1 + self.offset})"
        labelled = (self.frame_labels[frame - self.offset] == k).any()
        return text + ("\nlabelled with this class" if labelled else "")

    def _pixel_frames(self, x: float) -> tuple[int, int]:
        """The frames (relative to the data) pooled into the pixel column at x: [f0, f1)."""
        rect = self.image_rect()
        column = int(x - rect.left())
        f0 = self.frame_at(rect.left() + column) - self.offset
        f1 = max(self.frame_at(rect.left() + column + 1 - 1e-6) - self.offset + 1, f0 + 1)
        return max(f0, 0), min(f1, self.frames)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        old = self.names_width
        self._layout_names()
        if old != self.names_width:
            self.rows.invalidate()


class _Rows(QWidget):
    """The scrolled part: names with pick boxes, the image, label outlines and the playhead."""

    def __init__(self, ethogram: Ethogram) -> None:
        super().__init__()
        self.e = ethogram
        self.setMouseTracking(True)  # hover tooltips without a button held
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        self._labelled = np.zeros((0, 0), bool)  # (shown rows, image columns)
        self._key = None  # the width the image was made for; None: stale
        self._pooled_key = None
        self._all = self._all_labelled = np.zeros((0, 0), np.uint8)

    def sizeHint(self) -> QSize:
        return QSize(600, self.height())

    def invalidate(self) -> None:
        """The rows shown (filter) or the data changed: rebuild the image at the next paint."""
        self._key = None
        self.update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.invalidate()

    def _pooled(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(C, columns) colour indices and labelled flags of every class, pooled to at most `width`
        columns; cached per width and data (the filter only picks rows out of it)."""
        e = self.e
        key = (width, e._data_generation)
        if key != self._pooled_key:
            bins = e._base.shape[1]
            columns = min(bins, width)
            if columns == bins:
                self._all, self._all_labelled = e._base, e._base_labelled
            else:
                edges = (np.arange(columns, dtype=np.int64) * bins) // columns
                self._all = np.maximum.reduceat(e._base, edges, axis=1)  # max of indices = index of the max
                self._all_labelled = np.logical_or.reduceat(e._base_labelled, edges, axis=1)
            self._pooled_key = key
        return self._all, self._all_labelled

    def _ensure_image(self) -> None:
        """The image of the shown rows at the current width (cached until resize, data or filter)."""
        e = self.e
        width = e.image_rect().width()
        if width == self._key:
            return
        self._key = width
        if not e._base.size or not len(e._shown):
            self._image, self._labelled = None, np.zeros((0, 0), bool)
            return
        pooled, labelled = self._pooled(width)
        columns = pooled.shape[1]
        stride = (columns + 3) // 4 * 4  # QImage rows are 32-bit aligned
        index = np.zeros((len(e._shown), stride), np.uint8)
        index[:, :columns] = pooled[e._shown]
        image = QImage(index.data, columns, len(e._shown), stride, QImage.Format_Indexed8)
        image.setColorTable(e._table)
        self._image = image.copy()  # owns its pixels (index is freed on return)
        self._labelled = labelled[e._shown]

    def paintEvent(self, event) -> None:
        e = self.e
        self._ensure_image()
        painter = QPainter(self)
        exposed = event.rect()
        painter.fillRect(exposed, BACKGROUND)
        rh = e.row_height
        if not len(e._shown):
            painter.setPen(QColor(170, 170, 175))
            text = "no analysis yet" if not e.labels else f"no class contains “{e.filter_box.text()}”"
            painter.drawText(QRect(6, 0, self.width() - 12, rh), Qt.AlignVCenter | Qt.AlignLeft, text)
            return
        first = max(exposed.top() // rh, 0)
        last = min(exposed.bottom() // rh + 1, len(e._shown))
        image = e.image_rect()
        picked = e.picked()
        metrics = QFontMetrics(self.font())
        bold = QFont(self.font())
        bold.setBold(True)
        text_width = e.names_width - CHECK - 12
        columns = self._image.width() if self._image is not None else 1
        scale = image.width() / columns
        label_pen = QPen(LABEL_PEN)
        label_pen.setWidth(1)
        for row in range(first, last):
            k = int(e._shown[row])
            top = row * rh
            if k == e.current:
                painter.fillRect(QRect(0, top, e.names_width, rh), QColor(70, 70, 90))
            box = QRect(4, top + (rh - CHECK) // 2, CHECK, CHECK)
            if k in picked:
                colour = QColor(*class_colour(k))
                painter.fillRect(box, colour)
                painter.setPen(colour)
            else:
                painter.setPen(QColor(120, 120, 128))
                painter.drawRect(box.adjusted(0, 0, -1, -1))
                painter.setPen(QColor(200, 200, 205))
            painter.setFont(bold if k == e.current else self.font())
            painter.drawText(QRect(CHECK + 9, top, text_width, rh), Qt.AlignVCenter | Qt.AlignLeft,
                             metrics.elidedText(e.labels[k], Qt.ElideRight, text_width))
            if self._image is not None:
                # one image row stretched to the row's height less a 1-px gap between rows
                painter.drawImage(QRectF(image.left(), top, image.width(), rh - 1), self._image,
                                  QRectF(0, row, columns, 1))
                runs = self._runs(row)
                if len(runs):
                    painter.setPen(label_pen)
                    painter.setBrush(Qt.NoBrush)
                    for start, stop in runs:
                        x0 = image.left() + start * scale
                        painter.drawRect(QRectF(x0, top + 1, max((stop - start) * scale - 1, 1), rh - 4))
        if e.frames:
            painter.setPen(QPen(PLAYHEAD_PEN, 1.5))
            x = e.x_of_playhead(e.playhead)
            painter.drawLine(QPoint(int(x), exposed.top()), QPoint(int(x), exposed.bottom()))
        painter.end()

    def _runs(self, row: int) -> np.ndarray:
        """(n, 2) [start, stop) image columns of the row's labelled stretches."""
        flags = self._labelled[row] if row < len(self._labelled) else np.zeros(0, bool)
        if not flags.any():
            return np.zeros((0, 2), np.int64)
        padded = np.concatenate(([False], flags, [False])).astype(np.int8)
        change = np.flatnonzero(np.diff(padded))
        return change.reshape(-1, 2)

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.LeftButton:
            return super().mousePressEvent(event)
        e = self.e
        pos = event.position()
        row = int(pos.y() // e.row_height)
        if pos.x() < e.names_width:
            if 0 <= row < len(e._shown):
                e.toggle(int(e._shown[row]))
        elif e.frames:
            e.seek_requested.emit(e.frame_at(pos.x()))

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        text = self.e.describe(int(pos.y() // self.e.row_height), pos.x())
        self.setToolTip(text)
        if QToolTip.isVisible():
            QToolTip.showText(event.globalPosition().toPoint(), text, self)
        super().mouseMoveEvent(event)


class _TimeHeader(QWidget):
    """The time axis over the image, with the playhead; click to seek."""

    STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)

    def __init__(self, ethogram: Ethogram) -> None:
        super().__init__()
        self.e = ethogram
        self.setMouseTracking(True)
        self.setFixedHeight(max(QFontMetrics(self.font()).height() + 6, 20))

    def _origin(self) -> int:
        """x of the header in rows coordinates: the header starts right of the filter box."""
        return self.e.names_width

    def paintEvent(self, event) -> None:
        e = self.e
        painter = QPainter(self)
        painter.fillRect(event.rect(), BACKGROUND)
        if not e.frames:
            return
        origin = self._origin()
        image = e.image_rect()
        timebase = e.timebase
        start, end = timebase.time(e.offset), timebase.time(e.offset + e.frames)
        duration = max(end - start, 1e-6)
        step = next((s for s in self.STEPS if s * image.width() / duration >= 80), self.STEPS[-1])
        painter.setPen(QColor(170, 170, 175))
        metrics = QFontMetrics(self.font())
        t, free = np.ceil(start / step) * step, -1e9  # free: where the last label ends
        while t <= end:
            x = e.x_of_time(t) - origin
            painter.drawLine(int(x), self.height() - 4, int(x), self.height())
            text = format_time(t).removesuffix(".00")
            width = metrics.horizontalAdvance(text)
            if x + width + 3 < self.width() and x > free:
                painter.drawText(int(x) + 3, self.height() - 5, text)
                free = x + width + 6
            t += step
        x = e.x_of_playhead(e.playhead) - origin
        painter.setPen(QPen(PLAYHEAD_PEN, 1.5))
        painter.drawLine(QPoint(int(x), 0), QPoint(int(x), self.height()))
        painter.end()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self.e.frames:
            self.e.seek_requested.emit(self.e.frame_at(event.position().x() + self._origin()))

    def mouseMoveEvent(self, event) -> None:
        e = self.e
        if e.frames:
            frame = e.frame_at(event.position().x() + self._origin())
            self.setToolTip(f"{format_time(e.timebase.time(frame))} (frame {frame}): click to go there")
