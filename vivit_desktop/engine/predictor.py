"""The predictor: owns a model on a device and turns batches of windows into probabilities and
temporal attention. No Qt."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

log = logging.getLogger(__name__)


def pick_device(choice: str = "auto") -> torch.device:
    """'auto' = CUDA, then Apple MPS, then the CPU; or a device the user named."""
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except RuntimeError as e:
        raise ValueError(f"unknown device {choice!r}; use auto, cpu, cuda or mps") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was asked for but no CUDA GPU is available; use --device cpu or auto")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("Apple MPS was asked for but is not available; use --device cpu or auto")
    return device


@dataclass(frozen=True)
class Prediction:
    probs: np.ndarray  # (B, classes)
    attention: np.ndarray  # (B, T) per input frame, rows sum to 1
    seconds: float  # wall time of the whole batch


class Predictor:
    """Runs `forward_with_attention` under inference mode; fp16 autocast on CUDA. A CUDA
    out-of-memory halves the batch, and at batch 1 moves to the CPU, with a warning."""

    def __init__(self, model, device: str = "auto", leave_a_core: bool = False) -> None:
        self.device = pick_device(device)
        if self.device.type == "cpu":
            cores = os.cpu_count() or 1
            torch.set_num_threads(max(1, cores - 1) if leave_a_core else cores)
        self.model = model.eval().to(self.device)
        self.card = model.card

    def predict(self, clips: np.ndarray) -> Prediction:
        """(B, T, C, H, W) float32 -> probabilities and attention."""
        start = time.perf_counter()
        chunks, size = [], len(clips)
        i = 0
        while i < len(clips):
            try:
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
        probs = np.concatenate([c[0] for c in chunks])
        attention = np.concatenate([c[1] for c in chunks])
        return Prediction(probs, attention, time.perf_counter() - start)

    def _run(self, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(clips))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        else:
            x = x.to(self.device)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.float16,
                                                    enabled=self.device.type == "cuda"):
            logits, readout = self.model.forward_with_attention(x)
        probs = torch.softmax(logits.float(), dim=-1)
        return probs.cpu().numpy(), readout.temporal.float().cpu().numpy()
