"""Sliding windows, built by timestamp against the model card's clip spec.

`sample_window` is the ONE function that picks a window's frames, for files and live sources
alike: the window's `num_frames` target times are spaced by the clip spec's interval
(`frame_stride` frames at the fps the model was trained at; at the source's own fps when the
card does not say) and each takes the decoded frame nearest in time. Offline windows are centred
on a frame; live windows end at the newest frame. Same frames in, same window out.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

from ..model.config import ModelCard

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
