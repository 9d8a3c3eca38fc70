"""The video, scaled to the view with its aspect kept, and the predictions drawn over it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

BAR_COLOUR = QColor(80, 170, 255)


class VideoView(QWidget):
    """Shows the newest frame given to `set_frame`; `set_overlay` sets the ranked predictions
    drawn in a translucent dark box (readable on light and on dark footage)."""

    double_clicked = Signal()
    resized = Signal(int, int)  # the view's size in device pixels: frames need not be larger

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(240, 135)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        self._array: np.ndarray | None = None  # keeps the QImage's memory alive
        self._ranked: list[tuple[str, float]] = []
        self._caption = ""
        self._state = ""  # "preparing", "stale": drawn as a badge
        self._message = "Open a video (File ▸ Open, or drop a file here)"
        self.show_overlay = True
        self.painted = 0
        self._overlay_key = None  # what the cached overlay was drawn for
        self._overlay = None  # (offset in the picture, image) of the overlay box

    def set_frame(self, image: np.ndarray) -> None:
        self._array = np.ascontiguousarray(image)
        h, w = self._array.shape[:2]
        self._image = QImage(self._array.data, w, h, 3 * w, QImage.Format_RGB888)
        self._message = ""
        self.update()

    def clear(self, message: str = "") -> None:
        self._image, self._array, self._message = None, None, message
        self._ranked, self._caption, self._state = [], "", ""
        self.update()

    def set_overlay(self, ranked: list[tuple[str, float]], caption: str = "", state: str = "") -> None:
        if (ranked, caption, state) != (self._ranked, self._caption, self._state):
            self._ranked, self._caption, self._state = ranked, caption, state
            self.update()

    def image_rect(self) -> QRectF:
        if self._image is None:
            return QRectF(self.rect())
        w, h = self._image.width(), self._image.height()
        scale = min(self.width() / w, self.height() / h)  # the reader already scaled to about this
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)

    def grab_frame(self) -> QImage | None:
        return self._image.copy() if self._image is not None else None

    def resizeEvent(self, event) -> None:
        ratio = self.devicePixelRatioF()
        self.resized.emit(int(self.width() * ratio), int(self.height() * ratio))
        super().resizeEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.double_clicked.emit()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 16, 18))
        if self._image is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self._message)
            return
        painter.setRenderHint(QPainter.SmoothPixmapTransform)
        target = self.image_rect()
        painter.drawImage(target, self._image)
        if self.show_overlay:
            overlay = self._overlay_image(target)
            if overlay is not None:
                painter.drawImage(overlay[0], overlay[1])
        self.painted += 1

    def _overlay_image(self, target: QRectF):
        """(where, image) of the overlay box, drawn once per ranking, caption, state and size:
        the ranking changes with the window shown, the frame under it 30 times a second (text
        drawn at every frame was a good part of each repaint)."""
        ratio = self.devicePixelRatioF()
        key = (tuple(self._ranked[:5]), self._caption, self._state, round(target.width()), round(target.height()), ratio)
        if key != self._overlay_key:
            self._overlay_key = key
            canvas = QImage(max(1, int(target.width() * ratio)), max(1, int(target.height() * ratio)),
                            QImage.Format_ARGB32_Premultiplied)
            canvas.setDevicePixelRatio(ratio)
            canvas.fill(Qt.transparent)
            painter = QPainter(canvas)
            box = self._draw_overlay(painter, QRectF(0, 0, target.width(), target.height()))
            painter.end()
            if box is None:
                self._overlay = None
            else:
                pixels = QRectF(box.left() * ratio, box.top() * ratio, box.width() * ratio, box.height() * ratio)
                self._overlay = (box.topLeft(), canvas.copy(pixels.toAlignedRect()))
        if self._overlay is None:
            return None
        return target.topLeft() + self._overlay[0], self._overlay[1]

    def _draw_overlay(self, painter: QPainter, target: QRectF) -> QRectF | None:
        painter.setRenderHint(QPainter.Antialiasing)
        # the text scales with the picture, by its narrower side (a portrait video is narrow)
        size = max(9.0, min(18.0, target.height() / 26, target.width() / 30))
        font = QFont(self.font())
        font.setPointSizeF(size)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        line = metrics.height() + 6
        rows = self._ranked[:5]
        label_w = max([metrics.horizontalAdvance(label) for label, _ in rows] + [80])
        bar_w = max(60.0, min(180.0, target.width() * 0.18))
        pad = 8
        percent_w = metrics.horizontalAdvance("100%") + 2
        tail = 16 + percent_w  # the gaps around the bar, and its percentage
        room = target.width() - 20 - 2 * pad  # the box stays inside the picture: bars shrink, then labels
        if rows and label_w + bar_w + tail > room:
            bar_w = max(24.0, room - label_w - tail)
            label_w = max(30.0, min(label_w, room - bar_w - tail))
        heads = [(text, colour) for text, colour in ((self._caption, QColor(200, 200, 200)),
                                                     (self._state, QColor(255, 200, 80))) if text]
        lines = len(rows) + len(heads)
        if not lines:
            return None
        # wide enough for the model's name and the state too, each on its line (within the picture)
        head_w = max((metrics.horizontalAdvance(text) for text, _ in heads), default=0) + 2  # (elidedText's rounding)
        width = max(label_w + bar_w + tail if rows else 0, min(head_w, room))
        box = QRectF(target.left() + 10, target.top() + 10, width + 2 * pad, lines * line + 2 * pad)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(0, 0, 0, 165))
        painter.drawRoundedRect(box, 6, 6)
        y = box.top() + pad
        for text, colour in heads:
            painter.setPen(colour)
            painter.drawText(QRectF(box.left() + pad, y, box.width() - 2 * pad, line), Qt.AlignVCenter,
                             metrics.elidedText(text, Qt.ElideRight, int(box.width() - 2 * pad)))
            y += line
        for i, (label, p) in enumerate(rows):
            x = box.left() + pad
            painter.setPen(QColor(255, 255, 255) if i == 0 else QColor(225, 225, 225))
            fits = metrics.horizontalAdvance(label) <= label_w
            painter.drawText(QRectF(x, y, label_w + (2 if fits else 0), line), Qt.AlignVCenter,
                             label if fits else metrics.elidedText(label, Qt.ElideRight, int(label_w)))
            bar = QRectF(x + label_w + 10, y + line * 0.25, bar_w, line * 0.5)
            painter.setPen(QPen(QColor(255, 255, 255, 90), 1))
            painter.setBrush(Qt.NoBrush)
            painter.drawRect(bar)
            painter.setPen(Qt.NoPen)
            painter.setBrush(BAR_COLOUR if i == 0 else QColor(150, 150, 160))
            painter.drawRect(QRectF(bar.left(), bar.top(), bar.width() * float(np.clip(p, 0, 1)), bar.height()))
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(QRectF(bar.right() + 6, y, percent_w, line), Qt.AlignVCenter, f"{p:.0%}")
            y += line
        return box
