"""The reader thread: decodes the shown video and paces it.

For a file it follows the play clock (play, pause, seek, step, speed, loop) with its own
cv2.VideoCapture; for a camera or a stream it takes frames as they come from the engine's
source and feeds each to the live analysis. It never touches a widget: the newest frame waits
in a one-frame slot and `frame_ready` says one is there, so a slow window skips frames instead
of queueing them (latest wins, as in the design's data flow).
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

from ..engine.sources import Frame, SourceError, open_source, paced

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
        try:
            if callable(self.spec) or isinstance(self.spec, int) or str(self.spec).isdigit() or "://" in str(self.spec):
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
        if not path.exists():
            raise SourceError(f"{path}: no such file")
        probe = open_source(path)  # the engine's checks and messages (undecodable codecs and the like)
        fps, claimed = probe.fps, probe.claimed_frame_count
        probe.close()
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise SourceError(f"{path}: cannot be opened as a video")
        try:
            ok, image = cap.read()
            if not ok:
                raise SourceError(f"{path}: no frame could be decoded (unsupported codec or damaged file)")
            h, w = image.shape[:2]
            self.info = SourceInfo(path.name, fps, claimed or None, w, h, False, path)
            self.opened.emit(self.info)
            self._file_loop(cap, image, fps)
        finally:
            cap.release()

    def _file_loop(self, cap: cv2.VideoCapture, first: np.ndarray, fps: float) -> None:
        index = 0
        known_end: int | None = None  # frames counted to the end (containers' counts lie)
        self._show(cv2.cvtColor(first, cv2.COLOR_BGR2RGB), 0, 0.0)
        clock_start, clock_index = time.perf_counter(), 0

        def decode_at(target: int) -> int:
            nonlocal known_end
            target = max(0, target if known_end is None else min(target, known_end - 1))
            if target != index + 1:
                cap.set(cv2.CAP_PROP_POS_FRAMES, target)
            ok, image = cap.read()
            if not ok:
                if known_end is None and target == index + 1:
                    known_end = target  # read on to the end: now the true frame count is known
                return -1
            self._show(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), target, target / fps)
            return target

        while not self._stop.is_set():
            timeout = None
            if self.playing:
                due = clock_start + (index + 1 - clock_index) / (fps * self.speed)
                timeout = max(0.0, due - time.perf_counter())
            try:
                command = self._commands.get(timeout=timeout) if timeout != 0 else self._commands.get_nowait()
            except queue.Empty:
                command = None
            if command is None:  # time for the next frame
                got = decode_at(index + 1)
                if got < 0:
                    known_end = known_end or index + 1
                    self.ended.emit(known_end)
                    if self.loop:
                        got = decode_at(0)
                        index = max(got, 0)
                        clock_start, clock_index = time.perf_counter(), index
                    else:
                        self._set_playing(False)
                    continue
                index = got
                self.decoded += 1
                if time.perf_counter() - due > 0.25:  # far behind (a slow disk): restart the clock
                    clock_start, clock_index = time.perf_counter(), index
                continue
            kind = command[0]
            if kind == "quit":
                return
            if kind in ("play", "pause", "toggle"):
                playing = {"pause": False, "play": True}.get(kind, not self.playing)
                if playing and known_end is not None and index >= known_end - 1:
                    got = decode_at(0)  # play at the end starts again
                    index = max(got, 0)
                self._set_playing(playing)
                clock_start, clock_index = time.perf_counter(), index
            elif kind in ("seek", "step"):
                target = command[1] if kind == "seek" else index + command[1]
                if known_end is not None:
                    target = min(target, known_end - 1)
                got = decode_at(max(0, target))
                if got >= 0:
                    index = got
                clock_start, clock_index = time.perf_counter(), index
            elif kind == "speed":
                self.speed = max(0.05, command[1])
                clock_start, clock_index = time.perf_counter(), index
            elif kind == "loop":
                self.loop = command[1]

    def _set_playing(self, playing: bool) -> None:
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)
