"""The reader thread: decodes the shown video and paces it.

For a file it follows the play clock (play, pause, seek, step, speed, loop) through the engine's
`FileSource`, the same decoder the analysis reads: playing decodes on from the frame shown, a
seek or step asks `frame_at(index)`, so the picture shown for frame N and its time (the frame's
timestamp) are the analysis's frame N and time. For a camera or a stream it takes frames as they
come from the engine's source and feeds each to the live analysis. It never touches a widget:
the newest frame waits in a one-frame slot and `frame_ready` says one is there, so a slow window
skips frames instead of queueing them (latest wins, as in the design's data flow).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PySide6.QtCore import QThread, Signal

from ..engine.sources import FileSource, Frame, SourceError, is_live_spec, open_source, paced
from .collector import lower_thread_priority

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShownFrame:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    index: int
    time: float


@dataclass(frozen=True)
class SourceInfo:
    name: str
    fps: float
    frame_count: int | None  # None for live sources; a container's claim for files until the end is met
    width: int
    height: int
    live: bool
    path: Path | None


class ReaderThread(QThread):
    """`spec`: a file path, a camera index, a stream URL, or a function returning a live
    VideoSource (a simulated camera). Commands (`play`, `pause`, `seek`, `step`, `set_speed`, `set_loop`, `stop`) may be called
    from any thread; they are queued and applied by the reader loop."""

    opened = Signal(object)  # SourceInfo
    frame_ready = Signal()  # a new frame is in the slot: take it with `take_frame()`
    position_changed = Signal(int, float)  # frame index, time of the frame just decoded
    playing_changed = Signal(bool)
    ended = Signal(int)  # a file's true frame count (counted while decoding), at its end
    errored = Signal(str)

    def __init__(self, spec, on_live_frame: Callable[[Frame], None] | None = None,
                 parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("vivit-reader")
        self.spec = spec
        self.on_live_frame = on_live_frame
        self._commands: queue.Queue = queue.Queue()
        self._slot: ShownFrame | None = None
        self._slot_lock = threading.Lock()
        self._stop = threading.Event()
        self.speed, self.loop, self.playing = 1.0, False, False
        self.info: SourceInfo | None = None
        self.decoded = 0
        self.display_size: tuple[int, int] | None = None  # (w, h) in device pixels, set by the window

    # -- commands (any thread) ----------------------------------------------------------------
    def play(self) -> None:
        self._commands.put(("play",))

    def pause(self) -> None:
        self._commands.put(("pause",))

    def toggle(self) -> None:
        self._commands.put(("toggle",))

    def seek(self, index: int) -> None:
        self._commands.put(("seek", int(index)))

    def step(self, frames: int) -> None:
        self._commands.put(("step", int(frames)))

    def set_speed(self, speed: float) -> None:
        self._commands.put(("speed", float(speed)))

    def set_loop(self, loop: bool) -> None:
        self._commands.put(("loop", bool(loop)))

    def stop(self, wait_ms: int = 5000) -> bool:
        self._stop.set()
        self._commands.put(("quit",))
        return self.wait(wait_ms)

    def take_frame(self) -> ShownFrame | None:
        with self._slot_lock:
            frame, self._slot = self._slot, None
        return frame

    def _show(self, image: np.ndarray, index: int, t: float) -> None:
        box = self.display_size
        if box is not None:  # scale here, off the GUI thread, to the size the view shows
            h, w = image.shape[:2]
            scale = min(box[0] / w, box[1] / h)
            if scale < 0.95:
                image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                                   interpolation=cv2.INTER_AREA)
        with self._slot_lock:
            empty = self._slot is None
            self._slot = ShownFrame(image, index, t)
        self.position_changed.emit(index, t)
        if empty:
            self.frame_ready.emit()

    # -- the loop (reader thread) -----------------------------------------------------------
    def run(self) -> None:
        # a little below the window's thread (and FFmpeg's decoding threads with it, which
        # inherit it): when both want a CPU the window's draws first, and the player, a few ms
        # a frame, still keeps its rate (the analysis process is far below both)
        lower_thread_priority(5)
        try:
            if is_live_spec(self.spec):
                self._run_live()
            else:
                self._run_file(Path(self.spec))
        except SourceError as e:
            self.errored.emit(str(e))
        except Exception as e:  # noqa: BLE001 - the thread must report, never die silently
            log.exception("reader failed")
            self.errored.emit(f"{self.spec}: {e}")

    def _run_live(self) -> None:
        source = self.spec() if callable(self.spec) else open_source(self.spec)
        with source:
            first = True
            self.playing = True
            # cameras deliver in real time; a looping file given as a simulated camera is paced
            for frame in paced(source.frames()):
                if first:
                    h, w = frame.image.shape[:2]
                    self.info = SourceInfo(source.name, source.fps, None, w, h, True, None)
                    self.opened.emit(self.info)
                    self.playing_changed.emit(True)
                    first = False
                self._drain_live_commands()
                if self._stop.is_set():
                    break
                if self.on_live_frame is not None:
                    self.on_live_frame(frame)
                if self.playing:  # paused: the camera runs on, the picture holds
                    self._show(frame.image, frame.index, frame.timestamp)
                self.decoded += 1
            if first and not self._stop.is_set():
                raise SourceError(f"{source.name}: gave no frames")

    def _drain_live_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            if command[0] in ("pause", "play", "toggle"):
                self.playing = {"pause": False, "play": True}.get(command[0], not self.playing)
                self.playing_changed.emit(self.playing)

    def _run_file(self, path: Path) -> None:
        with FileSource(path) as source:  # the engine's checks and messages (no such file, folder, codec...)
            first = source.frame_at(0)  # SourceError when no frame decodes
            h, w = first.image.shape[:2]
            self.info = SourceInfo(path.name, source.fps, source.claimed_frame_count, w, h, False, path)
            self.opened.emit(self.info)
            self._file_loop(source, first)

    def _file_loop(self, source: FileSource, first: Frame) -> None:
        """Show frames when their timestamps say (divided by the speed), and apply commands as
        they come. `upcoming` is the next frame, decoded ahead and waiting for its time."""
        shown, upcoming = first, None
        shown_at = time.perf_counter()
        clock = (shown_at, shown.timestamp)  # (wall time, video time) the play clock runs from
        end_reported = False
        self._show(shown.image, shown.index, shown.timestamp)

        def report_end() -> None:
            nonlocal end_reported
            if not end_reported:  # now the true frame count is known (containers' counts lie)
                end_reported = True
                self.ended.emit(source.frame_count)

        def frame_at(target: int) -> Frame:
            """Frame `target`, or the last one where the video ends before it."""
            try:
                return source.frame_at(max(0, target))
            except IndexError:
                report_end()
                return source.frame_at(source.frame_count - 1)

        def at_end() -> bool:
            return source.frame_count is not None and shown.index >= source.frame_count - 1

        while not self._stop.is_set():
            source.fit = self.display_size  # (the window's size, as it is now)
            timeout = None
            if self.playing:
                if upcoming is None:
                    try:
                        upcoming = source.frame_at(shown.index + 1)
                    except IndexError:  # the end
                        report_end()
                        if not self.loop or source.frame_count < 2:
                            self._set_playing(False)
                            continue
                        # again from the start, one frame interval after the last frame
                        upcoming = source.frame_at(0)
                        clock = (shown_at + 1.0 / (source.fps * self.speed), upcoming.timestamp)
                due = clock[0] + (upcoming.timestamp - clock[1]) / self.speed
                timeout = max(0.0, due - time.perf_counter())
            try:
                command = self._commands.get(timeout=timeout) if timeout != 0 else self._commands.get_nowait()
            except queue.Empty:
                command = None
            if command is None:  # the upcoming frame's time has come
                shown, upcoming = upcoming, None
                self._show(shown.image, shown.index, shown.timestamp)
                shown_at = time.perf_counter()
                self.decoded += 1
                if shown_at - due > 0.25:  # far behind (a slow disk or decoder): restart the clock
                    clock = (shown_at, shown.timestamp)
                continue
            kind = command[0]
            if kind == "quit":
                return
            if kind in ("play", "pause", "toggle"):
                playing = {"pause": False, "play": True}.get(kind, not self.playing)
                if playing and not self.playing and at_end():
                    shown, upcoming = frame_at(0), None  # play at the end starts again
                    self._show(shown.image, shown.index, shown.timestamp)
                self._set_playing(playing)
            elif kind in ("seek", "step"):
                target = command[1] if kind == "seek" else shown.index + command[1]
                shown, upcoming = frame_at(target), None
                self._show(shown.image, shown.index, shown.timestamp)
            elif kind == "speed":
                self.speed = max(0.05, command[1])
            elif kind == "loop":
                self.loop = command[1]
                continue
            shown_at = time.perf_counter()
            clock = (shown_at, shown.timestamp)

    def _set_playing(self, playing: bool) -> None:
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)
