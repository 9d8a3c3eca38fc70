"""Live analysis: causal windows ending at the newest frame, one inference worker, latest wins.

The reader (whoever calls `LiveRunner.push`) preprocesses each frame once into a ring buffer
that holds one window's span. Every `hop` frames it cuts the window ending at the newest frame
with the same `sample_window` offline analysis uses, and puts it in a one-slot mailbox: if the
worker is still busy with an earlier window, the waiting one is replaced (counted as dropped),
so a prediction is always about now and nothing queues without bound. The worker thread owns
the predictor and hands each result, with the frames it covers and its latency, to a callback.
No Qt: the GUI's callback emits a signal.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from ..cancel import CancelToken
from .predictor import Predictor
from .preprocess import Preprocessor
from .results import WindowResult
from .sources import Frame
from .windows import ClipSpec, FrameBuffer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveRequest:
    """An immutable window request: the frames it holds, already preprocessed."""

    seq: int
    frames: tuple[int, ...]
    end_time: float  # the newest frame's timestamp
    clip: np.ndarray  # (T, C, S, S)
    arrived: float  # time.perf_counter() when its newest frame was pushed


@dataclass(frozen=True)
class LiveResult:
    window: WindowResult  # centre_frame = the newest frame the window ends at
    end_time: float
    latency_s: float  # from the newest frame's arrival to the result being ready
    compute_s: float  # the forward pass alone
    dropped: int  # windows replaced before they ran, since the start


class LiveRunner:
    """`push(frame)` from the reader; results arrive on the worker thread via `on_result`.

    The first window runs as soon as the buffer spans a whole window (no repeated first frames),
    then one every `hop` frames."""

    def __init__(self, predictor: Predictor, fps: float, hop: int = 8,
                 on_result: Callable[[LiveResult], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        if hop < 1:
            raise ValueError(f"hop must be at least 1, got {hop}")
        self.predictor, self.fps, self.hop = predictor, fps, hop
        self.on_result, self.on_error = on_result, on_error
        self._preprocess = Preprocessor(predictor.card)
        self._buffer = FrameBuffer(ClipSpec.from_card(predictor.card), fps)
        self._slot: LiveRequest | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._source_key = object()
        self.pushed = self.submitted = self.completed = self.dropped = 0
        self._since_submit = 0
        self._thread = threading.Thread(target=self._work, name="vivit-inference", daemon=True)
        self._thread.start()

    # -- reader side --------------------------------------------------------------------------
    @property
    def peak_buffered_frames(self) -> int:
        return self._buffer.peak

    def push(self, frame: Frame) -> None:
        self._buffer.append(frame.index, frame.timestamp, self._preprocess(frame.image))
        self._buffer.keep_windows_ending_from(frame.timestamp)
        self.pushed += 1
        self._since_submit += 1
        if self._buffer.spans_a_window() and (self.submitted == 0 or self._since_submit >= self.hop):
            self._since_submit = 0
            self._submit(frame)

    def _submit(self, frame: Frame) -> None:
        frames, clip = self._buffer.window(frame.timestamp)
        request = LiveRequest(self.submitted, frames, frame.timestamp, clip, time.perf_counter())
        with self._cond:
            if self._slot is not None:
                self.dropped += 1  # latest wins: the older waiting window is never run
            self._slot = request
            self.submitted += 1
            self._cond.notify()

    def run(self, frames: Iterable[Frame], stop: CancelToken | None = None) -> None:
        """Push every frame of `frames` (e.g. a camera's) until they end or `stop` is cancelled."""
        for frame in frames:
            if stop is not None and stop.cancelled:
                break
            self.push(frame)

    # -- worker side --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while self._slot is None and not self._stopping:
                    self._cond.wait()
                if self._slot is None:  # stopping with nothing left to do
                    return
                request, self._slot = self._slot, None
                self._busy = True
            try:
                prediction = self.predictor.predict(request.clip[None], frames=[request.frames],
                                                    source=self._source_key)
                if not (np.isfinite(prediction.probs).all() and np.isfinite(prediction.attention).all()):
                    raise ValueError("the model gave NaN or infinite outputs; its weights or card are broken")
                window = WindowResult(request.seq, request.frames[-1], request.frames, prediction.probs[0],
                                      prediction.attention[0], prediction.seconds,
                                      None if prediction.spatial is None else prediction.spatial[0])
                result = LiveResult(window, request.end_time, time.perf_counter() - request.arrived,
                                    prediction.seconds, self.dropped)
                self.completed += 1
                if self.on_result:
                    self.on_result(result)
            except Exception as e:  # the worker must survive and say so; the reader goes on
                log.exception("live inference failed")
                if self.on_error:
                    self.on_error(e)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no window waits or runs; True if that happened within `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._slot is not None or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, finish: bool = False, timeout: float = 10.0) -> None:
        """Stop the worker; with `finish`, the waiting window runs first, else it is dropped."""
        with self._cond:
            if not finish and self._slot is not None:
                self._slot = None
                self.dropped += 1
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def __enter__(self) -> "LiveRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
