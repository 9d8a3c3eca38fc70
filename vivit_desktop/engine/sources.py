"""Video sources: one interface over files, image folders and looping, yielding RGB frames with
their index and timestamp. No Qt.

Decoding uses OpenCV (the headless wheel). Frame counts are counted while decoding: the
container's count can lie (a cinepak AVI that claims 444 frames has 68). Timestamps come from
the decoder when they increase, else from the previous one plus the nominal frame interval
(some AVIs report the next frame's time, and 0 for the last).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# FFmpeg's own log (e.g. three lines per undecodable AV1 frame) would drown our one clear
# message; errors still reach the user through SourceError. Must be set before cv2 loads.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv",
                  ".ogv", ".3gp", ".gif"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
# A failed read in the middle of a file is retried this many times before it counts as the end.
_RETRIES_AFTER_BAD_FRAME = 8


class SourceError(ValueError):
    """A source that cannot be opened or read; the message says what and what to do."""


@dataclass(frozen=True)
class Frame:
    index: int  # 0-based position in decoding order
    timestamp: float  # seconds from the start
    image: np.ndarray  # (H, W, 3) uint8 RGB


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _fourcc(cap: cv2.VideoCapture) -> str:
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).strip("\x00 ")
    return text if text.isprintable() and text else "unknown"


class VideoSource:
    """Iterate `frames()` once; `frames_read` and `frames_skipped` are counted as it goes."""

    name: str = ""
    fps: float = 30.0
    is_live: bool = False
    claimed_frame_count: int | None = None

    def __init__(self) -> None:
        self.frames_read = 0
        self.frames_skipped = 0

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FileSource(VideoSource):
    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise SourceError(f"{self.path}: is a folder; open it as an image sequence or pick a video in it")
        if self.path.stat().st_size == 0:
            raise SourceError(f"{self.path}: the file is empty (0 bytes)")
        self._cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{self.path}: not a video this program can read (OpenCV/FFmpeg could not open it)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 1000.0 else 30.0
        claimed = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.claimed_frame_count = claimed if claimed > 0 else None
        self.codec = _fourcc(self._cap)

    def frames(self) -> Iterator[Frame]:
        cap, interval = self._cap, 1.0 / self.fps
        first_raw, last_time = 0.0, 0.0
        while True:
            ok, image = cap.read()
            if not ok:
                ok, image = self._recover()
                if not ok:
                    break
            raw = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if self.frames_read == 0:
                first_raw, stamp = raw, 0.0  # times are relative to the first frame
            else:
                stamp = raw - first_raw
                if not stamp > last_time:  # the decoder's time went backwards or stalled
                    stamp = last_time + interval
            last_time = stamp
            frame = Frame(self.frames_read, stamp, _to_rgb(image))
            self.frames_read += 1
            yield frame
        if self.frames_read == 0:
            raise SourceError(f"{self.path}: no frame could be decoded (codec {self.codec}); this build's decoder "
                              "does not support it or the file is damaged. Convert it, e.g. "
                              "`ffmpeg -i IN -c:v libx264 OUT.mp4`")

    def _recover(self) -> tuple[bool, np.ndarray | None]:
        """A failed read: a bad frame in the middle (skip it, count it) or the end."""
        for attempt in range(_RETRIES_AFTER_BAD_FRAME):
            ok, image = self._cap.read()
            if ok:
                self.frames_skipped += attempt + 1
                log.warning("%s: skipped %d undecodable frame(s) after frame %d", self.name, attempt + 1,
                            self.frames_read - 1)
                return True, image
        return False, None

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource(VideoSource):
    """A folder of images, in name order, as frames at `fps`."""

    def __init__(self, folder: str | Path, fps: float = 25.0) -> None:
        super().__init__()
        self.path = Path(folder)
        self.name = self.path.name
        self.fps = fps
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: no such folder")
        self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"{self.path}: holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.claimed_frame_count = len(self.files)

    def frames(self) -> Iterator[Frame]:
        for path in self.files:
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if image is None:
                self.frames_skipped += 1
                log.warning("%s: skipped unreadable image %s", self.name, path.name)
                continue
            if image.dtype != np.uint8:
                image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
            frame = Frame(self.frames_read, self.frames_read / self.fps, _to_rgb(image))
            self.frames_read += 1
            yield frame
        if self.frames_read == 0:
            raise SourceError(f"{self.path}: none of its images could be read")


class LoopingSource(VideoSource):
    """Plays a finite source again and again; indices and timestamps keep increasing."""

    is_live = True

    def __init__(self, factory, max_loops: int | None = None) -> None:
        super().__init__()
        self._factory, self.max_loops = factory, max_loops
        first = factory()
        self.name, self.fps = first.name, first.fps
        self._current = first

    def frames(self) -> Iterator[Frame]:
        loops, offset_index, offset_time = 0, 0, 0.0
        while self.max_loops is None or loops < self.max_loops:
            source = self._current or self._factory()
            last = None
            with source:
                for frame in source.frames():
                    last = Frame(offset_index + frame.index, offset_time + frame.timestamp, frame.image)
                    self.frames_read += 1
                    yield last
                self.frames_skipped += source.frames_skipped
            self._current = None
            if last is None:
                return
            offset_index, offset_time = last.index + 1, last.timestamp + 1.0 / self.fps
            loops += 1


def open_source(spec: str | Path) -> VideoSource:
    """A file or a folder of images."""
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path)
    return FileSource(path)
