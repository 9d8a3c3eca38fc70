"""A one-line label that, squeezed by a narrow window, ends its text with "…" instead of cutting
it off or widening the window (a QLabel's minimum width is its text's: a long model name made
the window wider than an 800x600 screen); its tooltip then gives the whole text."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QLabel


class ElidedLabel(QLabel):
    def __init__(self, text: str = "", tip: str = "") -> None:
        super().__init__(text)
        self._tip = tip
        self.setToolTip(tip)

    def minimumSizeHint(self) -> QSize:
        return QSize(min(8, super().minimumSizeHint().width()), super().minimumSizeHint().height())

    def setText(self, text: str) -> None:
        if text != self.text():
            super().setText(text)
            self._update_tip()

    def set_tip(self, tip: str) -> None:
        if tip != self._tip:
            self._tip = tip
            self._update_tip()

    def shown_text(self) -> str:
        """The text as drawn: elided to the label's width."""
        return self.fontMetrics().elidedText(self.text(), Qt.ElideRight, self.contentsRect().width())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_tip()

    def _update_tip(self) -> None:
        cut = self.shown_text() != self.text()
        tip = (f"{self.text()}\n{self._tip}" if self._tip else self.text()) if cut else self._tip
        if tip != self.toolTip():
            self.setToolTip(tip)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.WindowText))
        painter.drawText(self.contentsRect(), Qt.AlignLeft | Qt.AlignVCenter, self.shown_text())
