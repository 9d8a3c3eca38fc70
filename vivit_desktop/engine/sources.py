"""Video sources: one interface over files, image folders and looping, yielding RGB frames with
their index and timestamp. No Qt.

Files: one decoder for the player and the analysis. `FileSource` decodes with PyAV (FFmpeg's
libraries; it also decodes AV1, which the OpenCV wheel cannot) and is seekable and
frame-accurate: frame N is the N-th decoded frame, and `frame_at(N)` gives the same picture and
the same timestamp as the sequential `frames()`, after any seek (it seeks to a keyframe before
the target and decodes forward, widening the margin when the landing is past the target).
OpenCV is kept only as a fallback for files PyAV cannot open (and for cameras and streams).

- Frame counts are counted while decoding: the container's count can lie (a cinepak AVI that
  claims 444 frames has 68). `frame_count` is known once the end has been met.
- Timestamps are the decoder's pts relative to the first frame, so a 0.5 fps video has frames
  2 s apart. Where a pts is missing or does not increase (packed B-frames in AVI, damaged
  stretches), the frame gets the previous time plus the nominal frame interval: times always
  increase, and a frame's time is fixed when it is first decoded.
- Damage: packets the decoder rejects are skipped and counted in `frames_skipped` (one frame
  each), and decoding reads on to the real end. When decoding stops before the container's end
  (the demuxer cannot get past damage, or the file is cut short), `ended_early` says so.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

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


def _reported_fps(cap, fallback: float = 30.0) -> float:
    """The frame rate a capture reports, or `fallback` where it reports none or nonsense
    (0, NaN, 90000 for some streams)."""
    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if fps and 1.0 <= fps <= 1000.0 else fallback


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
        self.fps = _reported_fps(self._cap)
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


class _LiveCapture(VideoSource):
    """A camera or a network stream: frames as they come, timed by the clock on arrival
    (a prediction is about now), indices counting up from 0."""

    is_live = True

    def __init__(self) -> None:
        super().__init__()
        self._cap = None
        self._t0: float | None = None
        self._last_stamp = -1.0

    def _stamp(self) -> float:
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
        self._last_stamp = max(now - self._t0, self._last_stamp + 1e-6)  # strictly increasing
        return self._last_stamp

    def _emit(self, image: np.ndarray) -> Frame:
        frame = Frame(self.frames_read, self._stamp(), _to_rgb(image))
        self.frames_read += 1
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class CameraSource(_LiveCapture):
    """A camera by index. Asks the driver for a buffer of one frame, so frames are not queued
    behind the newest; resolution and fps are requested and what the device gave is reported
    (`size`, `fps`). `capture` makes the device (for tests: anything with VideoCapture's methods)."""

    def __init__(self, index: int, width: int | None = None, height: int | None = None, fps: float | None = None,
                 capture: Callable[[int], object] | None = None, stall_s: float = 3.0) -> None:
        super().__init__()
        self.index, self.name, self.stall_s = index, f"camera {index}", stall_s
        cap = (capture or cv2.VideoCapture)(index)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {index} could not be opened: there is no such camera or another program "
                              "is using it. Try another index (0 is usually the built-in one) or close the other "
                              "program")
        self._cap = cap
        self.buffer_of_one = bool(cap.set(cv2.CAP_PROP_BUFFERSIZE, 1))
        if width and height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.fps = _reported_fps(cap, fallback=fps or 30.0)
        if width and height and self.size != (width, height):
            log.warning("camera %d gives %dx%d, not the %dx%d asked for", index, *self.size, width, height)
        if fps and abs(self.fps - fps) > 0.5:
            log.warning("camera %d runs at %.1f fps, not the %.1f asked for", index, self.fps, fps)

    def frames(self) -> Iterator[Frame]:
        stalled_since = None
        while self._cap is not None:
            ok, image = self._cap.read()
            if ok and image is not None:
                stalled_since = None
                yield self._emit(image)
                continue
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > self.stall_s:
                raise SourceError(f"camera {self.index} stopped delivering frames after {self.frames_read} "
                                  "(unplugged, or taken by another program?)")
            time.sleep(0.02)


# Low latency for network streams: RTSP over TCP (no lost UDP packets), no input buffering.
_STREAM_OPTIONS = "rtsp_transport;tcp|fflags;nobuffer|flags;low_delay"
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")


class StreamSource(_LiveCapture):
    """A network stream (rtsp://, http(s):// MJPEG or MPEG-TS, ...). When it drops, it reconnects,
    waiting longer between tries, for up to `reconnect_s` seconds; `reconnects` counts them."""

    def __init__(self, url: str, timeout_s: float = 10.0, reconnect_s: float = 30.0) -> None:
        super().__init__()
        self.url, self.timeout_s, self.reconnect_s = url, timeout_s, reconnect_s
        self.name = _redact(url)
        self.reconnects = 0
        self._cap = self._connect()
        if self._cap is None:
            raise SourceError(f"{self.name}: could not connect within {timeout_s:g} s. Check the address, that the "
                              "stream is running, and that no firewall blocks it")
        self.fps = _reported_fps(self._cap)

    def _connect(self):
        ms = int(self.timeout_s * 1000)
        previous = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
        os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = _STREAM_OPTIONS
        try:
            cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        finally:
            if previous is None:
                os.environ.pop("OPENCV_FFMPEG_CAPTURE_OPTIONS", None)
            else:
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = previous
        if cap.isOpened():
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # where the backend honours it
            return cap
        cap.release()
        return None

    def frames(self) -> Iterator[Frame]:
        while self._cap is not None:
            ok, image = self._cap.read()
            if ok and image is not None:
                yield self._emit(image)
                continue
            self._reconnect()

    def _reconnect(self) -> None:
        self.close()
        log.warning("%s: the stream dropped after %d frames; reconnecting", self.name, self.frames_read)
        deadline, pause = time.monotonic() + self.reconnect_s, 0.25
        while time.monotonic() < deadline:
            cap = self._connect()
            if cap is not None:
                self._cap = cap
                self.reconnects += 1
                log.warning("%s: reconnected", self.name)
                return
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 4.0)
        raise SourceError(f"{self.name}: the stream dropped after {self.frames_read} frames and did not come back "
                          f"within {self.reconnect_s:g} s")


def _redact(url: str) -> str:
    """The URL without a password, for messages and titles."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def paced(frames: Iterable[Frame], speed: float = 1.0) -> Iterator[Frame]:
    """Frames no sooner than their timestamps say: a file played as if it were live."""
    start = None
    for frame in frames:
        now = time.perf_counter()
        if start is None:
            start = now - frame.timestamp / speed
        delay = start + frame.timestamp / speed - now
        if delay > 0:
            time.sleep(delay)
        yield frame


def list_cameras(limit: int = 8) -> list[tuple[int, str]]:
    """(index, name) of the cameras present. On Linux, the video4linux capture devices (named by
    their driver); elsewhere, the indices OpenCV can open, tried in order."""
    found = []
    v4l = Path("/sys/class/video4linux")
    if sys.platform.startswith("linux"):
        for node in sorted(v4l.glob("video*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0)):
            index = int(re.sub(r"\D", "", node.name) or 0)
            try:
                name = (node / "name").read_text().strip()
            except OSError:
                name = node.name
            found.append((index, f"{name} (/dev/{node.name})"))
        return found[:limit]
    for index in range(limit):
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                found.append((index, f"Camera {index}"))
            else:
                break
        finally:
            cap.release()
    return found


def is_stream_url(spec: str) -> bool:
    return bool(re.match(rf"^({'|'.join(STREAM_SCHEMES)})://", str(spec), re.IGNORECASE))


def open_source(spec: str | Path | int, camera_size: tuple[int, int] | None = None,
                camera_fps: float | None = None) -> VideoSource:
    """A camera (an index: 0, 1, ...; `camera_size` and `camera_fps` are requested from it), a
    network stream URL, a folder of images or a video file."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and not Path(spec).exists()):
        width, height = camera_size or (None, None)
        return CameraSource(int(spec), width, height, camera_fps)
    if isinstance(spec, str) and is_stream_url(spec):
        return StreamSource(spec)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path)
    return FileSource(path)
