"""Post-processing of the cached per-frame probabilities into labels and segments, changeable
without running the model again: smoothing (centred moving average or causal EMA), per-class
thresholds, hysteresis and a minimum bout length. No Qt.

The steps, in order:
1. smoothing of the (frames, classes) probabilities; frames no window covered stay unknown;
2. each frame's label is its most probable class if that probability reaches the class's
   threshold, else none (-1);
3. hysteresis: the label shown changes only when `hysteresis` consecutive frames agree on the
   new one (causal, as the live overlay behaves: the change lands on the N-th agreeing frame);
4. segments: runs of one label; a run shorter than `min_bout_s` seconds is merged into its
   longer neighbour, shortest first, until none is left (or one segment remains).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .timebase import Timebase

NONE = -1  # no label: below its threshold, or no window covered the frame


@dataclass(frozen=True)
class PostProcessing:
    smoothing: str = "none"  # "none", "mean" (centred moving average) or "ema" (causal)
    mean_frames: int = 9  # width of the moving average, in frames
    ema_alpha: float = 0.3  # weight of the newest frame in the EMA
    threshold: float = 0.0  # the lowest probability that names a label, for every class...
    class_thresholds: tuple[tuple[str, float], ...] = field(default=())  # ...unless set here
    hysteresis: int = 1  # frames that must agree before the label changes
    min_bout_s: float = 0.0  # shorter segments are merged into a neighbour

    def __post_init__(self) -> None:
        if self.smoothing not in ("none", "mean", "ema"):
            raise ValueError(f"unknown smoothing {self.smoothing!r}: use none, mean:FRAMES or ema:ALPHA")
        if self.mean_frames < 1:
            raise ValueError(f"the moving average needs at least 1 frame, got {self.mean_frames}")
        if not 0.0 < self.ema_alpha <= 1.0:
            raise ValueError(f"the EMA's alpha must be in (0, 1], got {self.ema_alpha}")
        for name, value in (("threshold", self.threshold), *self.class_thresholds):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"threshold for {name} must be a probability in [0, 1], got {value}")
        if self.hysteresis < 1:
            raise ValueError(f"hysteresis must be at least 1 frame, got {self.hysteresis}")
        if self.min_bout_s < 0:
            raise ValueError(f"the minimum bout cannot be negative, got {self.min_bout_s}")

    @classmethod
    def parse_smoothing(cls, text: str) -> dict:
        """'none', 'mean:9' or 'ema:0.3' -> the matching fields."""
        match = re.fullmatch(r"(none|mean|ema)(?::([0-9.]+))?", text.strip())
        if not match:
            raise ValueError(f"--smooth {text!r}: use none, mean:FRAMES (e.g. mean:9) or ema:ALPHA (e.g. ema:0.3)")
        kind, value = match.groups()
        if kind == "mean":
            return {"smoothing": kind, **({"mean_frames": int(float(value))} if value else {})}
        if kind == "ema":
            return {"smoothing": kind, **({"ema_alpha": float(value)} if value else {})}
        return {"smoothing": "none"}

    def thresholds(self, labels: tuple[str, ...]) -> np.ndarray:
        per_class = dict(self.class_thresholds)
        unknown = set(per_class) - set(labels)
        if unknown:
            raise ValueError(f"threshold for unknown label(s) {', '.join(sorted(unknown))}; "
                             f"the model's labels are: {', '.join(labels)}")
        return np.array([per_class.get(label, self.threshold) for label in labels])

    def to_dict(self) -> dict:
        return {"smoothing": self.smoothing, "mean_frames": self.mean_frames, "ema_alpha": self.ema_alpha,
                "threshold": self.threshold, "class_thresholds": dict(self.class_thresholds),
                "hysteresis": self.hysteresis, "min_bout_s": self.min_bout_s}


def smooth(probs: np.ndarray, post: PostProcessing) -> np.ndarray:
    """(frames, classes) with NaN rows for uncovered frames -> smoothed, NaN rows kept. Each run
    of covered frames is smoothed on its own. With no smoothing, `probs` itself (not a copy:
    frames × 400 classes is tens of MB, copied at every redraw while windows arrive)."""
    if post.smoothing == "none":
        return probs
    out = probs.copy()
    covered = ~np.isnan(probs[:, 0]) if len(probs) else np.zeros(0, bool)
    for start, stop in _runs(covered):
        part = probs[start:stop]
        if post.smoothing == "ema":
            acc = part[0].copy()
            for i in range(len(part)):
                acc = post.ema_alpha * part[i] + (1 - post.ema_alpha) * acc
                out[start + i] = acc
        else:  # centred moving average; the window shrinks at the ends of the run
            half = post.mean_frames // 2
            cumulative = np.vstack([np.zeros((1, part.shape[1])), np.cumsum(part, axis=0)])
            lo = np.clip(np.arange(len(part)) - half, 0, len(part))
            hi = np.clip(np.arange(len(part)) + (post.mean_frames - half), 0, len(part))
            out[start:stop] = (cumulative[hi] - cumulative[lo]) / (hi - lo)[:, None]
    return out


def frame_labels(probs: np.ndarray, labels: tuple[str, ...], post: PostProcessing) -> np.ndarray:
    """(frames,) class index per frame, or NONE; after thresholds and hysteresis."""
    thresholds = post.thresholds(labels)
    raw = np.full(len(probs), NONE)
    covered = ~np.isnan(probs[:, 0]) if len(probs) else np.zeros(0, bool)
    # rows are all NaN (not covered) or all numbers: argmax is right on the covered ones (an
    # np.where copy of the whole array first cost ~0.1 s at 18 000 frames × 400 classes)
    best = np.argmax(probs, axis=1) if len(probs) else np.zeros(0, np.int64)
    confident = covered & (probs[np.arange(len(probs)), best] >= thresholds[best])
    raw[confident] = best[confident]
    if post.hysteresis <= 1:
        return raw
    shown = raw.copy()
    current, candidate, agree = raw[0] if len(raw) else NONE, None, 0
    for f, label in enumerate(raw):
        if label == current:
            candidate, agree = None, 0
        elif label == candidate:
            agree += 1
        else:
            candidate, agree = label, 1
        if candidate is not None and agree >= post.hysteresis:
            current, candidate, agree = candidate, None, 0
        shown[f] = current
    return shown


def segments(labels_per_frame: np.ndarray, timebase: Timebase | float, post: PostProcessing) -> list[tuple[int, int, int]]:
    """Runs (start_frame, end_frame inclusive, class or NONE), bouts shorter than `min_bout_s`
    merged away. `timebase`: the frames' times (a frame rate for a constant-rate video); on a
    variable-rate one a bout lasts what its frames are shown for, not its frames at the nominal rate."""
    labels = np.asarray(labels_per_frame)
    if not len(labels):
        return []
    if not isinstance(timebase, Timebase):
        timebase = Timebase(float(timebase))
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1  # where a run starts (one pass, not a loop per frame)
    starts, ends = np.r_[0, change], np.r_[change - 1, len(labels) - 1]
    runs: list[list[int]] = [[int(a), int(b), int(labels[a])] for a, b in zip(starts, ends)]
    if timebase.constant:  # in frames
        shortest = round(post.min_bout_s * timebase.fps)
        length = lambda run: run[1] - run[0] + 1  # noqa: E731
    else:  # in seconds: from the bout's first frame to the frame after its last
        shortest = post.min_bout_s
        length = lambda run: timebase.time(run[1] + 1) - timebase.time(run[0])  # noqa: E731
    while len(runs) > 1:
        lengths = [length(r) for r in runs]
        i = int(np.argmin(lengths))
        if lengths[i] >= shortest:
            break
        if i == 0:
            neighbour = 1
        elif i == len(runs) - 1:
            neighbour = i - 1
        else:
            neighbour = i - 1 if lengths[i - 1] >= lengths[i + 1] else i + 1
        lo, hi = min(i, neighbour), max(i, neighbour)
        merged = [runs[lo][0], runs[hi][1], runs[neighbour][2]]
        runs[lo:hi + 1] = [merged]
        # neighbours with one label after the merge become one run
        j = lo
        while j > 0 and runs[j - 1][2] == runs[j][2]:
            runs[j - 1:j + 1] = [[runs[j - 1][0], runs[j][1], runs[j][2]]]
            j -= 1
        while j + 1 < len(runs) and runs[j + 1][2] == runs[j][2]:
            runs[j:j + 2] = [[runs[j][0], runs[j + 1][1], runs[j][2]]]
    return [tuple(r) for r in runs]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))
