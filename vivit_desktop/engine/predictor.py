"""The predictor: owns a model on a device and turns batches of windows into probabilities and
temporal attention. No Qt."""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np
import torch

from ..model.config import FACTORISED_ENCODER

log = logging.getLogger(__name__)


def device_available(kind: str) -> bool:
    """Whether this machine has a device of this type ("cpu", "cuda" or "mps")."""
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return kind == "cpu"


def pick_device(choice: str = "auto") -> torch.device:
    """'auto' = CUDA, then Apple MPS, then the CPU; or a device the user named."""
    if choice == "auto":
        return torch.device(next(kind for kind in ("cuda", "mps", "cpu") if device_available(kind)))
    try:
        device = torch.device(choice)
    except RuntimeError as e:
        raise ValueError(f"unknown device {choice!r}; use auto, cpu, cuda or mps") from e
    if device.type == "cuda" and not device_available("cuda"):
        raise ValueError("CUDA was asked for but no CUDA GPU is available; use --device cpu or auto")
    if device.type == "mps" and not device_available("mps"):
        raise ValueError("Apple MPS was asked for but is not available; use --device cpu or auto")
    return device


@dataclass(frozen=True)
class Prediction:
    probs: np.ndarray  # (B, classes)
    attention: np.ndarray  # (B, T) per input frame, rows sum to 1
    seconds: float  # wall time of the whole batch


class TubeletCache:
    """Model 2's spatial-encoder outputs by the tubelet they encode (a source's key and the
    frames it holds), least recently used out first. A sliding window with a hop of k tubelets
    then costs k spatial passes plus one temporal pass."""

    def __init__(self, capacity: int = 2048) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()

    def get(self, key: Hashable):
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: Hashable, value: tuple[torch.Tensor, torch.Tensor]) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class Predictor:
    """Runs `forward_with_attention` under inference mode; bf16 (or fp16) autocast on CUDA. A CUDA
    out-of-memory halves the batch, and at batch 1 moves to the CPU, with a warning.

    For Model 2, windows that say which source frames they hold (`frames`, with a `source`
    key naming the video) reuse the spatial encoding of tubelets seen before; `reuse=False`
    turns that off. `precision`: "auto" (bf16/fp16 autocast on CUDA, float32 elsewhere) or
    "float32" (everywhere)."""

    PRECISIONS = ("auto", "float32")

    def __init__(self, model, device: str = "auto", leave_a_core: bool = False, reuse: bool = True,
                 precision: str = "auto") -> None:
        if precision not in self.PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use {' or '.join(self.PRECISIONS)}")
        self.precision = precision
        self.device = pick_device(device)
        if self.device.type == "cpu":
            cores = os.cpu_count() or 1
            torch.set_num_threads(max(1, cores - 1) if leave_a_core else cores)
        self.model = model.eval().to(self.device)
        self.card = model.card
        self.cache = TubeletCache() if reuse and model.variant == FACTORISED_ENCODER else None
        self.spatial_passes = 0  # tubelets (or clips' worth of tubelets) through the spatial encoder

    def predict(self, clips: np.ndarray, frames: Sequence[Sequence[int]] | None = None,
                source: Hashable = None) -> Prediction:
        """(B, T, C, H, W) float32 -> probabilities and attention. `frames` (B, T): the source
        frame indices each clip holds, which lets Model 2 reuse tubelets."""
        start = time.perf_counter()
        chunks, size = [], len(clips)
        i = 0
        while i < len(clips):
            try:
                if self.cache is not None and frames is not None:
                    chunks.append(self._run_cached(clips[i:i + size], frames[i:i + size], source))
                else:
                    chunks.append(self._run(clips[i:i + size]))
                i += size
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                if size > 1:
                    size //= 2
                    log.warning("GPU out of memory: retrying with batches of %d", size)
                else:
                    log.warning("GPU out of memory at batch 1: moving the model to the CPU")
                    self.device = torch.device("cpu")
                    self.model = self.model.to(self.device)
                    if self.cache is not None:
                        self.cache.clear()
        probs = np.concatenate([c[0] for c in chunks])
        attention = np.concatenate([c[1] for c in chunks])
        return Prediction(probs, attention, time.perf_counter() - start)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True)
        return x.to(self.device)

    def _autocast(self):
        """bf16 where the GPU has it (no overflow), else fp16; full precision on the CPU."""
        if self.device.type != "cuda" or self.precision == "float32":
            return torch.autocast(self.device.type if self.device.type == "cuda" else "cpu", enabled=False)
        bf16 = torch.cuda.is_bf16_supported()
        return torch.autocast("cuda", dtype=torch.bfloat16 if bf16 else torch.float16)

    def _outputs(self, logits: torch.Tensor, readout) -> tuple[np.ndarray, np.ndarray]:
        probs = self.model.probabilities(logits)  # a softmax per head
        return probs.cpu().numpy(), readout.temporal.float().cpu().numpy()

    def _run(self, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self._tensor(clips)
        with torch.inference_mode(), self._autocast():
            logits, readout = self.model.forward_with_attention(x)
        self.spatial_passes += x.shape[0] * self.model.config.temporal_tokens
        return self._outputs(logits, readout)

    def _run_cached(self, clips: np.ndarray, frames, source: Hashable) -> tuple[np.ndarray, np.ndarray]:
        t, nt = self.model.config.tubelet_size, self.model.config.temporal_tokens
        if clips.shape[1] != t * nt:
            self.model.check_input(torch.from_numpy(clips[:1]))  # raises with the expected shape
        keys = [[(source, tuple(int(f) for f in frames[b][j * t:(j + 1) * t])) for j in range(nt)]
                for b in range(len(clips))]
        missing: dict[Hashable, tuple[int, int]] = {}
        for b, row in enumerate(keys):
            for j, key in enumerate(row):
                if key not in missing and self.cache.get(key) is None:
                    missing[key] = (b, j)
        with torch.inference_mode(), self._autocast():
            if missing:
                tubelets = np.stack([clips[b, j * t:(j + 1) * t] for b, j in missing.values()])
                encoded, spatial = self.model.encode_tubelets(self._tensor(tubelets))
                self.spatial_passes += len(missing)
                for n, key in enumerate(missing):
                    self.cache.put(key, (encoded[n], spatial[n]))
                found = dict(zip(missing, zip(encoded, spatial)))  # safe even if the cache is small
            else:
                found = {}
            items = [[found.get(key) or self.cache.get(key) for key in row] for row in keys]
            features = torch.stack([torch.stack([item[0] for item in row]) for row in items])
            spatial_maps = torch.stack([torch.stack([item[1] for item in row]) for row in items])
            logits, readout = self.model.classify_tubelets(features, spatial_maps)
        return self._outputs(logits, readout)
