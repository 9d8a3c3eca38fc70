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
  each; after damage, also the packets no frame came out with), and decoding reads on to the
  real end (skips are logged at INFO: the result's summary reports them). When decoding stops
  before the container's end (the demuxer cannot get past damage, or the file is cut short),
  `ended_early` says so.
"""

from __future__ import annotations

import bisect
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

from ..errors import VivitError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv",
                  ".ogv", ".3gp", ".gif"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
# A failed read in the middle of a file is retried this many times before it counts as the end.
_RETRIES_AFTER_BAD_FRAME = 8


class SourceError(ValueError, VivitError):
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


_MIN_FPS, _MAX_FPS = 0.01, 1000.0  # declared rates outside this are missing or nonsense (0, NaN, 90000)
_FALLBACK_FPS = 30.0


def _sane_fps(value) -> float | None:
    """A declared frame rate as a float, or None where it is missing or nonsense. Slow rates are
    real (time-lapse, surveillance: 0.5 or 0.1 fps) and kept as they are."""
    try:
        fps = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return fps if _MIN_FPS <= fps <= _MAX_FPS else None


def _reported_fps(cap, fallback: float = _FALLBACK_FPS) -> float:
    """The frame rate an OpenCV capture reports, or `fallback` where it reports none or nonsense."""
    return _sane_fps(cap.get(cv2.CAP_PROP_FPS)) or fallback


def _fourcc(cap: cv2.VideoCapture) -> str:
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).strip("\x00 ")
    return text if text.isprintable() and text else "unknown"


class VideoSource:
    """Iterate `frames()` once; `frames_read` and `frames_skipped` are counted as it goes.
    Seekable sources (`seekable`) also answer `frame_at(index)`."""

    name: str = ""
    fps: float = 30.0
    is_live: bool = False
    seekable: bool = False
    claimed_frame_count: int | None = None
    ended_early: str | None = None  # why decoding stopped before the container's end, once it has

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


class _CannotOpen(Exception):
    """The decoder cannot open this file (the next one is tried)."""


# A decoded picture, as a backend gives it: (pts in the backend's time base or None, whether the
# decoder marks it a keyframe, the backend's own frame object).
_Picture = tuple


class _PyAVDecoder:
    """Demuxes and decodes a file's first video stream with PyAV, reading on past damage."""

    _DEMUX_RETRIES = 32  # demuxer errors in a row (no packet between) before it counts as the end

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import av  # imported here: only file sources need it, and the window starts faster

        from av.video.reformatter import VideoReformatter

        self._av, self.path, self._threads = av, path, threads
        self._container = None
        self._reformatter = VideoReformatter()
        try:
            self._open()
        except av.FFmpegError as e:
            raise _CannotOpen(f"FFmpeg: {e.strerror or type(e).__name__}") from e
        stream = self._stream
        context = stream.codec_context
        if context is None:
            self.close()
            raise _CannotOpen("no decoder for its video stream")
        self.codec = context.codec.canonical_name if context.codec is not None else "unknown"
        self.time_base = float(stream.time_base or 0) or 1 / 90000  # seconds per pts tick
        self.fps = (_sane_fps(stream.average_rate) or _sane_fps(stream.guessed_rate)
                    or _sane_fps(stream.base_rate))
        self.duration = self._declared_duration()
        if self.fps is None and stream.frames and self.duration:
            self.fps = _sane_fps(stream.frames / self.duration)
        claimed = stream.frames or (round(self.duration * self.fps) if self.duration and self.fps else 0)
        self.claimed_frame_count = claimed if claimed > 0 else None
        self.rejected = 0  # packets the decoder rejected since the last picture
        self.rejected_total = 0
        self.sent_pts: set[int] = set()  # every packet's pts: a frame should come out with each
        self.demux_failure: str | None = None  # set when the demuxer could not get past an error

    def _open(self) -> None:
        self.close()
        self._container = self._av.open(str(self.path))
        videos = self._container.streams.video
        if not videos:
            self.close()
            raise _CannotOpen("it holds no video stream")
        self._stream = videos[0]
        if self._threads is None:
            self._stream.thread_type = "AUTO"  # FFmpeg's threads, as many as there are cores
        else:
            self._stream.codec_context.thread_count = self._threads

    def _declared_duration(self) -> float | None:
        """Seconds the container's header says the video stream lasts, for containers whose
        header knows (MP4/MOV, Matroska/WebM); elsewhere FFmpeg may only estimate it from the
        bitrate (MPEG-TS, AVI), which is no measure of where a file should end."""
        stream, container = self._stream, self._container
        kind = container.format.name
        if kind.startswith("mov,") and stream.duration and stream.time_base:
            return stream.duration * float(stream.time_base)
        if kind.startswith("matroska"):
            try:
                text = stream.metadata.get("DURATION")  # "00:00:10.381000000"
                h, m, sec = text.split(":")
                return int(h) * 3600 + int(m) * 60 + float(sec)
            except (AttributeError, UnicodeDecodeError, ValueError):  # no tag, or not one we can read
                pass
            if container.duration and len(container.streams) == 1:
                return container.duration / 1_000_000
        return None

    def restart(self) -> Iterator[_Picture]:
        """Decode from the start with a fresh decoder: exactly the sequential decode."""
        self._open()
        self.rejected, self.demux_failure = 0, None
        return self._pictures()

    def seek(self, pts: int) -> Iterator[_Picture] | None:
        """Decode from a keyframe at or before `pts` (as the demuxer finds it); None where the
        demuxer cannot seek this file."""
        try:
            self._container.seek(int(pts), stream=self._stream, backward=True)
        except self._av.FFmpegError:
            return None
        self.rejected, self.demux_failure = 0, None
        return self._pictures()

    def _pictures(self) -> Iterator[_Picture]:
        av, container, stream = self._av, self._container, self._stream
        failures = 0
        while True:
            try:
                for packet in container.demux(stream):
                    failures = 0
                    if packet.size and packet.pts is not None and not packet.is_discard:
                        self.sent_pts.add(packet.pts)
                    try:
                        decoded = packet.decode()
                    except av.FFmpegError:  # a damaged packet: its frame is lost, the next may decode
                        self.rejected += 1
                        self.rejected_total += 1
                        continue
                    for frame in decoded:
                        yield frame.pts, bool(frame.key_frame), frame
                return  # the demuxer met the end, and the last (empty) packet drained the decoder
            except av.FFmpegError as e:  # the demuxer itself: try to read on past the damage
                failures += 1
                if failures > self._DEMUX_RETRIES:
                    self.demux_failure = f"the demuxer could not read past damage ({e})"
                    break
        try:  # what the decoder still holds
            for frame in stream.codec_context.decode(None):
                yield frame.pts, bool(frame.key_frame), frame
        except av.FFmpegError:
            pass

    def to_rgb(self, frame, fit: tuple[int, int] | None = None) -> np.ndarray:
        """The picture as RGB; `fit` (w, h): no larger than that, scaled down (keeping its
        aspect) in the same swscale pass that converts it (see FileSource.fit)."""
        turns = round((frame.rotation or 0) / 90) % 4  # a phone's rotation tag, in degrees counter-clockwise
        size = {}
        if fit is not None:
            box_w, box_h = fit if turns % 2 == 0 else fit[::-1]  # the box as the stored picture lies
            scale = min(box_w / frame.width, box_h / frame.height)
            if scale < 0.95:
                size = dict(width=max(2, round(frame.width * scale)), height=max(2, round(frame.height * scale)),
                            interpolation="AREA")
        # one reformatter for the whole file: `frame.to_ndarray` would set up a new conversion
        # for every frame, which halves the decoding speed
        image = self._reformatter.reformat(frame, format="rgb24", **size).to_ndarray()
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


class _OpenCVDecoder:
    """The fallback for files PyAV cannot open: OpenCV reads forward only (a seek restarts from
    the first frame and decodes forward, which is exact but slow)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cap = None
        self._open()
        cap = self._cap
        self.codec = _fourcc(cap)
        self.time_base = 1 / 1_000_000  # pts in microseconds, from the capture's position in ms
        self.fps = _sane_fps(cap.get(cv2.CAP_PROP_FPS))
        claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.claimed_frame_count = claimed if claimed > 0 else None
        self.duration = None
        self.rejected, self.rejected_total, self.demux_failure = 0, 0, None
        self.sent_pts: set[int] = set()  # OpenCV gives no packets

    def _open(self) -> None:
        self.close()
        self._cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self.close()
            raise _CannotOpen("OpenCV/FFmpeg could not open it")

    def restart(self) -> Iterator[_Picture]:
        self._open()
        self.rejected = 0
        return self._pictures()

    def seek(self, pts: int) -> None:
        return None  # OpenCV's seeking is not frame-accurate: the caller starts again instead

    def _pictures(self) -> Iterator[_Picture]:
        cap = self._cap
        while True:
            ok, image = cap.read()
            if not ok:  # a bad frame in the middle (skip it, count it) or the end
                for _ in range(_RETRIES_AFTER_BAD_FRAME):
                    self.rejected += 1
                    self.rejected_total += 1
                    ok, image = cap.read()
                    if ok:
                        break
                else:
                    self.rejected = 0  # reads that fail at the end are no frames lost
                    return
            yield round(cap.get(cv2.CAP_PROP_POS_MSEC) * 1000), False, image

    @staticmethod
    def to_rgb(image: np.ndarray, fit: tuple[int, int] | None = None) -> np.ndarray:
        return _to_rgb(image)  # (full size: `fit` is a hint the caller's own scaling covers)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _mp4_without_index(path: Path) -> str:
    """Why an MP4/MOV (ISO base media) file that FFmpeg cannot open is incomplete, or "": its
    top-level boxes, walked by their sizes, hold no 'moov' (the index of the samples, which
    cameras and downloads write last) or run past the end of the file."""
    size, boxes, at = path.stat().st_size, [], 0
    with open(path, "rb") as f:
        while at + 8 <= size and len(boxes) < 1000:
            f.seek(at)
            head = f.read(16)
            length, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if length == 1 and len(head) == 16:
                length = int.from_bytes(head[8:16], "big")
            elif length == 0:
                length = size - at
            if length < 8 or not kind.isalnum() and kind != b"free":
                break
            boxes.append(kind)
            if at + length > size:
                if kind == b"moov":
                    return "its index ('moov' box) is cut off"
                break
            at += length
    if not boxes or boxes[0] != b"ftyp" or b"moov" in boxes:
        return ""
    return "it has no index ('moov' box), only " + ", ".join(repr(k.decode("latin-1")) for k in boxes[:4]) + \
        (" ..." if len(boxes) > 4 else "")


class FileSource(VideoSource):
    """A video file, seekable and frame-accurate (see the module's docstring).

    `frames(start=0)` yields frames in order; `frame_at(index)` returns one (IndexError past the
    end). Both share one decoder and one index of what has been decoded (each frame's pts,
    timestamp and whether it is a keyframe), built as decoding first reaches a frame: a seek
    behind that frontier goes to the keyframe before the target, one beyond it decodes forward
    from the frontier. `decoder`: "auto" (PyAV, OpenCV for what PyAV cannot open), "pyav" or
    "opencv" (the benchmark and tests use these)."""

    seekable = True
    _WIDEN_TRIES = 3  # seeks to ever earlier keyframes before decoding from the start
    _UNPLACED_LIMIT = 512  # pictures after a seek that match no known frame before it counts as lost

    def __init__(self, path: str | Path, decoder: str = "auto", threads: int | None = None) -> None:
        """`threads`: FFmpeg's decoding threads (None: as many as there are cores; the window's
        analysis decodes on one, to leave the CPU to the player and the window)."""
        super().__init__()
        self.path = Path(path)
        self.threads = threads
        # (w, h) the pictures need be no larger than: the player sets the size it shows them at,
        # and a larger picture is scaled down as it is converted to RGB (one swscale pass; the
        # window's 720p playback spent ~15 % of a core on converting at full size, then
        # cv2.resize). None (the analysis, exports): full size. A hint: OpenCV's fallback ignores it
        self.fit: tuple[int, int] | None = None
        self.name = self.path.name
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise SourceError(f"{self.path}: is a folder; open it as an image sequence or pick a video in it")
        if not self.path.is_file():
            raise SourceError(f"{self.path}: is not a file but a device, a pipe or a socket; save the video to a "
                              "file and open that")
        if self.path.stat().st_size == 0:
            raise SourceError(f"{self.path}: the file is empty (0 bytes)")
        if decoder not in ("auto", "pyav", "opencv"):
            raise ValueError(f"decoder {decoder!r}: use auto, pyav or opencv")
        self._decoder = self._open_decoder(decoder)
        d = self._decoder
        self.decoder = "pyav" if isinstance(d, _PyAVDecoder) else "opencv"
        self.codec, self.claimed_frame_count = d.codec, d.claimed_frame_count
        if d.fps is None:
            log.warning("%s: the file declares no usable frame rate; timing frames without a timestamp at "
                        "%g fps", self.name, _FALLBACK_FPS)
        self.fps = d.fps or _FALLBACK_FPS
        self.frame_count: int | None = None  # known once decoding has met the end
        # the index of what has been decoded, in frame order (the "frontier" is its length)
        self._pts: list[int | None] = []
        self._times: list[float] = []
        self._keys: list[int] = []  # indices of the frames the decoder marked as keyframes, in order
        self._key_set: set[int] = set()
        self._by_pts: dict[int, int] = {}  # pts -> index, for pts seen exactly once
        self._shared_pts: set[int] = set()  # pts seen more than once: they identify no frame
        self._origin: float | None = None  # seconds of the first pts, timestamps count from it
        # where the decoder is: the index its next picture has (None: not yet known after a
        # seek), and whether its pictures equal the sequential decode's (after a seek: once it
        # has passed a keyframe)
        self._pictures: Iterator[_Picture] | None = None
        self._next: int | None = None
        self._trusted = False
        self._seek_failures = 0  # seeks that landed past the target or did not match (the benchmark shows them)
        self._margin = 0  # how many keyframes before the target's a seek goes to; widened when one lands late

    def _open_decoder(self, which: str):
        """PyAV, or OpenCV where PyAV cannot open the file; the message gives the first reason."""
        reasons = []
        for kind in (("pyav", "opencv") if which == "auto" else (which,)):
            try:
                return _PyAVDecoder(self.path, self.threads) if kind == "pyav" else _OpenCVDecoder(self.path)
            except _CannotOpen as e:
                reasons.append(str(e))
        missing = _mp4_without_index(self.path)
        if missing:
            raise SourceError(f"{self.path}: the file is incomplete: {missing}. That happens when a recording or a "
                              "download is interrupted; converting it will not help. Use a complete copy, or a "
                              "repair tool for cut-off MP4 files (e.g. untrunc, with a good file from the same "
                              "camera).")
        raise SourceError(f"{self.path}: not a video this program can read ({reasons[0]}). If it plays "
                          "elsewhere, convert it, e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`")

    # -- reading ----------------------------------------------------------------------------------
    def frames(self, start: int = 0) -> Iterator[Frame]:
        """Frames `start`, `start`+1, ... to the end, in order."""
        index = start
        while True:
            try:
                frame = self.frame_at(index)
            except IndexError:
                return
            self.frames_read += 1
            yield frame
            index += 1

    def frame_at(self, index: int) -> Frame:
        """Frame `index` (0-based): the same picture and timestamp as the sequential `frames()`
        gives it. IndexError past the last frame (`frame_count` is then known); SourceError if
        the file has no decodable frame at all."""
        if index < 0:
            raise IndexError(f"frame {index}: indices start at 0")
        if self.frame_count is not None and index >= self.frame_count:
            raise IndexError(f"frame {index}: {self.name} has {self.frame_count} frames")
        self._position_for(index)
        for attempt in range(self._WIDEN_TRIES + 2):
            found = self._decode_to(index)
            if found is not None:
                return found
            if self.frame_count is not None and index >= self.frame_count:
                if self.frame_count == 0:
                    raise SourceError(f"{self.path}: no frame could be decoded (codec {self.codec}); this build's "
                                      "decoder does not support it or the file is damaged. Convert it, e.g. "
                                      "`ffmpeg -i IN -c:v libx264 OUT.mp4`")
                raise IndexError(f"frame {index}: {self.name} has {self.frame_count} frames")
            # the seek landed past the target, or what it decoded did not match the index: seek
            # further back from now on (this file's demuxer lands late), in the end from the start
            self._seek_failures += 1
            self._margin = min(2 * self._margin + 1, 15)
            self._position_for(index, moved=True, from_start=attempt + 1 >= self._WIDEN_TRIES)
        raise SourceError(f"{self.path}: frame {index} does not decode the same way twice; the file is damaged. "
                          "Convert it, e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`")

    def _position_for(self, target: int, moved: bool = False, from_start: bool = False) -> None:
        """Put the decoder where its pictures lead to `target` the cheapest way: on from where
        it is, from a keyframe `self._margin` keyframes before the target, or from the start.
        `moved`: where it is will not do (the last try failed)."""
        last = min(target, len(self._pts) - 1)  # seek within what has been decoded
        if not moved and self._pictures is not None and self._trusted and self._next is not None \
                and self._next <= target:
            keyframe = self._keyframe_before(last)
            if keyframe is None or keyframe <= self._next:
                return  # decoding on from here is no longer than from the keyframe before the target
        keyframe = self._keyframe_before(last, back=self._margin)
        pts = self._pts[keyframe] if keyframe is not None else None
        self._drop_pictures()
        if not (from_start or keyframe is None or keyframe == 0 or pts is None):
            self._pictures, self._next, self._trusted = self._decoder.seek(pts), None, False
        if self._pictures is None:
            self._pictures, self._next, self._trusted = self._decoder.restart(), 0, True

    def _keyframe_before(self, index: int, back: int = 0) -> int | None:
        """The keyframe at or before `index`, or `back` keyframes before that one."""
        if index < 0 or not self._keys:
            return None
        at = bisect.bisect_right(self._keys, index) - 1 - back
        return self._keys[at] if at >= 0 else None

    def _decode_to(self, target: int) -> Frame | None:
        """Decode from where the decoder is to `target`, extending the index past the frontier.
        None when the target could not be reached this way (the end, or an unreliable seek)."""
        decoder, unplaced = self._decoder, 0
        for pts, key, raw in self._pictures:
            index = self._next
            if index is None:  # just after a seek: find where we are by the pts
                index = self._by_pts.get(pts) if pts is not None else None
                if index is None:
                    unplaced += 1  # a leading picture the sequential decode never showed with this pts
                    if unplaced > self._UNPLACED_LIMIT:
                        return self._lost()
                    continue
                if index > target:
                    return self._lost()  # landed past the target
            frontier = len(self._pts)
            if index < frontier:
                if pts != self._pts[index] and pts is not None and self._pts[index] is not None:
                    return self._lost()  # not the picture the sequential decode had here
                decoder.rejected = 0  # damage behind the frontier was counted when first met
                if key and not self._trusted and index in self._key_set:
                    self._trusted = True
            elif index == frontier:
                if not self._trusted:
                    return self._lost()
                self._extend(pts, key)
            else:
                return self._lost()
            self._next = index + 1
            if index == target:
                if not self._trusted:
                    return self._lost()  # no keyframe between the landing and the target
                return Frame(index, self._times[index], decoder.to_rgb(raw, self.fit))
        # the decoder met the end
        if self._next == len(self._pts) and self._trusted:
            self._end()
        else:
            self._drop_pictures()
        return None

    def _lost(self) -> None:
        self._drop_pictures()
        self._next, self._trusted = None, False
        return None

    def _drop_pictures(self) -> None:
        """Stop the decoder's generator now (its demuxer lets go of its buffers), not whenever
        it is collected, which could be after its container has been reopened."""
        if self._pictures is not None:
            self._pictures.close()
            self._pictures = None

    def _extend(self, pts: int | None, key: bool) -> None:
        """Frame number `len(self._pts)` decoded for the first time: fix its timestamp."""
        index = len(self._pts)
        tb, interval = self._decoder.time_base, 1.0 / self.fps
        previous = self._times[-1] if self._times else None
        stamp = None
        if pts is not None:
            if self._origin is None:  # times count from the first frame's pts
                self._origin = pts * tb - (previous + interval if previous is not None else 0.0)
            stamp = pts * tb - self._origin
        if previous is not None and (stamp is None or not stamp > previous):
            stamp = previous + interval  # a missing pts, or one that went backwards or stalled
        self._pts.append(pts)
        self._times.append(stamp if stamp is not None else 0.0)
        if key or index == 0:
            self._keys.append(index)
            self._key_set.add(index)
        if pts is not None:
            if pts in self._by_pts:
                self._shared_pts.add(pts)
                del self._by_pts[pts]
            elif pts not in self._shared_pts:
                self._by_pts[pts] = index
        if self._decoder.rejected:
            self.frames_skipped += self._decoder.rejected
            log.info("%s: skipped %d undecodable frame(s) before frame %d", self.name, self._decoder.rejected, index)
            self._decoder.rejected = 0

    def _end(self) -> None:
        """The sequential decode met the end: the true frame count, and whether it came early."""
        decoder, first_time = self._decoder, self.frame_count is None
        self.frame_count = len(self._pts)
        self._drop_pictures()
        if not first_time:
            return
        if decoder.rejected:
            self.frames_skipped += decoder.rejected
            log.info("%s: skipped %d undecodable frame(s) at the end", self.name, decoder.rejected)
            decoder.rejected = 0
        if decoder.rejected_total and decoder.sent_pts:
            # after damage the decoder may also drop frames without an error (those that refer to a
            # lost keyframe): a packet whose pts no frame came out with is a lost frame
            lost = len(decoder.sent_pts.difference(self._pts))
            if lost > self.frames_skipped:
                log.info("%s: %d more frame(s) after the damage did not decode", self.name,
                         lost - self.frames_skipped)
                self.frames_skipped = lost
        reason = decoder.demux_failure
        if reason is None and decoder.duration and self._times:
            interval = 1.0 / self.fps
            span = self._times[-1] + interval
            if span + max(1.0, 2 * interval) < decoder.duration:
                reason = (f"the last decodable frame is at {self._times[-1]:.1f} s of the {decoder.duration:.1f} s "
                          "the container declares: the file is cut short or damaged")
        if reason:
            self.ended_early = f"decoding stopped before the end of the file: {reason}"
            log.warning("%s: %s", self.name, self.ended_early)

    def close(self) -> None:
        self._drop_pictures()
        self._decoder.close()


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
            raise SourceError(f"{self.name}: {why_no_stream(url, timeout_s)}")
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


_DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554, "rtsps": 322, "rtmp": 1935, "srt": 9000}


def why_no_stream(url: str, timeout_s: float) -> str:
    """Why a stream did not open, told apart by a plain connection to its host: a name that does
    not resolve, a refused connection, silence, or a server that answers with something that is
    not a video stream."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return "the address is malformed (check the port)"
    if not host or port is None or scheme in ("udp",):
        return (f"could not open the stream within {timeout_s:g} s. Check the address, that the stream is running, "
                "and that no firewall blocks it")
    try:
        with socket.create_connection((host, port), timeout=min(timeout_s, 5.0)):
            pass
    except socket.gaierror:
        return f"cannot resolve the host name {host!r} (offline, or a typing mistake?)"
    except ConnectionRefusedError:
        return f"connection refused: nothing listens at {host}:{port}. Is the stream running, on that port?"
    except (socket.timeout, TimeoutError):
        return f"no answer from {host}:{port} (a firewall, or the host is down)"
    except OSError as e:
        return f"cannot reach {host}:{port} ({e.strerror or e})"
    return (f"{host}:{port} accepts connections but did not send a video stream this program can read within "
            f"{timeout_s:g} s; check the path and the protocol (e.g. the camera's MJPEG or RTSP address)")


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


def source_kind(spec: str | Path | int) -> str:
    """What a source string names, by the one rule every caller (the window, the reader, the
    CLI) uses: "camera" (an int, or a digit string no file is named), "stream" (a URL of a
    stream scheme), "folder" (of images) or "file"."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and not Path(spec).exists()):
        return "camera"
    if isinstance(spec, str) and is_stream_url(spec):
        return "stream"
    return "folder" if Path(spec).is_dir() else "file"


def is_live_spec(spec) -> bool:
    """A camera, a stream, or a function returning a live source (a simulated camera)."""
    return callable(spec) or source_kind(spec) in ("camera", "stream")


def open_source(spec: str | Path | int, camera_size: tuple[int, int] | None = None,
                camera_fps: float | None = None, decoder_threads: int | None = None) -> VideoSource:
    """A camera (an index: 0, 1, ...; `camera_size` and `camera_fps` are requested from it), a
    network stream URL, a folder of images or a video file (`source_kind` decides which;
    `decoder_threads` for a file: see FileSource)."""
    kind = source_kind(spec)
    if kind == "camera":
        width, height = camera_size or (None, None)
        return CameraSource(int(spec), width, height, camera_fps)
    if kind == "stream":
        return StreamSource(spec)
    return ImageFolderSource(Path(spec)) if kind == "folder" else FileSource(Path(spec), threads=decoder_threads)
