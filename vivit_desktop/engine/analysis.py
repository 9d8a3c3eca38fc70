"""Offline analysis of a finite source: each frame decoded and preprocessed once into a bounded
buffer, windows centred every `hop` frames, batched through the predictor. Memory does not grow
with the video's length: only the frames the pending windows still need are kept."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import cancel as _cancel
from ..cancel import CancelToken
from ..errors import VivitError
from .predictor import Predictor
from .preprocess import Preprocessor
from .results import AnalysisResult, WindowResult
from .sources import VideoSource
from .windows import ClipSpec, FrameBuffer, centred_end_time


@dataclass(frozen=True)
class WindowSettings:
    hop: int = 8  # a new window every `hop` source frames (or `hop` frame intervals of time)
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.hop < 1 or self.batch_size < 1:
            raise ValueError(f"hop and batch size must be at least 1 (got hop {self.hop}, batch {self.batch_size})")


@dataclass
class _Pending:
    centre_index: int
    centre_time: float
    end_time: float


class NonFiniteOutput(ValueError, VivitError):
    """The model's outputs hold NaN or infinity: nothing of the run may be used or cached."""


class Cancelled(_cancel.Cancelled):
    """The analysis was stopped by its caller's token; `partial` holds the windows done so far."""

    def __init__(self, partial: AnalysisResult) -> None:
        super().__init__("analysis cancelled")
        self.partial = partial


def analyze_source(source: VideoSource, predictor: Predictor, settings: WindowSettings = WindowSettings(),
                   progress: Callable[[int], None] | None = None,
                   on_windows: Callable[[list[WindowResult]], None] | None = None,
                   cancel: CancelToken | None = None,
                   on_times: Callable[[list[float]], None] | None = None) -> AnalysisResult:
    """Analyse a finite source. `progress(n)` after each decoded frame; `on_windows(batch)` as
    each batch of windows is done (a player fills its timeline ahead of the playhead), after
    `on_times(timestamps)` with the timestamps of the frames decoded since its last call;
    `cancel` is asked once per frame and, once cancelled, stops with `Cancelled`."""
    card = predictor.card
    spec = ClipSpec.from_card(card)
    fps = source.fps
    preprocess = Preprocessor(card)
    buffer = FrameBuffer(spec, fps)
    pending: deque[_Pending] = deque()
    ready: list[tuple[_Pending, tuple[int, ...], np.ndarray]] = []
    windows: list[WindowResult] = []
    times: list[float] = []  # each decoded frame's timestamp
    sent = [0]  # of them, given to on_times
    source_key = object()  # Model 2's tubelet cache: frame indices are only unique within this run
    started = time.perf_counter()

    def cut(p: _Pending) -> None:
        ready.append((p, *buffer.window(p.end_time)))

    def flush() -> None:
        if not ready:
            return
        prediction = predictor.predict(np.stack([clip for _, _, clip in ready]),
                                       frames=[frames for _, frames, _ in ready], source=source_key)
        if not (np.isfinite(prediction.probs).all() and np.isfinite(prediction.attention).all()):
            raise NonFiniteOutput(f"{source.name}: the model gave NaN or infinite outputs near frame "
                                  f"{ready[0][0].centre_index}; its weights or card are broken (try another model, "
                                  "or check this one with `vivit-desktop info`)")
        each = prediction.seconds / len(ready)
        done = len(windows)
        spatial = prediction.spatial if prediction.spatial is not None else [None] * len(ready)
        for (p, frames, _), probs, attention, maps in zip(ready, prediction.probs, prediction.attention, spatial):
            windows.append(WindowResult(len(windows), p.centre_index, frames, probs, attention, each, maps))
        ready.clear()
        if on_times and len(times) > sent[0]:
            on_times(times[sent[0]:])
            sent[0] = len(times)
        if on_windows:
            on_windows(windows[done:])

    def result(frame_count: int) -> AnalysisResult:
        return AnalysisResult(
            source=source.name, fps=fps, frame_count=frame_count, frames_skipped=source.frames_skipped,
            claimed_frame_count=source.claimed_frame_count, ended_early=source.ended_early or "", card=card,
            hop=settings.hop, windows=windows,
            seconds=time.perf_counter() - started, device=str(predictor.device),
            precision=getattr(predictor, "precision_used", "float32"), peak_buffered_frames=buffer.peak,
            frame_times=np.asarray(times[:frame_count], np.float64))

    # every frame must lie in some window's span: on a slow video (1 fps against a model that
    # samples at 30) a window spans few source frames, and centres `hop` frames apart would leave
    # the frames between them without a label. The hop never exceeds the frames a window spans.
    hop = max(1, min(settings.hop, int(spec.span(fps) * fps)))
    last_index = -1
    last_frame = None
    last_centre: tuple[int, float] | None = None
    for frame in source.frames():
        if cancel is not None and cancel.cancelled:
            raise Cancelled(result(last_index + 1))
        last_index, last_frame = frame.index, frame
        times.append(frame.timestamp)
        buffer.append(frame.index, frame.timestamp, preprocess(frame.image))
        # every `hop` frames, or every `hop` frame intervals of time, whichever comes first: on a
        # variable-frame-rate video, sparse stretches still get windows (half a frame of slack
        # keeps jittery timestamps of constant-rate videos on the frame count)
        if (last_centre is None or frame.index - last_centre[0] >= hop
                or frame.timestamp - last_centre[1] >= (hop - 0.5) / fps):
            last_centre = (frame.index, frame.timestamp)
            pending.append(_Pending(frame.index, frame.timestamp, centred_end_time(frame.timestamp, spec, fps)))
        while pending and pending[0].end_time <= frame.timestamp:
            cut(pending.popleft())
        if len(ready) >= settings.batch_size:
            flush()
        buffer.keep_windows_ending_from(pending[0].end_time if pending else frame.timestamp)
        if progress:
            progress(1)
    while pending:  # the last windows run past the end: the last frame repeats
        cut(pending.popleft())
    flush()
    if windows and max(w.end_frame for w in windows) < last_index and last_frame is not None:
        # the last frames lie beyond every window's span: one more window, centred on the last frame
        cut(_Pending(last_frame.index, last_frame.timestamp, centred_end_time(last_frame.timestamp, spec, fps)))
        flush()
    return result(last_index + 1)
