"""The transport bar under the video: the seek slider on a row of its own (so it keeps its
length in a narrow window), then the buttons, the time, the speed and the toggles. It draws
and forwards the user's intent; the workspace decides."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QProxyStyle, QSlider, QStyle,
                               QToolButton, QVBoxLayout, QWidget)

from .workspace import SPEEDS, format_time


class _ClickToSeekStyle(QProxyStyle):
    """A left click on the seek slider's groove jumps there (a page step would move the handle
    without seeking), as in video players."""

    def styleHint(self, hint, option=None, widget=None, returnData=None):
        if hint == QStyle.SH_Slider_AbsoluteSetButtons:
            return Qt.LeftButton.value
        return super().styleHint(hint, option, widget, returnData)


class TransportBar(QWidget):
    play_clicked = Signal()
    step_requested = Signal(int)
    seek_requested = Signal(int)
    speed_changed = Signal(float)
    loop_toggled = Signal(bool)
    overlay_toggled = Signal(bool)
    heatmap_toggled = Signal(bool)
    opacity_changed = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style = self.style()

        def button(icon, tip, slot):
            b = QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            return b

        self.play_button = button(QStyle.SP_MediaPlay, "Play / pause (Space)", self.play_clicked)
        back = button(QStyle.SP_MediaSeekBackward, "Previous frame (Left)", lambda: self.step_requested.emit(-1))
        forward = button(QStyle.SP_MediaSeekForward, "Next frame (Right)", lambda: self.step_requested.emit(1))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setMinimumWidth(120)
        self.slider.setStyle(_ClickToSeekStyle("Fusion"))
        self.slider.style().setParent(self.slider)  # the style lives as long as the slider
        self.slider.setToolTip("Seek (click or drag)")
        self.slider.sliderMoved.connect(self.seek_requested)
        self.slider.sliderPressed.connect(lambda: self.seek_requested.emit(self.slider.value()))
        self.time_label = QLabel("0:00.00 / 0:00.00")
        self.time_label.setToolTip("Time of the frame shown / length; the frame number is in the status bar")
        self.speed_box = QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.setToolTip("Playback speed ([ slower, ] faster)")
        self.speed_box.currentIndexChanged.connect(lambda i: self.speed_changed.emit(SPEEDS[i]))
        self.loop_box = QCheckBox("Loop")
        self.loop_box.setToolTip("Play again from the start at the end (L)")
        self.loop_box.toggled.connect(self.loop_toggled)
        self.overlay_box = QCheckBox("Overlay")
        self.overlay_box.setToolTip("The prediction over the video (O)")
        self.overlay_box.setChecked(True)
        self.overlay_box.toggled.connect(self.overlay_toggled)
        self.heatmap_box = QCheckBox("Heatmap")
        self.heatmap_box.setToolTip("Where the model looks: its spatial attention over the frame shown (H)")
        self.heatmap_box.toggled.connect(self.heatmap_toggled)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(5, 95)
        self.opacity.setValue(50)
        self.opacity.setFixedWidth(70)
        self.opacity.setToolTip("Heatmap opacity")
        self.opacity.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100))
        self.heatmap_box.toggled.connect(self.opacity.setEnabled)
        self.opacity.setEnabled(False)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for w in (back, self.play_button, forward, self.time_label):
            controls.addWidget(w)
        controls.addStretch(1)
        for w in (self.speed_box, self.loop_box, self.overlay_box, self.heatmap_box, self.opacity):
            controls.addWidget(w)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 2)
        layout.setSpacing(0)
        layout.addWidget(self.slider)
        layout.addLayout(controls)

    # -- drawn from the workspace's state -------------------------------------------------------------
    def set_playing(self, playing: bool) -> None:
        self.play_button.setIcon(self.style().standardIcon(QStyle.SP_MediaPause if playing else QStyle.SP_MediaPlay))

    def set_length(self, frames: int, seekable: bool = True) -> None:
        self.slider.setRange(0, max(0, frames - 1))
        self.slider.setEnabled(seekable)

    def set_position(self, frame: int, seconds: float, total_seconds: float | None) -> None:
        """total_seconds None: a live source."""
        if total_seconds is None:
            self.time_label.setText(f"live {format_time(seconds)}")
            return
        if frame > self.slider.maximum():
            self.slider.setMaximum(frame)
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(frame)
            self.slider.blockSignals(False)
        self.time_label.setText(f"{format_time(seconds)} / {format_time(total_seconds)}")

    def reset(self) -> None:
        self.slider.setRange(0, 0)
        self.time_label.setText("0:00.00 / 0:00.00")
        self.set_playing(False)

    def step_speed(self, direction: int) -> None:
        self.speed_box.setCurrentIndex(max(0, min(len(SPEEDS) - 1, self.speed_box.currentIndex() + direction)))

    @staticmethod
    def _quiet(box, value) -> None:
        """Agree with the menu without emitting again."""
        box.blockSignals(True)
        box.setChecked(value)
        box.blockSignals(False)

    def show_loop(self, on: bool) -> None:
        self._quiet(self.loop_box, on)

    def show_overlay(self, on: bool) -> None:
        self._quiet(self.overlay_box, on)

    def show_heatmap(self, on: bool) -> None:
        self._quiet(self.heatmap_box, on)
        self.opacity.setEnabled(on)
