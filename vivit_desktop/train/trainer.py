"""The trainer: AdamW, linear warm-up then cosine decay, label smoothing, gradient clipping,
mixed precision on CUDA, periodic validation, checkpoints and resumption.

A run writes OUT.safetensors + OUT.json (the model and its card, loadable like any checkpoint)
and OUT.train.pt (optimizer, step, settings: plain tensors and numbers, read back with
`torch.load(weights_only=True)`). Batches are a function of the step number alone, so a resumed
run continues with exactly the clips it would have seen.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ..errors import VivitError

from ..fileio import atomic_path
from ..model.checkpoint import CheckpointError, check_state_dict, read_card, read_state_dict, save_model
from ..model.config import ModelCard
from .evaluate import Evaluation, evaluate


class TrainError(ValueError, VivitError):
    """A run that cannot start or continue; the message says what to do."""


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    label_smoothing: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    eval_every: int = 250  # steps between validations (and checkpoints); 0: only at the end
    workers: int = 1  # data loader processes (0: load in the training process)
    amp: bool = True  # bf16/fp16 autocast on CUDA; ignored on CPU

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise TrainError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.label_smoothing < 1:
            raise TrainError(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.lr <= 0:
            raise TrainError(f"the learning rate must be positive, got {self.lr}")

    def learning_rate(self, step: int) -> float:
        """Linear warm-up to `lr` over `warmup_steps`, then cosine decay to zero at `steps`."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        return self.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class TrainReport:
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)  # mean training loss per logged interval
    train_accuracy: list[float] = field(default_factory=list)
    validations: list[tuple[int, float]] = field(default_factory=list)  # (step, accuracy)
    evaluation: Evaluation | None = None
    weights: Path | None = None


class _StepBatches(torch.utils.data.Sampler):
    """Batch b holds items b * batch_size ... (b + 1) * batch_size - 1, mapped through a seeded
    permutation per epoch for finite datasets: a function of the step alone."""

    def __init__(self, length: int | None, batch_size: int, first_step: int, steps: int, seed: int) -> None:
        self.length, self.batch, self.first, self.steps, self.seed = length, batch_size, first_step, steps, seed
        self._perms: dict[int, np.ndarray] = {}

    def _item(self, k: int) -> int:
        if self.length is None:  # generated data: every item is new
            return k
        epoch, i = divmod(k, self.length)
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.length)}
        # the epoch travels in the index: datasets draw their augmentation from it
        return epoch * self.length + int(self._perms[epoch][i])

    def __iter__(self):
        for step in range(self.first, self.steps):
            yield [self._item(step * self.batch + j) for j in range(self.batch)]

    def __len__(self) -> int:
        return self.steps - self.first


def _autocast(device: torch.device, enabled: bool):
    if device.type == "cuda" and enabled:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast(device.type, enabled=False)


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".train.pt")


def _out_stem(out: str | Path) -> Path:
    out = Path(out)
    return out.with_suffix("") if out.suffix in (".safetensors", ".json") else out


def check_outputs(out: str | Path, *, resume: bool, overwrite: bool) -> Path:
    """Refuse to start over an earlier run unless resuming it or told to overwrite."""
    out = _out_stem(out)
    if not out.parent.is_dir():
        raise TrainError(f"cannot write {out}: the folder {out.parent} does not exist")
    existing = [p for p in (out.with_name(out.name + ".safetensors"), out.with_name(out.name + ".json"),
                            state_path(out)) if p.exists()]
    if resume:
        if not state_path(out).exists():
            raise TrainError(f"nothing to resume: {state_path(out)} does not exist (it is written at each checkpoint)")
    elif existing and not overwrite:
        raise TrainError(f"{existing[0]} already exists; pass --resume to continue that run, --force to start over, "
                         "or choose another -o")
    return out


def _resume(model, optimizer, out: Path, settings: TrainSettings) -> int:
    """Load weights and optimizer state of the run at `out`; returns the step to continue from."""
    card_path, weights = out.with_name(out.name + ".json"), out.with_name(out.name + ".safetensors")
    try:
        saved_card = read_card(card_path)
        if saved_card.arch != model.config:
            diff = [f"{f.name} {getattr(saved_card.arch, f.name)!r} (now {getattr(model.config, f.name)!r})"
                    for f in dataclasses.fields(model.config)
                    if getattr(saved_card.arch, f.name) != getattr(model.config, f.name)]
            raise TrainError(f"{card_path} is a checkpoint of another architecture: {', '.join(diff)}; resume it "
                             "with the same --model and settings, or train into another -o")
        if tuple(saved_card.labels) != tuple(model.card.labels):
            raise TrainError(f"{card_path} was trained on the labels {', '.join(saved_card.labels)}, not these; "
                             "resume with the same data or train into another -o")
        state = read_state_dict(weights)
        check_state_dict(model, state, weights)
    except CheckpointError as e:
        raise TrainError(f"cannot resume: {e}") from e
    model.load_state_dict(state)
    try:
        saved = torch.load(state_path(out), map_location="cpu", weights_only=True)
        optimizer.load_state_dict(saved["optimizer"])
        step = int(saved["step"])
        saved_settings = json.loads(saved["settings"])
    except Exception as e:  # noqa: BLE001 - a damaged state file, whatever the failure
        from ..model.checkpoint import describe_torch_load_error

        raise TrainError(f"cannot resume from {state_path(out)}: {describe_torch_load_error(e)}; train into "
                         "another -o, or delete it and start again with --force") from e
    if saved_settings.get("batch_size") != settings.batch_size or saved_settings.get("seed") != settings.seed:
        raise TrainError(f"{state_path(out)} was trained with batch size {saved_settings.get('batch_size')} and seed "
                         f"{saved_settings.get('seed')}; resume with the same to see the same data")
    if "torch_rng" in saved:
        torch.set_rng_state(saved["torch_rng"])
    return step


def _save(model, card: ModelCard, optimizer, out: Path, step: int, settings: TrainSettings) -> Path:
    weights, _ = save_model(model, out, overwrite=True, card=card)
    with atomic_path(state_path(out), overwrite=True) as tmp:
        torch.save({"optimizer": optimizer.state_dict(), "step": step, "settings": json.dumps(dataclasses.asdict(settings)),
                    "torch_rng": torch.get_rng_state()}, tmp)
    return weights


def train(model, train_set: Dataset, out: str | Path, settings: TrainSettings = TrainSettings(), *,
          val_set: Dataset | None = None, device: str | torch.device = "cpu", resume: bool = False,
          overwrite: bool = False, progress: bool = True, provenance: dict[str, Any] | None = None,
          on_log: Callable[[str], None] | None = None) -> TrainReport:
    """Train `model` (its card names the labels and preprocessing) on `train_set`, validating on
    `val_set`; checkpoints go to `out` (a path without extension)."""
    out = check_outputs(out, resume=resume, overwrite=overwrite)
    device = torch.device(device)
    torch.manual_seed(settings.seed)
    model.to(device)
    decay, no_decay = [], []  # no weight decay on norms, biases, position embeddings and tokens
    for name, param in model.named_parameters():
        matrix = param.ndim > 1 and "pos_embed" not in name and "token" not in name
        (decay if matrix else no_decay).append(param)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=settings.lr)
    first = _resume(model, optimizer, out, settings) if resume else 0
    if first >= settings.steps:
        raise TrainError(f"{out} already finished {first} steps; to train longer pass a larger --steps")
    card = model.card.replace(provenance={**dict(model.card.provenance), **(provenance or {}),
                                          "training": dataclasses.asdict(settings)})
    finite = None if getattr(train_set, "endless", False) else len(train_set)
    loader = DataLoader(train_set, batch_sampler=_StepBatches(finite, settings.batch_size, first, settings.steps,
                                                              settings.seed),
                        num_workers=settings.workers, persistent_workers=False,
                        pin_memory=device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and settings.amp
                                  and not torch.cuda.is_bf16_supported())
    report = TrainReport(steps=settings.steps, seconds=0.0)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=settings.steps, initial=first, desc=f"training {out.name}", unit="step", dynamic_ncols=True)
    started = time.perf_counter()
    window_loss, window_hits, window_seen = 0.0, 0, 0
    step = first
    model.train()
    for clips, labels in loader:
        clips = clips.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        for group in optimizer.param_groups:
            group["lr"] = settings.learning_rate(step)
        with _autocast(device, settings.amp):
            logits = model(clips)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=settings.label_smoothing)
        if not torch.isfinite(loss):
            raise TrainError(f"the loss became {loss.item()} at step {step + 1}; lower the learning rate (--lr)")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        step += 1
        window_loss += loss.item() * len(labels)
        window_hits += int((logits.argmax(1) == labels).sum())
        window_seen += len(labels)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{window_loss / window_seen:.3f}", acc=f"{window_hits / window_seen:.2f}",
                            lr=f"{settings.learning_rate(step):.1e}", refresh=False)
        last = step == settings.steps
        if last or (settings.eval_every and step % settings.eval_every == 0):
            report.losses.append(window_loss / window_seen)
            report.train_accuracy.append(window_hits / window_seen)
            message = f"step {step}: loss {window_loss / window_seen:.4f}, train accuracy {window_hits / window_seen:.3f}"
            window_loss, window_hits, window_seen = 0.0, 0, 0
            if val_set is not None and len(val_set) and (not last):
                accuracy = evaluate(model, val_set, device=device, batch_size=settings.batch_size,
                                    progress=False).accuracy
                report.validations.append((step, accuracy))
                message += f", validation accuracy {accuracy:.3f}"
                model.train()
            report.weights = _save(model, card, optimizer, out, step, settings)
            if on_log:
                on_log(message)
            elif bar is not None:
                bar.write(message)
    if bar is not None:
        bar.close()
    model.eval()
    report.seconds = time.perf_counter() - started
    if val_set is not None and len(val_set):
        report.evaluation = evaluate(model, val_set, device=device, batch_size=settings.batch_size, progress=progress)
        report.validations.append((step, report.evaluation.accuracy))
    return report
