"""Training data: the generated camera-motion clips, and folders of the user's own clips.

Both are map-style datasets of (clip (T, C, S, S) float32, label) prepared exactly as the
engine prepares a window (`Preprocessor`, `sample_window`), so a model sees in training what it
will see in the program. Randomness comes from the item index alone: index `epoch * len + i`
is clip i in epoch `epoch`, so data loader workers and resumed runs draw the same clips.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import VivitError

from ..engine.preprocess import Preprocessor
from ..engine.sources import SourceError, open_source
from ..engine.windows import ClipSpec, centred_end_time, sample_window
from ..model.config import ModelCard
from . import generator

log = logging.getLogger(__name__)

SYNTHETIC_PREFIX = "synthetic:"
CAMERA_MOTION = "synthetic:camera-motion"


class DataError(ValueError, VivitError):
    """A dataset that cannot be used; the message says what to fix."""


def prepare(pre: Preprocessor, frames) -> torch.Tensor:
    """Frames (each (H, W, 3) uint8 RGB) -> the model's clip (T, C, S, S) float32."""
    return torch.from_numpy(np.stack([pre(f) for f in frames]))


class CameraMotionClips(Dataset):
    """`length` generated clips of a split; item i is `generator.render_clip(i)` (any index is
    valid, so a training run never sees the same clip twice)."""

    labels = generator.LABELS
    endless = True  # the trainer may ask for any index: every clip is new

    def __init__(self, card: ModelCard, split: str = generator.TRAIN, length: int = 1000, seed: int = 0) -> None:
        if tuple(card.labels) != generator.LABELS:
            raise DataError(f"the camera-motion clips have the labels {', '.join(generator.LABELS)}; "
                            f"the model has {len(card.labels)} others")
        self.card, self.split, self.length, self.seed = card, split, length, seed
        self.pre = Preprocessor(card)
        self.skipped: list[tuple[str, str]] = []
        self.name = f"{CAMERA_MOTION} ({split}, seed {seed})"

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        frames, label, _ = generator.render_clip(int(index), split=self.split, seed=self.seed,
                                                 size=self.card.resize_shorter or self.card.image_size,
                                                 num_frames=self.card.num_frames, seconds=card_seconds(self.card))
        return prepare(self.pre, frames), label


def card_seconds(card: ModelCard) -> float:
    """What one of the card's windows spans, first frame to last: what a generated clip for it spans."""
    return ClipSpec.from_card(card).span(30.0)  # a card without a frame rate: 30 fps video


def _render_for_pool(job: tuple[int, str, int, int, int, float]) -> tuple[np.ndarray, int]:
    index, split, seed, size, frames, seconds = job
    clip, label, _ = generator.render_clip(index, split=split, seed=seed, size=size, num_frames=frames,
                                           seconds=seconds)
    return clip, label


class CameraMotionPool(Dataset):
    """`clips` generated clips rendered once (in `processes` processes) and drawn from without
    end, each draw mirrored, flipped and reversed in time at random with its label changed to
    match (`generator.transform_clip`): eight exact variants of every clip for the price of one.

    A curriculum: the first `warmup_items` draws (the first `warmup_items / batch_size` steps of
    a run) come only from the pure translations and static clips. A ViViT trained from scratch
    on all ten motions at once stays at chance for thousands of steps; once it has learnt to
    see translation, zoom and roll (patterns of local translations) follow within hundreds.
    Item k depends on (seed, k) alone, so resumed runs and data loader workers agree."""

    labels = generator.LABELS
    endless = True

    def __init__(self, card: ModelCard, clips: int, *, split: str = generator.TRAIN, seed: int = 0,
                 warmup_items: int = 0, processes: int = 1, progress: bool = False) -> None:
        if tuple(card.labels) != generator.LABELS:
            raise DataError(f"the camera-motion clips have the labels {', '.join(generator.LABELS)}; "
                            f"the model has {len(card.labels)} others")
        if clips < len(generator.LABELS):
            raise DataError(f"a pool needs at least {len(generator.LABELS)} clips (one per label), got {clips}")
        self.card, self.seed, self.warmup_items = card, seed, warmup_items
        self.pre = Preprocessor(card)
        self.skipped: list[tuple[str, str]] = []
        self.name = f"{CAMERA_MOTION} ({split}, seed {seed}, pool of {clips})"
        size = card.resize_shorter or card.image_size
        jobs = [(i, split, seed, size, card.num_frames, card_seconds(card)) for i in range(clips)]
        if processes > 1:
            import multiprocessing

            with multiprocessing.get_context("spawn").Pool(processes) as pool:
                rendered = list(self._progress(pool.imap(_render_for_pool, jobs, chunksize=32), clips, progress))
        else:
            rendered = [_render_for_pool(job) for job in self._progress(jobs, clips, progress)]
        self.frames = np.stack([clip for clip, _ in rendered])
        self.targets = np.array([label for _, label in rendered])
        easy = [generator.LABELS.index(name) for name in generator.TRANSLATIONS]
        self._easy = np.flatnonzero(np.isin(self.targets, easy))

    @staticmethod
    def _progress(items, total: int, enabled: bool):
        if not enabled:
            return items
        from tqdm import tqdm

        return tqdm(items, total=total, desc="rendering clips", unit="clip", dynamic_ncols=True)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        rng = np.random.default_rng([self.seed, 11, int(index)])
        choices = self._easy if index < self.warmup_items else None
        k = int(rng.choice(choices)) if choices is not None else int(rng.integers(len(self.frames)))
        mirror, flip, reverse = (bool(b) for b in rng.integers(0, 2, 3))
        frames, label = generator.transform_clip(self.frames[k], int(self.targets[k]), mirror=mirror, flip=flip,
                                                 reverse=reverse)
        return prepare(self.pre, frames), label


@dataclass(frozen=True)
class ClipInfo:
    path: Path
    label: int
    times: tuple[float, ...]  # every decoded frame's timestamp
    fps: float


def _clip_entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def class_folders(root: str | Path) -> list[Path]:
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DataError(f"{root} is a file, not a folder; a dataset is a folder with one sub-folder of clips per "
                        "class")
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; a dataset is a folder with one sub-folder of clips per class")
    folders = [p for p in _clip_entries(root) if p.is_dir()]
    if not folders:
        raise DataError(f"{root} has no class folders; put each class's clips in a sub-folder named after the class "
                        f"(e.g. {root}/walking/clip1.mp4)")
    empty = [p.name for p in folders if not _clip_entries(p)]
    if empty:
        raise DataError(f"class folder(s) with no clips in {root}: {', '.join(empty)}; add clips or remove the folder")
    return folders


class ClipFolder(Dataset):
    """DATA_DIR/<class>/<clip>: videos in any format the engine reads, or folders of images.

    Every clip is decoded once up front to check it and learn its frame times; a clip that cannot
    be read is skipped with a warning and listed in `skipped`. Items are windows sampled like the
    engine's: at a random end time in training, centred in evaluation. `labels` fixes the class
    order (a model's); by default the class folders in name order."""

    def __init__(self, root: str | Path, card: ModelCard, *, labels: tuple[str, ...] | None = None,
                 training: bool = True, seed: int = 0, clips: list[ClipInfo] | None = None) -> None:
        self.root, self.card, self.training, self.seed = Path(root), card, training, seed
        self.pre = Preprocessor(card)
        self.spec = ClipSpec.from_card(card)
        self.name = str(self.root)
        self.skipped: list[tuple[str, str]] = []
        if clips is not None:
            self.labels, self.clips = tuple(labels), clips
        else:
            folders = class_folders(self.root)
            found = tuple(p.name for p in folders)
            self.labels = tuple(labels) if labels is not None else found
            if labels is not None:
                unknown = sorted(set(found) - set(labels))
                if unknown:
                    raise DataError(f"{self.root} has class folder(s) the model does not know: {', '.join(unknown)} "
                                    f"(its labels: {', '.join(labels)})")
            if len(found) < 2 and labels is None:
                raise DataError(f"{self.root} has only one class ({found[0]}); a classifier needs at least two "
                                "class folders")
            self.clips = self._scan(folders)
            if self.skipped:
                log.warning("skipped %d unreadable clip(s) of %d in %s", len(self.skipped),
                            len(self.skipped) + len(self.clips), self.root)
            empty = [p.name for p in folders if not any(c.label == self.labels.index(p.name) for c in self.clips)]
            if empty:
                raise DataError(f"no readable clips in class folder(s) {', '.join(empty)} of {self.root}")
        self.targets = [c.label for c in self.clips]

    def _scan(self, folders: list[Path]) -> list[ClipInfo]:
        clips = []
        for folder in folders:
            label = self.labels.index(folder.name)
            for path in _clip_entries(folder):
                try:
                    with open_source(path) as source:
                        times = tuple(f.timestamp for f in source.frames())
                        fps = source.fps
                except (SourceError, OSError) as e:
                    reason = str(e)
                    self.skipped.append((str(path), reason))
                    log.warning("skipping %s", reason)
                    continue
                clips.append(ClipInfo(path, label, times, fps))
        return clips

    def subset(self, indices, training: bool) -> "ClipFolder":
        return ClipFolder(self.root, self.card, labels=self.labels, training=training, seed=self.seed,
                          clips=[self.clips[i] for i in indices])

    def split(self, fraction: float) -> tuple["ClipFolder", "ClipFolder"]:
        """(train, validation): `fraction` of each class's clips, at least one, held out at
        random (seeded); a class with a single clip stays in training only."""
        rng = np.random.default_rng([self.seed, 7])
        train, val = [], []
        for label in range(len(self.labels)):
            members = [i for i, c in enumerate(self.clips) if c.label == label]
            rng.shuffle(members)
            k = max(1, round(fraction * len(members))) if len(members) > 1 and fraction > 0 else 0
            val += members[:k]
            train += members[k:]
        return self.subset(sorted(train), True), self.subset(sorted(val), False)

    def __len__(self) -> int:
        return len(self.clips)

    def window_end(self, clip: ClipInfo, index: int) -> float:
        """Where the window of item `index` ends: centred in evaluation (and in clips shorter than
        a window), anywhere the whole window fits in training."""
        duration, span = clip.times[-1], self.spec.span(clip.fps)
        if not self.training or duration <= span:
            return centred_end_time(duration / 2, self.spec, clip.fps)
        return float(np.random.default_rng([self.seed, index]).uniform(span, duration))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        clip = self.clips[index % len(self.clips)]
        picks = sample_window(clip.times, self.window_end(clip, index), self.spec, clip.fps)
        wanted = set(picks)
        frames = {}
        with open_source(clip.path) as source:
            for frame in source.frames():
                if frame.index in wanted:
                    frames[frame.index] = self.pre(frame.image)
                if frame.index >= picks[-1]:
                    break
        if len(frames) < len(wanted):
            raise DataError(f"{clip.path}: decoded differently the second time (frames {sorted(wanted - set(frames))} "
                            "are missing)")
        return torch.from_numpy(np.stack([frames[i] for i in picks])), clip.label


def open_dataset(spec: str, card: ModelCard, *, training: bool, seed: int = 0, length: int = 1000):
    """A folder of class folders, or `synthetic:camera-motion` (the training split when
    `training`, else the held-out one)."""
    if spec.startswith(SYNTHETIC_PREFIX):
        if spec != CAMERA_MOTION:
            raise DataError(f"unknown generated dataset {spec!r}; the only one is {CAMERA_MOTION}")
        generator.skimage_data_dir()  # says what to do here, not from inside a loader's worker
        split = generator.TRAIN if training else generator.HELDOUT
        return CameraMotionClips(card, split, length=length, seed=seed)
    return ClipFolder(spec, card, labels=None if training else tuple(card.labels), training=training, seed=seed)
