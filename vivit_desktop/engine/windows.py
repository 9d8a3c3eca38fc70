"""Sliding windows, built by timestamp against the model card's clip spec.

`sample_window` is the ONE function that picks a window's frames, for files and live sources
alike: the window's `num_frames` target times are spaced by the clip spec's interval
(`frame_stride` frames at the fps the model was trained at; at the source's own fps when the
card does not say) and each takes the decoded frame nearest in time. Offline windows are centred
on a frame; live windows end at the newest frame. Same frames in, same window out.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..model.config import FACTORISED_ENCODER, ModelCard

_TIE = 1e-9  # seconds: closer than this counts as a tie, which the earlier frame wins


@dataclass(frozen=True)
class ClipSpec:
    num_frames: int
    frame_stride: int
    fps: float | None = None  # the frame rate the model's clips were sampled at, if known

    @classmethod
    def from_card(cls, card: ModelCard) -> "ClipSpec":
        return cls(card.num_frames, card.frame_stride, card.fps)

    def interval(self, source_fps: float) -> float:
        """Seconds between a window's consecutive frames."""
        return self.frame_stride / (self.fps or source_fps)

    def span(self, source_fps: float) -> float:
        """Seconds from a window's first frame to its last."""
        return (self.num_frames - 1) * self.interval(source_fps)


def sample_window(times: Sequence[float], end_time: float, spec: ClipSpec, source_fps: float) -> list[int]:
    """Positions in `times` (sorted frame timestamps) of the window ending at `end_time`: for
    each target time `end_time - k * interval`, the nearest frame (the earlier on a tie).
    Before the first frame or after the last, the first or last frame repeats."""
    if not times:
        raise ValueError("no frames to sample a window from")
    step = spec.interval(source_fps)
    picks = []
    for k in range(spec.num_frames - 1, -1, -1):
        target = end_time - k * step
        i = bisect.bisect_left(times, target)
        if i == len(times):
            i -= 1
        elif i > 0 and target - times[i - 1] <= times[i] - target + _TIE:
            i -= 1
        picks.append(i)
    return picks


def centred_end_time(centre_time: float, spec: ClipSpec, source_fps: float) -> float:
    """End time of the window centred on `centre_time` (offline analysis). The centre frame is
    always one of the targets: with an even number of frames the window has one more frame
    after the centre than before (a midpoint between frames would leave every pick to rounding)."""
    return centre_time + (spec.num_frames // 2) * spec.interval(source_fps)


class FrameBuffer:
    """The preprocessed frames windows may still pick, for offline and live analysis alike:
    each frame once, in time order, trimmed by the caller so memory stays bounded."""

    def __init__(self, spec: ClipSpec, source_fps: float) -> None:
        self.spec, self.fps = spec, source_fps
        self.span = spec.span(source_fps)
        # one sampling step of slack: the nearest frame to a window's first target may lie before it
        self.margin = 2 * max(spec.interval(source_fps), 1.0 / source_fps)
        self._indices: deque[int] = deque()
        self._times: deque[float] = deque()
        self._arrays: deque[np.ndarray] = deque()
        self.peak = 0  # the most frames held after a trim

    def append(self, index: int, timestamp: float, array: np.ndarray) -> None:
        self._indices.append(index)
        self._times.append(timestamp)
        self._arrays.append(array)

    def keep_windows_ending_from(self, end_time: float) -> None:
        """Drop the frames no window ending at or after `end_time` can pick."""
        oldest_needed = end_time - self.span - self.margin
        while len(self._times) > 1 and self._times[1] <= oldest_needed:
            self._indices.popleft(), self._times.popleft(), self._arrays.popleft()
        self.peak = max(self.peak, len(self._arrays))

    def spans_a_window(self) -> bool:
        """Whether the frames held cover a whole window's time (no first frame repeated)."""
        return bool(self._times) and self._times[-1] - self._times[0] >= self.span - 1e-9

    def window(self, end_time: float) -> tuple[tuple[int, ...], np.ndarray]:
        """The window ending at `end_time`: its source frame indices and its (T, C, S, S) clip."""
        picks = sample_window(list(self._times), end_time, self.spec, self.fps)
        return tuple(self._indices[i] for i in picks), np.stack([self._arrays[i] for i in picks])

    def __len__(self) -> int:
        return len(self._arrays)



DEFAULT_HOP = 8  # frames between windows, for models that take milliseconds per window
LARGE_MODEL_HOP = 16  # ViViT-B width and up, without the tubelet cache: every window is a whole clip
LARGE_MODEL_WIDTH = 768  # ViViT-B's hidden size


def default_hop(card: ModelCard) -> int:
    """The hop used when none is asked for (bench/RESULTS.md, "Kinetics-sized models live").

    - Models narrower than ViViT-B: `DEFAULT_HOP` (8 frames); they take milliseconds a window.
    - Model 2 of ViViT-B width and up: one tubelet's span, `tubelet_size * frame_stride` source
      frames (4 for the official 16x2 models): with the tubelet cache a window then costs one new
      tubelet's spatial pass and the temporal encoder. Whether a machine keeps up with a live
      source depends on that one cost, not on the hop; a smaller hop (2) shifts windows by half a
      tubelet and doubles the work, a larger one makes each window wait for several tubelets.
    - Other variants of ViViT-B width and up: `LARGE_MODEL_HOP` (16 frames): every window is a
      whole clip (seconds on a CPU), so fewer windows is the only saving."""
    arch = card.arch
    if arch.hidden_size < LARGE_MODEL_WIDTH:
        return DEFAULT_HOP
    if arch.variant == FACTORISED_ENCODER:
        return arch.tubelet_size * card.frame_stride
    return LARGE_MODEL_HOP
