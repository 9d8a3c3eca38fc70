"""The predictor: owns a model on a device and turns batches of windows into probabilities,
temporal attention and spatial attention maps. No Qt."""

from __future__ import annotations

import copy
import logging
import os
import statistics
import time
import warnings
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


INT8_MARGIN = 0.8  # `auto` picks int8 on the CPU when it takes at most this share of float32's time
INT8_MIN_PASS_S = 0.02  # float32 passes faster than this: int8 cannot save enough to be worth trying
INT8_MIN_WIDTH = 384  # narrower models (ViViT-Ti, the shipped ones) stay float32 without measuring:
# their GEMMs are too small for int8 to pay off (measured slower), and a fixed rule keeps them
# deterministic on a busy machine, where a clock can say anything
_AUTO_DECISIONS: dict[tuple, tuple[str, str]] = {}  # (architecture, path, threads) -> (precision, why)


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` whose `nn.Linear` layers compute in int8 on the CPU (PyTorch's dynamic
    quantisation: int8 weights, activations quantised per call); the classification head stays
    float32 (a sliver of the work, and its error would go straight into the logits). Every
    method (`forward_with_attention`, `encode_tubelets`, `classify_tubelets`) works unchanged."""
    try:
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic
    except ImportError as e:  # a future PyTorch without torch.ao.quantization
        raise ValueError("int8 needs torch.ao.quantization.quantize_dynamic, which this PyTorch lacks; "
                         "use --precision float32") from e
    spec = {name: default_dynamic_qconfig for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and name != "head"}
    float_copy = copy.deepcopy(model).cpu().eval()
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(float_copy, spec, dtype=torch.qint8, inplace=True)


@dataclass(frozen=True)
class Prediction:
    probs: np.ndarray  # (B, classes)
    attention: np.ndarray  # (B, T) per input frame, rows sum to 1
    seconds: float  # wall time of the whole batch
    # (B, nt, nh, nw) float16: where the model looks, a map per temporal index summing to 1
    # (AttentionReadout.spatial); None only where a caller built a Prediction without one
    spatial: np.ndarray | None = None


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
    """Runs `forward_with_attention` under inference mode. A CUDA out-of-memory halves the
    batch, and at batch 1 moves to the CPU, with a warning.

    For Model 2, windows that say which source frames they hold (`frames`, with a `source`
    key naming the video) reuse the spatial encoding of tubelets seen before; `reuse=False`
    turns that off.

    `precision`:
    - "auto": bf16 (fp16 where the GPU lacks bf16) autocast on CUDA; float32 on MPS; on the CPU
      it measures at load, on the model's own input shape, a few interleaved passes in float32
      and in int8 (a tubelet's spatial encoding where the tubelet cache will run, else a whole
      window), and takes int8 where it needs at most `INT8_MARGIN` of float32's time. Models
      narrower than `INT8_MIN_WIDTH`, or whose float32 pass takes under `INT8_MIN_PASS_S`, stay
      float32 without trying int8. The decision is remembered per architecture and thread count
      for the process.
    - "float32": full precision everywhere.
    - "int8": dynamic int8 quantisation of the Linear layers (`quantize_int8`), on the CPU only:
      on a GPU it falls back to "auto"'s bf16/fp16 with a warning (a saved setting must not
      break the window on a machine with a GPU).
    What was chosen and why: `precision_used` ("float32", "int8", "bf16" or "fp16") and
    `precision_note`."""

    PRECISIONS = ("auto", "float32", "int8")

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
        self.precision_used, self.precision_note = self._choose_precision()
        log.info("%s on %s: %s (%s)", self.card.name or model.config.variant, self.device, self.precision_used,
                 self.precision_note)

    # -- precision ------------------------------------------------------------------------------
    def _choose_precision(self) -> tuple[str, str]:
        asked, kind = self.precision, self.device.type
        if kind == "cuda":
            if asked == "float32":
                return "float32", "asked for"
            half = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            if asked == "int8":
                log.warning("int8 is dynamic quantisation for the CPU; on %s using %s autocast instead",
                            self.device, half)
                return half, f"int8 runs on the CPU only; {half} autocast on the GPU instead"
            return half, f"{half} autocast on the GPU"
        if kind != "cpu":
            if asked == "int8":
                log.warning("int8 is dynamic quantisation for the CPU; on %s using float32", self.device)
                return "float32", f"int8 runs on the CPU only; float32 on {kind}"
            return "float32", f"float32 on {kind}"
        if asked == "float32":
            return "float32", "asked for"
        if asked == "int8":
            self.model = quantize_int8(self.model)
            return "int8", "asked for: dynamic quantisation of the Linear layers"
        return self._measure_cpu_precision()

    def _measure_cpu_precision(self) -> tuple[str, str]:
        """`auto` on the CPU: float32 or int8, whichever the clock says (see the class doc)."""
        c = self.model.config
        if c.hidden_size < INT8_MIN_WIDTH:
            return "float32", f"auto: width {c.hidden_size} is too narrow for int8 to pay off"
        tubelet = self.cache is not None
        key = (repr(c), tubelet, torch.get_num_threads())
        if key in _AUTO_DECISIONS:
            choice, why = _AUTO_DECISIONS[key]
            if choice == "int8":
                self.model = quantize_int8(self.model)
            return choice, why + " (measured earlier in this process)"
        shape = (1, c.tubelet_size if tubelet else c.num_frames, c.in_channels, c.image_size, c.image_size)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        what = "tubelet" if tubelet else "window"

        def runner(model):
            def run():
                with torch.inference_mode():
                    model.encode_tubelets(x) if tubelet else model.forward_with_attention(x)
            return run

        times: list[list[float]] = [[]]
        _time_passes([runner(self.model)], times, rounds=3)
        float_s = statistics.median(times[0])
        if float_s < INT8_MIN_PASS_S:
            decision = ("float32", f"auto: a {what} takes {float_s * 1e3:.1f} ms in float32, too little for int8 "
                                   "to pay off")
            _AUTO_DECISIONS[key] = decision
            return decision
        int8_model = quantize_int8(self.model)
        times.append([])
        _time_passes([runner(self.model), runner(int8_model)], times, rounds=5)
        float_s, int8_s = statistics.median(times[0]), statistics.median(times[1])
        ratio, threads = int8_s / float_s, torch.get_num_threads()
        timing = (f"a {what} took {float_s * 1e3:.0f} ms in float32, {int8_s * 1e3:.0f} ms in int8 "
                  f"({ratio:.2f}x) with {threads} torch thread{'s' if threads > 1 else ''}")
        if ratio <= INT8_MARGIN:
            self.model = int8_model
            decision = ("int8", f"auto: {timing}")
        else:
            decision = ("float32", f"auto: {timing}; int8 must take at most {INT8_MARGIN:.0%}")
        _AUTO_DECISIONS[key] = decision
        return decision

    def predict(self, clips: np.ndarray, frames: Sequence[Sequence[int]] | None = None,
                source: Hashable = None) -> Prediction:
        """(B, T, C, H, W) float32 -> probabilities, temporal attention and spatial maps.
        `frames` (B, T): the source frame indices each clip holds, which lets Model 2 reuse
        tubelets."""
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
                    self.precision_used = "float32"
                    self.precision_note = "float32 on the CPU: the GPU ran out of memory"
                    if self.cache is not None:
                        self.cache.clear()
        probs = np.concatenate([c[0] for c in chunks])
        attention = np.concatenate([c[1] for c in chunks])
        spatial = np.concatenate([c[2] for c in chunks])
        return Prediction(probs, attention, time.perf_counter() - start, spatial)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True)
        return x.to(self.device)

    def _autocast(self):
        """bf16 where the GPU has it (no overflow), else fp16 (`precision_used`); none elsewhere."""
        if self.device.type != "cuda" or self.precision_used not in ("bf16", "fp16"):
            return torch.autocast(self.device.type if self.device.type == "cuda" else "cpu", enabled=False)
        return torch.autocast("cuda", dtype=torch.bfloat16 if self.precision_used == "bf16" else torch.float16)

    def _outputs(self, logits: torch.Tensor, readout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probs (B, classes), temporal attention (B, T), spatial maps (B, nt, nh, nw) float16)."""
        probs = self.model.probabilities(logits)  # a softmax per head, in float32
        spatial = readout.spatial
        # one device-to-host copy (and one synchronisation) per batch, not one per output
        out = torch.cat([probs, readout.temporal.float(), spatial.float().flatten(1)], dim=1).cpu().numpy()
        c, t = probs.shape[1], readout.temporal.shape[1]
        return out[:, :c], out[:, c:c + t], out[:, c + t:].reshape(spatial.shape).astype(np.float16)

    def _run(self, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = self._tensor(clips)
        with torch.inference_mode(), self._autocast():
            logits, readout = self.model.forward_with_attention(x)
        self.spatial_passes += x.shape[0] * self.model.config.temporal_tokens
        return self._outputs(logits, readout)

    def _run_cached(self, clips: np.ndarray, frames, source: Hashable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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



def _time_passes(runs, times: list[list[float]], rounds: int, budget_s: float = 3.0) -> None:
    """Append to `times[i]` the seconds of `runs[i]()`, interleaved round by round so that drift
    in the machine's load hits each alike, for up to `rounds` rounds or until `budget_s` is
    spent. A run not timed before gets a warm-up pass first, kept only when long (over 0.5 s:
    set-up costs are then negligible and the budget matters more)."""
    spent = 0.0
    for i, run in enumerate(runs):
        if not times[i]:
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
            spent += seconds
            if seconds >= 0.5:
                times[i].append(seconds)
    for _ in range(rounds):
        if spent > budget_s and all(times):
            break
        for i, run in enumerate(runs):
            start = time.perf_counter()
            run()
            times[i].append(time.perf_counter() - start)
            spent += times[i][-1]
