"""Frame numbers and seconds: the one mapping every time shown or written goes through.

A constant-rate video's frame N is shown at N / fps. A variable-rate one (phones, screen
recorders, a file whose header lies about its frame count) has its own presentation times: the
decoder's timestamps relative to the first frame, which the analysis records as it decodes.
`Timebase` keeps them only when some frame is more than a quarter of a frame interval away from
N / fps; otherwise N / fps is exact enough and nothing is stored.

Frames beyond the known times (the file is still being decoded) are placed one nominal interval
after the last known one, so a video's duration is `time(frame_count)`: the last frame's time plus
its interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

_TOLERANCE = 0.25  # of a frame interval: closer to N / fps than this, a timestamp is N / fps


@dataclass(frozen=True, eq=False)
class Timebase:
    fps: float
    times: np.ndarray | None = None  # seconds of frames 0 .. len-1; None: frame N at N / fps

    @classmethod
    def from_times(cls, fps: float, times: Sequence[float] | np.ndarray) -> Timebase:
        t = np.asarray(times, np.float64)
        if not len(t) or np.all(np.abs(t - np.arange(len(t)) / fps) <= _TOLERANCE / fps):
            return cls(fps)
        return cls(fps, t)

    @property
    def constant(self) -> bool:
        return self.times is None

    def time(self, frames):
        """Seconds at which frame(s) `frames` are shown (a float for an int, an array for an array)."""
        f = np.asarray(frames, np.float64)
        if self.times is None:
            out = f / self.fps
        else:
            last = len(self.times) - 1
            inside = np.clip(f, 0, last).astype(np.int64)
            out = np.where(f <= last, self.times[inside], self.times[last] + (f - last) / self.fps)
        return float(out) if out.ndim == 0 else out

    def frame(self, seconds: float) -> int:
        """The frame on screen at `seconds` (the nearest frame of a constant-rate video; of a
        variable-rate one, the last frame shown by half an interval after `seconds`), never below 0."""
        if self.times is None:
            return max(0, int(round(seconds * self.fps)))
        last = len(self.times) - 1
        if seconds > self.times[last] + 0.5 / self.fps:
            return last + max(0, int(round((seconds - self.times[last]) * self.fps)))
        return max(0, int(np.searchsorted(self.times, seconds + 0.5 / self.fps, side="right")) - 1)

    def shown_at(self, seconds):
        """The frame(s) on screen at `seconds`: the last shown at or before it (an int for a
        float, an int64 array for an array; below 0 for a time before the first frame)."""
        t = np.asarray(seconds, np.float64)
        if self.times is None:
            out = np.floor(t * self.fps + 1e-9).astype(np.int64)
        else:
            last = len(self.times) - 1
            inside = np.searchsorted(self.times, t + 1e-9, side="right") - 1
            beyond = last + np.floor((t - self.times[last]) * self.fps + 1e-9).astype(np.int64)
            out = np.where(t > self.times[last], beyond, inside)
        return int(out) if out.ndim == 0 else out

    def to_json(self) -> list[float] | None:
        return None if self.times is None else [round(float(t), 6) for t in self.times]
