"""Results: per window (probabilities, top-k, temporal attention per frame, latency), per frame
(overlapping windows averaged), segments, and their export as JSON and CSV (atomic writes,
never over an existing file unless asked).

JSON schema `vivit-desktop/analysis` version 1:
    {"schema", "version", "source", "video_sha256", "fps", "frame_count", "claimed_frame_count",
     "frames_skipped", "ended_early" (why decoding stopped before the file's end, or ""),
     "model": {"name", "variant", "sha256", "labels"},
     "settings": {"hop", "num_frames", "frame_stride", "clip_fps", "image_size",
                  "post": {"smoothing", "mean_frames", "ema_alpha", "threshold", "class_thresholds",
                           "hysteresis", "min_bout_s"}},
     "device", "precision", "seconds",
     "frame_times" (only for a variable-rate video: each frame's timestamp in seconds from the
                    first, the decoder's; otherwise frame N is at N / fps),
     "short_clip" (true when the video is shorter than one window: every window repeats its first
                   and last frames to fill the model's input),
     "windows":  [{"index", "centre_frame", "frames": [...], "start_frame", "end_frame",
                   "top": [[label, p], ...], "probs": [...], "attention": [...], "latency_s"}],
     "frames":   [{"frame", "time", "label", "confidence", "attention"}],
     "segments": [{"start_frame", "end_frame", "start_time", "end_time", "label", "confidence"}]}
Per-frame labels, confidences and segments are after post-processing (engine/postprocess.py);
window probabilities are the model's own. The windows' spatial attention maps (`WindowResult.spatial`)
are not part of the JSON or CSV: the sidecar cache keeps them in a .npz beside its JSON
(engine/cache.py).
CSV: FILE.csv holds the per-frame table (frame, time, label, confidence, attention, then one
(smoothed) probability column per label), FILE.windows.csv the windows (with a `top` column
"label:p;label:p;..."), FILE.segments.csv the segments;
their first lines, starting with '#', record the model, its hash and the window settings
(`pandas.read_csv(path, comment="#")` reads them).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_text, atomic_write_texts, check_writable
from ..model.config import ModelCard
from .postprocess import NONE, PostProcessing, frame_labels, segments, smooth
from .timebase import Timebase
from .windows import ClipSpec

SCHEMA, SCHEMA_VERSION = "vivit-desktop/analysis", 1
MAX_FRAMES = 10**8  # about 39 days at 30 fps: more in a results file is damage, not a video


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def window_settings(card: ModelCard, hop: int) -> dict:
    """What decides which windows an analysis has: recorded in exports, part of the cache key."""
    return {"hop": hop, "num_frames": card.num_frames, "frame_stride": card.frame_stride, "clip_fps": card.fps,
            "image_size": card.image_size}


def top_per_head(probs: np.ndarray, card: ModelCard, k: int) -> list[tuple[str, list[tuple[str, float]]]]:
    """(head name, [(label, p), ...] its k most probable classes) per head, in display order;
    labels qualified by the head ("verb: cut") for a multi-head model."""
    names = card.qualified_labels
    out = []
    for head, a, b in card.head_slices():
        order = a + np.argsort(-probs[a:b], kind="stable")[:k]
        out.append((head, [(names[i], float(probs[i])) for i in order]))
    return out


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted 1-D array, in order: np.unique without its sort, and
    without its first call's import of numpy.ma (50 ms on the window's thread at its first draw)."""
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def nearest_sample(frames, frame: int) -> int:
    """The sampled frame of a window (`frames`, its source frames in order) nearest to `frame`,
    the earlier on a tie: the rule by which a frame takes a window's temporal attention
    (`AnalysisResult.frame_attention`) and its spatial map (`WindowResult.spatial_for`)."""
    sampled = distinct_sorted(np.asarray(frames))
    right = int(np.clip(np.searchsorted(sampled, frame), 0, len(sampled) - 1))
    left = max(right - 1, 0)
    return int(sampled[left] if frame - sampled[left] <= sampled[right] - frame else sampled[right])


def _add_rows(target: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """target[rows] += values with rows repeating (what np.add.at does): the values summed per
    row with one sorted reduceat, where np.add.at went an element at a time (6 700 windows × 400
    classes: a large share of a Kinetics model's once-a-second redraw)."""
    if not len(rows):
        return
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    target[rows[first]] += np.add.reduceat(values[order], first, axis=0)


def _cumsum_rows(values: np.ndarray, rows: int = 128) -> np.ndarray:
    """np.cumsum(values, axis=0), a block of rows at a time: numpy holds the interpreter lock
    through a cumsum down the rows, ~0.3 s for 18 000 frames × 400 classes on a busy machine,
    during which the window (preparing on a thread beside it) could not repaint. Blocks of 128
    rows, not 1024: the window's longest waits for the lock while a Kinetics-sized result was
    prepared went from 260-420 to 140-180 ms (bench_gui.py --tiny-classes 400)."""
    out = np.empty(values.shape)
    running = np.zeros(values.shape[1:])
    for start in range(0, len(values), rows):
        block = np.cumsum(values[start:start + rows], axis=0, out=out[start:start + rows])
        block += running
        running = block[-1].copy()
    return out


def _summed(result: "AnalysisResult | None", hops: int | None) -> "AnalysisResult | None":
    """`result`, or the newest one it continues (`AnalysisResult.continue_from`) whose
    per-frame sums are made, within `hops` steps back (None: any); None where there is none."""
    while result is not None and result._frame_probs is None:  # (built, never drawn)
        if hops is not None:
            if hops <= 0:
                return None
            hops -= 1
        result = result.__dict__.get("_previous")
    return result


@dataclass(frozen=True)
class WindowResult:
    index: int
    centre_frame: int
    frames: tuple[int, ...]  # the source frames it sampled, in order (repeats at the edges)
    probs: np.ndarray  # (classes,)
    attention: np.ndarray  # (num_frames,) one weight per sampled frame, sums to 1
    latency_s: float
    # (nt, nh, nw) float16: where the model looks, a map per temporal index (tubelet) summing to 1
    # (AttentionReadout.spatial); None for results read from a file without maps
    spatial: np.ndarray | None = None

    def spatial_for(self, frame: int, tubelet_size: int) -> np.ndarray | None:
        """(nh, nw) float32, summing to 1: the map of the tubelet that covers source frame
        `frame` in this window. The frame takes its nearest sampled frame (as the temporal
        read-out does); a sampled frame repeated over several tubelets (a window's edges) takes
        their mean. None when the window has no maps."""
        if self.spatial is None:
            return None
        positions = np.flatnonzero(np.asarray(self.frames) == nearest_sample(self.frames, frame))
        tubelets = positions // tubelet_size
        mean = np.asarray(self.spatial, dtype=np.float32)[tubelets].mean(axis=0)
        return mean / max(float(mean.sum()), np.finfo(np.float32).tiny)  # float16 storage: exactly 1 again

    @property
    def start_frame(self) -> int:
        return self.frames[0]

    @property
    def end_frame(self) -> int:
        return self.frames[-1]

    def top(self, card: ModelCard, k: int) -> list[tuple[str, float]]:
        """The k most probable classes of each head, heads in display order (a multi-head
        model's labels qualified by their head: "verb: cut")."""
        return [(label, p) for _, ranked in top_per_head(self.probs, card, k) for label, p in ranked]


@dataclass
class AnalysisResult:
    source: str
    fps: float
    frame_count: int
    frames_skipped: int
    claimed_frame_count: int | None
    card: ModelCard
    hop: int
    windows: list[WindowResult]
    seconds: float
    device: str = "cpu"
    precision: str = "float32"  # what the predictor ran in: float32, int8, bf16 or fp16
    peak_buffered_frames: int = 0
    ended_early: str = ""  # why decoding stopped before the container's end ("" when it did not)
    model_sha256: str = ""
    video_sha256: str = ""
    post: PostProcessing = field(default_factory=PostProcessing)
    frame_times: np.ndarray | None = field(default=None, repr=False)  # each frame's timestamp, s (None: N / fps)
    _frame_probs: np.ndarray | None = field(default=None, repr=False)
    _post_cache: tuple | None = field(default=None, repr=False)
    _timebase: Timebase | None = field(default=None, repr=False)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    @property
    def timebase(self) -> Timebase:
        """Frame numbers to seconds: the decoder's timestamps on a variable-rate video."""
        if self._timebase is None:  # (asked for every frame shown: made once)
            times = self.frame_times
            self._timebase = (Timebase(self.fps) if times is None
                              else Timebase.from_times(self.fps, times[:self.frame_count]))
        return self._timebase

    @property
    def duration(self) -> float:
        return self.timebase.time(self.frame_count)

    def frame_probs(self) -> np.ndarray:
        """(frames, classes): each frame's mean over the windows whose span covers it."""
        if self._frame_probs is None:
            previous = self.__dict__.pop("_previous", None)
            self._frame_probs = self._frame_probs_after(previous) if previous is not None else None
            if self._frame_probs is None:
                self._frame_probs = self._mean_over_windows(np.arange(len(self.windows)), 0, self.frame_count)
        return self._frame_probs

    def continue_from(self, previous: "AnalysisResult | None") -> "AnalysisResult":
        """Let `frame_probs` start from `previous`'s, when this result is `previous` with more
        windows after its own (a file being analysed: the window rebuilds its result a few times
        a second): only the frames from the first new window's on are summed again, instead of
        frames × classes over the whole video (a Kinetics model over ten minutes: 7 M numbers,
        summed under the interpreter lock while the window waited to repaint). `previous` may
        not have its sums yet (the window builds results more often than it draws them): they
        are taken from the newest result back along the chain that has them when this one's are
        made, and the chain is dropped then. Returns self."""
        if _summed(previous, self.CHAIN) is None and previous is not None:
            # (results built and never drawn for long: no chain grows without end)
            previous = _summed(previous, None)
        self.__dict__["_previous"] = previous
        return self

    CHAIN = 64  # results built and not drawn that one may continue through

    def _frame_probs_after(self, previous: "AnalysisResult") -> np.ndarray | None:
        """frame_probs from the newest result back from `previous` whose sums are made, or
        None where none can be reused."""
        previous = _summed(previous, None)
        if previous is None:
            return None
        done, k = previous._frame_probs, len(previous.windows)
        if (previous.frame_count != self.frame_count or done.shape[1] != len(self.labels)
                or not 0 < k <= len(self.windows) or previous.windows[-1] is not self.windows[k - 1]
                or previous.windows[0] is not self.windows[0]):
            return None
        if k == len(self.windows):
            return done
        starts, ends, inside = self._spans()
        first = int(starts[k:][inside[k:]].min()) if inside[k:].any() else self.frame_count
        last = int(ends[inside].max()) if inside.any() else -1
        if first > last:  # no new window in the video
            return done
        out = np.empty_like(done)
        out[:first] = done[:first]
        # every window over the frames from `first` on: the new ones and the old ones reaching into them
        over = np.flatnonzero(inside & (ends >= first))
        out[first:last + 1] = self._mean_over_windows(over, first, last + 1)
        out[last + 1:] = np.nan  # no window reaches these
        return out

    def _mean_over_windows(self, which: np.ndarray, first: int, stop: int) -> np.ndarray:
        """(stop - first, classes): frames first..stop-1's mean over the windows `which` (indices)
        that cover them, NaN where none does."""
        n = stop - first
        starts, ends, inside = self._spans()
        which = which[inside[which]]
        if not len(which) or n <= 0:
            return np.full((max(n, 0), len(self.labels)), np.nan)
        # each window adds its probabilities over its span: as steps at its ends, summed once
        # (a once-a-second redraw of a long video's results: one pass, not one per window)
        probs = np.stack([self.windows[i].probs for i in which]).astype(np.float64)
        starts, ends = np.clip(starts[which], first, stop - 1) - first, np.clip(ends[which], first, stop - 1) - first
        steps = np.zeros((n + 1, probs.shape[1]))
        _add_rows(steps, starts, probs)
        _add_rows(steps, ends + 1, -probs)
        count = np.bincount(starts, minlength=n + 1) - np.bincount(ends + 1, minlength=n + 1)
        count = np.cumsum(count[:n])
        with np.errstate(divide="ignore"):
            scale = np.where(count > 0, 1.0 / count, np.nan)  # NaN where no window covers
        # in place, by ufuncs (which leave the interpreter lock while they work): the window
        # prepares a Kinetics model's results on a thread beside its own (frames × 400 arrays)
        out = _cumsum_rows(steps[:n])
        np.multiply(out, scale[:, None], out=out)
        return out

    def _spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each window's first and last frame, cut to the video, and whether any of it lies in
        the video: (windows,) int64, int64, bool."""
        cached = self.__dict__.get("_spans_cache")
        if cached is None:
            self.__dict__["_spans_cache"] = cached = self._find_spans()
        return cached

    def _find_spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        starts = np.fromiter((w.start_frame for w in self.windows), np.int64, len(self.windows))
        ends = np.fromiter((w.end_frame for w in self.windows), np.int64, len(self.windows))
        inside = (starts <= self.frame_count - 1) & (ends >= 0)
        return np.clip(starts, 0, self.frame_count - 1), np.clip(ends, 0, self.frame_count - 1), inside

    def frame_attention(self) -> np.ndarray:
        """(frames,): the temporal attention each frame received, averaged over the windows whose
        span covers it. Within a window every frame takes the weight of the sampled frame nearest
        to it (with a frame stride of 2 the frame between two samples is not a 0: the track was a
        comb); NaN for frames no window covers (not analysed yet, or past the end)."""
        cached = self.__dict__.get("_attention_cache")
        if cached is not None:
            return cached
        self.__dict__["_attention_cache"] = out = self._frame_attention()
        return out

    def _frame_attention(self) -> np.ndarray:
        n = self.frame_count
        out = np.full(n, np.nan)
        if not self.windows or not n:
            return out
        sampled = np.stack([np.asarray(w.frames, np.int64) for w in self.windows])  # (W, T), non-decreasing
        weights = np.stack([np.asarray(w.attention, np.float64) for w in self.windows])
        starts, ends, inside = self._spans()
        sampled, weights, starts, ends = sampled[inside], weights[inside], starts[inside], ends[inside]
        # each sample covers the frames nearer to it than to the samples either side (the earlier on
        # a tie): from the midpoint after the previous distinct sample to the one before the next; a
        # repeated sample covers what its first copy does, so repeats add up, as their weights do
        big = np.iinfo(np.int64).max // 4
        before = np.where(np.arange(sampled.shape[1]) == 0, -big, np.roll(sampled, 1, axis=1))
        before = np.where(before == sampled, -big, before)  # a repeat: look further back
        before = np.maximum.accumulate(before, axis=1)
        after = np.where(np.arange(sampled.shape[1]) == sampled.shape[1] - 1, big, np.roll(sampled, -1, axis=1))
        after = np.where(after == sampled, big, after)
        after = np.minimum.accumulate(after[:, ::-1], axis=1)[:, ::-1]
        low = np.where(before == -big, starts[:, None], (before + sampled) // 2 + 1)
        high = np.where(after == big, ends[:, None], (sampled + after) // 2)
        low, high = np.maximum(low, starts[:, None]), np.minimum(high, ends[:, None])
        keep = low <= high
        steps = np.zeros(n + 1)
        np.add.at(steps, low[keep], weights[keep])
        np.add.at(steps, high[keep] + 1, -weights[keep])
        count = np.cumsum(np.bincount(starts, minlength=n + 1) - np.bincount(ends + 1, minlength=n + 1))[:n]
        total = np.cumsum(steps[:n])
        np.divide(total, count, out=out, where=count > 0)
        return out

    def _processed(self) -> tuple[np.ndarray, np.ndarray]:
        """Smoothed probabilities and shown labels, computed once per post-processing setting
        (an export reads them several times). Each head is labelled on its own classes."""
        if self._post_cache is None or self._post_cache[0] != self.post:
            smoothed = smooth(self.frame_probs(), self.post)
            names = self.card.qualified_labels
            per_head = []  # global class indices per head
            for _, a, b in self.card.head_slices():
                local = frame_labels(smoothed[:, a:b], names[a:b], self.post)
                per_head.append(np.where(local == NONE, NONE, local + a))
            self._post_cache = (self.post, smoothed, self._encode(per_head))
        return self._post_cache[1], self._post_cache[2]

    # A multi-head model's label is one class per head ("cut + onion"), encoded in one integer:
    # each head's local index (its size when the head shows none) in mixed radix, -1 when no
    # head shows a label. With one head the code is the class index itself.
    def _radices(self) -> list[tuple[int, int, int]]:
        """(start, size, radix) per head in display order."""
        out, radix = [], 1
        for _, a, b in self.card.head_slices():
            out.append((a, b - a, radix))
            radix *= b - a + 1
        return out

    def _encode(self, per_head: list[np.ndarray]) -> np.ndarray:
        if len(per_head) == 1:
            return per_head[0]
        code = np.zeros(self.frame_count, dtype=np.int64)
        none = np.ones(self.frame_count, dtype=bool)
        for (start, size, radix), shown in zip(self._radices(), per_head):
            local = np.where(shown == NONE, size, shown - start)
            code += local * radix
            none &= shown == NONE
        code[none] = NONE
        return code

    def label_parts(self, code: int) -> list[int | None]:
        """A shown label -> the class index each head shows (None for a head showing none)."""
        if not self.card.multi_head:
            return [None if code == NONE else int(code)]
        parts = []
        for start, size, radix in self._radices():
            local = (int(code) // radix) % (size + 1) if code != NONE else size
            parts.append(None if local == size else start + local)
        return parts

    def frame_classes(self) -> np.ndarray:
        """(frames, heads): the class each head shows at each frame (its global index), -1 for
        none: the shown labels decoded, for views that draw each head's classes (the ethogram)."""
        codes = self.frame_labels()
        columns = []
        for start, size, radix in self._radices():
            local = np.where(codes == NONE, size, (codes // radix) % (size + 1))
            columns.append(np.where(local == size, NONE, start + local))
        return np.stack(columns, axis=1)

    def label_name(self, code: int) -> str | None:
        """The text of a shown label ("cut + onion" for a multi-head model), None for no label."""
        if code == NONE:
            return None
        return " + ".join(self.labels[i] if i is not None else "—" for i in self.label_parts(code))

    def label_confidence(self, probs: np.ndarray, code: int):
        """A shown label's probability in a row of `probs` (a float), or in each of several rows
        (an array); for several heads the product of theirs."""
        value = np.ones(probs.shape[:-1])
        for i in self.label_parts(code):
            if i is not None:
                value = value * probs[..., i]
        return float(value) if probs.ndim == 1 else value

    def processed(self) -> bool:
        """Whether the smoothed probabilities and labels for the current post-processing are
        computed (asking for them then costs nothing)."""
        return self._post_cache is not None and self._post_cache[0] == self.post

    def smoothed_probs(self) -> np.ndarray:
        """(frames, classes) after the post-processing's smoothing; NaN rows where no window covers."""
        return self._processed()[0]

    def frame_labels(self) -> np.ndarray:
        """(frames,) the label code shown for each frame, or -1 for none (see postprocess; with
        one head the code is the class index, `label_name` reads any)."""
        return self._processed()[1]

    def prepare(self) -> "AnalysisResult":
        """Compute now what the window draws (per-frame probabilities, the post-processing, the
        attention track and the segments), each kept for later calls: the window calls this on
        a thread of its own, so that a Kinetics model's results over a long video (arrays of
        frames × 400 classes) never hold up a repaint."""
        self.frame_probs()
        self.frame_attention()
        self.segments()
        return self

    def segments(self) -> list[dict]:
        """Runs of frames with one label, after post-processing; frames with no label are gaps."""
        cached = self.__dict__.get("_segment_cache")
        if cached is not None and cached[0] == self.post:
            return cached[1]
        out = self._segments()
        self.__dict__["_segment_cache"] = (self.post, out)
        return out

    def _segments(self) -> list[dict]:
        probs = self.smoothed_probs()
        runs = [r for r in segments(self.frame_labels(), self.timebase, self.post) if r[2] != NONE]
        if not runs:
            return []
        starts = np.fromiter((r[0] for r in runs), np.int64, len(runs))
        lengths = np.fromiter((r[1] for r in runs), np.int64, len(runs)) - starts + 1
        # each segment's confidence: the mean over its frames of its label's probability (the
        # product of its heads' classes'), NaN frames left out; one pass over all segments' frames
        # (a loop of nanmeans took tens of ms for the thousands of segments of a 400-class model)
        parts = np.array([[-1 if k is None else k for k in self.label_parts(r[2])] for r in runs], np.int64)
        first = np.cumsum(lengths) - lengths  # each segment's first position in the flat frames
        segment = np.repeat(np.arange(len(runs)), lengths)
        frames = np.arange(int(lengths.sum())) - first[segment] + starts[segment]
        value = np.ones(len(frames))
        for head in parts.T:
            classes = head[segment]
            shown = classes >= 0
            value[shown] *= probs[frames[shown], classes[shown]]
        finite = np.isfinite(value)
        sums = np.add.reduceat(np.where(finite, value, 0.0), first)
        counts = np.add.reduceat(finite.astype(np.int64), first)
        with np.errstate(invalid="ignore", divide="ignore"):
            confidence = np.where(counts > 0, sums / counts, np.nan)
        timebase, names = self.timebase, {}
        out = []
        for (start, end, label), c in zip(runs, confidence.tolist()):
            if label not in names:
                names[label] = self.label_name(label)
            out.append({"start_frame": start, "end_frame": end, "start_time": round(timebase.time(start), 6),
                        "end_time": round(timebase.time(end + 1), 6), "label": names[label],
                        "confidence": round(c, 6)})
        return out

    def uncovered_frames(self) -> int:
        """Frames no window's span covers (they get no label)."""
        return int(np.isnan(self.frame_probs()[:, 0]).sum()) if self.frame_count and len(self.labels) else 0

    # -- the window shown at a frame, and where the model looks there ------------------------
    def window_at(self, frame: int, live: bool = False) -> WindowResult | None:
        """The window whose prediction is shown at `frame` (the player's rule): for a file the
        window centred nearest to it (the earlier on a tie), if it covers the frame or its centre
        lies within a hop of it; `live`, the newest window that has ended by then. None before any."""
        if not self.windows:
            return None
        if live:
            ended = [w for w in self.windows[-64:] if w.end_frame <= frame]
            return ended[-1] if ended else None
        cached = self.__dict__.get("_centres")
        if cached is None or len(cached) != len(self.windows):
            cached = np.fromiter((w.centre_frame for w in self.windows), np.int64, len(self.windows))
            self.__dict__["_centres"] = cached
        w = self.windows[int(np.abs(cached - frame).argmin())]
        return w if w.start_frame <= frame <= w.end_frame or abs(w.centre_frame - frame) <= self.hop else None

    def spatial_at(self, frame: int, live: bool = False) -> np.ndarray | None:
        """(nh, nw) float32 summing to 1: where the model looks at `frame`, from the window shown
        there (`window_at`): the map of the tubelet that covers the frame in that window (its
        nearest sampled frame's, the rule of the temporal read-out). None when no window is shown
        there or the window has no maps (a result cached before maps were kept)."""
        w = self.window_at(frame, live)
        return None if w is None else w.spatial_for(frame, self.card.arch.tubelet_size)

    def spatial_shape(self) -> tuple[int, int, int]:
        """(nt, nh, nw) of a window's spatial maps for this model."""
        arch = self.card.arch
        return arch.temporal_tokens, arch.grid_size, arch.grid_size

    def spatial_maps(self) -> np.ndarray | None:
        """(windows, nt, nh, nw) float16, every window's maps; None unless every window has them."""
        if not self.windows or any(w.spatial is None for w in self.windows):
            return None
        return np.stack([np.asarray(w.spatial, dtype=np.float16) for w in self.windows])

    def attach_spatial(self, maps: np.ndarray) -> None:
        """Give the windows their maps back (from the cache): (windows, nt, nh, nw), one per
        window in order. Raises ValueError when they do not fit this result."""
        maps = np.asarray(maps)
        expected = (len(self.windows), *self.spatial_shape())
        if maps.shape != expected or maps.dtype.kind != "f" or not np.isfinite(maps).all():
            raise ValueError(f"spatial maps of shape {maps.shape} ({maps.dtype}) do not fit {expected}")
        maps = maps.astype(np.float16, copy=False)
        self.windows = [dataclasses.replace(w, spatial=m) for w, m in zip(self.windows, maps)]

    # -- clips shorter than one window ------------------------------------------------------
    def window_frames(self) -> int:
        """Source frames a video needs for one window without repeats: its samples span this
        many frames, first to last, at this video's frame rate."""
        span = ClipSpec.from_card(self.card).span(self.fps)
        return int(math.ceil(span * self.fps - 1e-6)) + 1

    @property
    def short_clip(self) -> bool:
        """The video is shorter than one window: every window repeats the video's first and last
        frames to fill the model's input (engine/windows.py `sample_window`)."""
        span = ClipSpec.from_card(self.card).span(self.fps)
        return bool(self.windows) and self.timebase.time(self.frame_count - 1) < span - 1e-9

    def warnings(self) -> list[str]:
        """What makes this result partial, in words a user can act on."""
        out = self.file_warnings()
        if self.short_clip:
            card = self.card
            every = "every frame" if card.frame_stride == 1 else f"every {_ordinal(card.frame_stride)} frame"
            rate = f" at {card.fps:g} fps" if card.fps and abs(card.fps - self.fps) > 1e-6 else ""
            out.append(f"the clip has {self.frame_count} frame{'s' if self.frame_count != 1 else ''}; the model's "
                       f"window needs {self.window_frames()} ({card.num_frames} samples, {every}{rate}): the "
                       "prediction is from a padded window, the clip's first and last frames repeated to fill it")
        uncovered = self.uncovered_frames()
        if uncovered:
            out.append(f"{uncovered} of {self.frame_count} frames are covered by no window and have no label "
                       f"(hop {self.hop} at {self.fps:g} fps)")
        return out

    def file_warnings(self) -> list[str]:
        """What is wrong with the file itself: cut short or damaged (the rest of `warnings` is
        about the model's windows)."""
        out = []
        if self.ended_early:
            out.append(self.ended_early)
        elif (self.claimed_frame_count and self.frame_count + self.frames_skipped < self.claimed_frame_count * 0.98
              and self.duration < self.claimed_frame_count / self.fps * 0.98):  # (a variable-rate file's frames
            # are fewer than its duration × its rate, and all there when they last that long)
            out.append(f"decoding stopped after {self.frame_count} of the {self.claimed_frame_count} frames the "
                       "container claims: the file is truncated or damaged, or its header is wrong")
        if self.frames_skipped:
            out.append(f"{self.frames_skipped} undecodable frame(s) were skipped")
        return out

    def top_actions(self, k: int = 3) -> list[tuple[str, float]]:
        """Labels by their share of the video's frames as the leading label."""
        share: dict[str, int] = {}
        for s in self.segments():
            share[s["label"]] = share.get(s["label"], 0) + s["end_frame"] - s["start_frame"] + 1
        ranked = sorted(share.items(), key=lambda kv: -kv[1])[:k]
        return [(label, n / max(self.frame_count, 1)) for label, n in ranked]

    # -- export ------------------------------------------------------------------------------
    def _model(self) -> dict:
        return {"name": self.card.name, "variant": self.card.variant, "sha256": self.model_sha256,
                "labels": list(self.labels)} | ({"heads": self._model_heads(self.card)} if self.card.heads else {})

    def _settings(self) -> dict:
        return window_settings(self.card, self.hop) | {"post": self.post.to_dict()}

    @staticmethod
    def _model_heads(card: ModelCard) -> list[dict]:
        return [{"name": n, "start": a, "size": b} for n, a, b in card.heads]

    @classmethod
    def from_dict(cls, data: dict, card: ModelCard) -> "AnalysisResult":
        """A result read back from `to_dict` (e.g. the sidecar cache), for the model whose card
        is given. Every field is checked (types, ranges, lengths): anything else raises
        ValueError naming the field, never another exception."""
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"invalid results: {what}")

        def integer(value, low=0, high=MAX_FRAMES) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

        def number(value, low=0.0, high=float("inf")) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                and low <= value <= high

        need(isinstance(data, dict), "not a JSON object")
        need(data.get("schema") == SCHEMA and data.get("version") == SCHEMA_VERSION, f"not a {SCHEMA} v{SCHEMA_VERSION} file")
        model, settings = data.get("model"), data.get("settings")
        need(isinstance(model, dict) and isinstance(settings, dict), "model or settings is not an object")
        need(isinstance(model.get("labels"), list) and tuple(model["labels"]) == card.labels
             and (not card.heads or model.get("heads") == cls._model_heads(card)),
             "the results are for a model with other labels")
        need(isinstance(model.get("sha256"), str) and isinstance(data.get("video_sha256"), str), "hashes")
        frame_count = data.get("frame_count")
        need(integer(frame_count, 1), "frame_count")
        need(number(data.get("fps"), 1e-3, 1e4), "fps")
        need(integer(data.get("frames_skipped")), "frames_skipped")
        need(data.get("claimed_frame_count") is None or integer(data.get("claimed_frame_count"), 0, 2**62),
             "claimed_frame_count")
        need(integer(settings.get("hop"), 1), "settings.hop")
        need(number(data.get("seconds")) and isinstance(data.get("source"), str) and isinstance(data.get("device"), str),
             "seconds, source or device")
        need(data.get("precision", "float32") in ("float32", "int8", "bf16", "fp16"), "precision")
        raw = data.get("windows")
        need(isinstance(raw, list) and len(raw) <= frame_count * 2 + 8, "windows")
        classes, frames_per_window = len(card.labels), card.num_frames
        windows = []
        for n, w in enumerate(raw):
            need(isinstance(w, dict), f"window {n} is not an object")
            frames, probs, attention = w.get("frames"), w.get("probs"), w.get("attention")
            need(integer(w.get("index")) and integer(w.get("centre_frame"), 0, frame_count - 1), f"window {n}'s index")
            need(isinstance(frames, list) and len(frames) == frames_per_window
                 and all(integer(f, 0, frame_count - 1) for f in frames), f"window {n}'s frames")
            need(isinstance(probs, list) and len(probs) == classes and all(number(p, 0.0, 1.0) for p in probs),
                 f"window {n}'s probabilities")
            need(isinstance(attention, list) and len(attention) == frames_per_window
                 and all(number(a, 0.0, 1.0) for a in attention), f"window {n}'s attention")
            need(number(w.get("latency_s")), f"window {n}'s latency")
            windows.append(WindowResult(w["index"], w["centre_frame"], tuple(frames), np.asarray(probs, np.float64),
                                        np.asarray(attention, np.float64), w["latency_s"]))
        times = data.get("frame_times")
        need(times is None or (isinstance(times, list) and len(times) == frame_count and all(number(t) for t in times)
                               and all(b >= a for a, b in zip(times, times[1:]))), "frame_times")
        return cls(source=data["source"], fps=float(data["fps"]), frame_count=frame_count,
                   frame_times=None if times is None else np.asarray(times, np.float64),
                   frames_skipped=data["frames_skipped"], claimed_frame_count=data["claimed_frame_count"], card=card,
                   ended_early=data["ended_early"] if isinstance(data.get("ended_early"), str) else "",
                   hop=settings["hop"], windows=windows, seconds=data["seconds"], device=data["device"],
                   precision=data.get("precision", "float32"),
                   model_sha256=model["sha256"], video_sha256=data["video_sha256"])

    def _frame_rows(self) -> list[dict]:
        probs, attention, shown = self.smoothed_probs(), self.frame_attention(), self.frame_labels()
        frames, times = [], self.timebase.time(np.arange(self.frame_count))
        for f in range(self.frame_count):
            row = {"frame": f, "time": round(float(times[f]), 6), "label": None, "confidence": None,
                   "attention": None if np.isnan(attention[f]) else round(float(attention[f]), 6)}
            if shown[f] != NONE:
                row.update(label=self.label_name(shown[f]), confidence=round(self.label_confidence(probs[f], shown[f]), 6))
                if self.card.multi_head:
                    row["heads"] = {head: None if i is None else [self.labels[i], round(float(probs[f, i]), 6)]
                                    for (head, _, _), i in zip(self.card.head_slices(), self.label_parts(shown[f]))}
            frames.append(row)
        return frames

    def to_dict(self, top_k: int = 5, per_frame: bool = True) -> dict:
        """The JSON schema above; without `per_frame`, only what the windows hold (no frames or
        segments: they are derived, and the cache stores no more than it needs)."""
        return {
            "schema": SCHEMA, "version": SCHEMA_VERSION, "source": self.source, "video_sha256": self.video_sha256,
            "fps": self.fps, "frame_count": self.frame_count, "claimed_frame_count": self.claimed_frame_count,
            "frames_skipped": self.frames_skipped, "ended_early": self.ended_early, "model": self._model(),
            "settings": self._settings(),
            "device": self.device, "precision": self.precision, "seconds": round(self.seconds, 3),
            "short_clip": self.short_clip,
        } | ({"frame_times": self.timebase.to_json()} if not self.timebase.constant else {}) | {
            "windows": [{"index": w.index, "centre_frame": w.centre_frame, "frames": list(w.frames),
                         "start_frame": w.start_frame, "end_frame": w.end_frame,
                         "top": [[label, round(p, 6)] for label, p in w.top(self.card, top_k)],
                         "probs": [round(float(p), 6) for p in w.probs],
                         "attention": [round(float(a), 6) for a in w.attention],
                         "latency_s": round(w.latency_s, 6)} for w in self.windows],
        } | ({"frames": self._frame_rows(), "segments": self.segments(), "warnings": self.warnings()}
             if per_frame else {})

    def write_json(self, path: str | Path, overwrite: bool = False, top_k: int = 5) -> list[Path]:
        return [atomic_write_text(path, self.to_json(top_k), overwrite)]

    def check_finite(self) -> None:
        """Raise ValueError if a window holds NaN or infinite outputs (broken weights or card)."""
        for w in self.windows:
            if not (np.isfinite(w.probs).all() and np.isfinite(w.attention).all()):
                raise ValueError(f"{self.source}: the model gave NaN or infinite outputs (window {w.index}, frames "
                                 f"{w.start_frame}-{w.end_frame}); its weights or card are broken")

    def to_json(self, top_k: int = 5, per_frame: bool = True, **dumps) -> str:
        """Strict JSON (no NaN or Infinity tokens: a result holding them is refused)."""
        self.check_finite()
        return json.dumps(self.to_dict(top_k, per_frame), allow_nan=False, **({"indent": 1} | dumps)) + "\n"

    def write_csv(self, path: str | Path, overwrite: bool = False, top_k: int = 5) -> list[Path]:
        path = Path(path)
        stem = path.with_suffix("")
        targets = [path, stem.with_name(stem.name + ".windows.csv"), stem.with_name(stem.name + ".segments.csv")]
        for target in targets:  # refuse before writing any of the three
            check_writable(target, overwrite)
        header = (f"# source: {self.source}\n# model: {self.card.name} ({self.card.variant}) sha256 {self.model_sha256}\n"
                  f"# settings: {json.dumps(self._settings())}\n")
        self.check_finite()
        data = self.to_dict(top_k)
        labels = list(self.card.qualified_labels)
        probs = self.smoothed_probs()
        frame_rows = [[r["frame"], r["time"], r["label"] or "", "" if r["confidence"] is None else r["confidence"],
                       "" if r["attention"] is None else r["attention"], *(["" if np.isnan(p) else round(float(p), 6) for p in probs[r["frame"]]])]
                      for r in data["frames"]]
        window_rows = [[w["index"], w["centre_frame"], w["start_frame"], w["end_frame"], w["top"][0][0],
                        w["top"][0][1], ";".join(f"{label}:{p}" for label, p in w["top"]), w["latency_s"], *w["probs"]]
                       for w in data["windows"]]
        segment_rows = [list(s.values()) for s in data["segments"]]
        tables = [
            (["frame", "time", "label", "confidence", "attention", *[f"p_{label}" for label in labels]], frame_rows),
            (["window", "centre_frame", "start_frame", "end_frame", "label", "confidence", "top", "latency_s",
              *[f"p_{label}" for label in labels]], window_rows),
            (["start_frame", "end_frame", "start_time", "end_time", "label", "confidence"], segment_rows),
        ]
        texts = {}
        for target, (columns, rows) in zip(targets, tables):
            buffer = io.StringIO()
            buffer.write(header)
            writer = csv.writer(buffer)
            writer.writerow(columns)
            writer.writerows(rows)
            texts[target] = buffer.getvalue()
        atomic_write_texts(texts, overwrite)  # the three files are replaced together or not at all
        return targets
