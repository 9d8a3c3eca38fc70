"""Native checkpoints: NAME.safetensors (the weights) + NAME.json (the model card).

Loading never unpickles code: weights come from safetensors, or from a PyTorch file read with
`torch.load(weights_only=True)`. Every problem becomes a `CheckpointError` that names the file
and says what is wrong and what to do.
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor

from ..errors import VivitError
from ..fileio import atomic_path, check_writable
from .config import (
    FACTORISED_DOT_PRODUCT,
    FACTORISED_ENCODER,
    FACTORISED_SELF_ATTENTION,
    SPATIO_TEMPORAL,
    ConfigError,
    ModelCard,
)

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


class CheckpointError(ValueError, VivitError):
    """A checkpoint that cannot be loaded; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


def checkpoint_files(path: str | Path) -> tuple[Path, Path]:
    """(weights, card) for a path to the weights, the card, or their common stem."""
    path = Path(path)
    if path.suffix == ".json":
        card = path
        candidates = [path.with_suffix(s) for s in WEIGHT_SUFFIXES]
    elif path.suffix in WEIGHT_SUFFIXES:
        return path, path.with_suffix(".json")
    else:
        card = path.with_name(path.name + ".json")
        candidates = [path.with_name(path.name + s) for s in WEIGHT_SUFFIXES]
    for weights in candidates:
        if weights.exists():
            return weights, card
    return candidates[0], card


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors from a safetensors file, or from a PyTorch file without unpickling code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "the file is empty (0 bytes); it was not written completely")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise CheckpointError(path, f"not a readable safetensors file (truncated or corrupt?): {e}") from e
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure here means "not plain tensors"
        raise CheckpointError(path, describe_torch_load_error(e)) from e
    if isinstance(data, Mapping):
        for wrapper in ("state_dict", "model", "module"):
            if wrapper in data and isinstance(data[wrapper], Mapping):
                data = data[wrapper]
                break
    if not isinstance(data, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor)
                                                for k, v in data.items()):
        raise CheckpointError(path, "does not hold a state dict (a mapping of names to tensors)")
    return dict(data)


def describe_torch_load_error(error: BaseException) -> str:
    """Why `torch.load(weights_only=True)` failed, in one line, without torch's advice to load
    with weights_only=False (which would run whatever code the file carries: never)."""
    text = str(error)
    if "weights_only" in text.lower() or "unpickl" in text.lower() or type(error).__name__ == "UnpicklingError":
        return ("the file holds pickled Python objects, not just tensors (it may carry code); refused. Save a plain "
                "state dict, or convert it to safetensors")
    first = " ".join(text.splitlines()[0].split())[:200] if text.strip() else type(error).__name__
    return f"not a readable PyTorch file (truncated or corrupt?): {first}"


def infer_variant(keys) -> str | None:
    """Which variant a native state dict belongs to, from its parameter names."""
    keys = list(keys)
    if any(k.startswith("backbone.spatial.") for k in keys):
        return FACTORISED_ENCODER
    if any(".attn_t." in k for k in keys):
        return FACTORISED_SELF_ATTENTION
    if "backbone.encoder.cls_token" in keys:
        return SPATIO_TEMPORAL
    if any(k.startswith("backbone.encoder.blocks.") for k in keys):
        return FACTORISED_DOT_PRODUCT
    return None


def _listing(names, limit: int = 5) -> str:
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_state_dict(model: torch.nn.Module, state: Mapping[str, Tensor], path: str | Path) -> None:
    """Raise CheckpointError unless `state` fits `model` exactly."""
    variant = model.config.variant
    found = infer_variant(state)
    if found is not None and found != variant:
        raise CheckpointError(path, f"the weights are for a {found} model but the card says {variant}; "
                              "the card and the weights do not belong together")
    expected = model.state_dict()
    missing, extra = set(expected) - set(state), set(state) - set(expected)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} weight(s): {_listing(missing)}")
        if extra:
            parts.append(f"unexpected {len(extra)} weight(s): {_listing(extra)}")
        raise CheckpointError(path, "; ".join(parts) + " (the weights do not match the card's architecture)")
    wrong = [f"{k} is {tuple(state[k].shape)}, expected {tuple(v.shape)}"
             for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise CheckpointError(path, f"{len(wrong)} weight(s) have the wrong shape: {_listing(wrong, 3)} "
                              "(the weights do not match the card's architecture)")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(path, f"weights contain NaN or infinity: {_listing(bad)}")


def read_card(path: str | Path) -> ModelCard:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "the model card is missing; a checkpoint is NAME.safetensors with NAME.json "
                              "beside it (import a Hugging Face directory with `vivit-desktop import`)")
    try:
        return ModelCard.read(path)
    except (ConfigError, UnicodeDecodeError, OSError) as e:
        raise CheckpointError(path, f"invalid model card: {e}") from e


def load_model(path: str | Path, *, device: str | torch.device = "cpu", variant: str | None = None):
    """Load a native checkpoint; the model comes back in eval mode with its card at `model.card`.

    `variant`, if given, is the variant the caller expects; another one is an error."""
    from .vivit import ViViT

    weights, card_path = checkpoint_files(path)
    if not weights.exists():
        raise CheckpointError(weights, "no such checkpoint (expected NAME.safetensors with NAME.json beside it)")
    card = read_card(card_path)
    if variant is not None and card.variant != variant:
        raise CheckpointError(card_path, f"this is a {card.variant} checkpoint, not {variant}")
    state = read_state_dict(weights)
    with torch.device("meta"):
        model = ViViT(card.arch, card, init="none")
    check_state_dict(model, state, weights)
    model = materialise(model, {k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.eval()
    return model.to(device)


def materialise(model, state: dict):
    """A model built on the meta device given its weights (checked by `check_state_dict`): they
    are assigned, not copied into allocated tensors (`to_empty` imported sympy through torch's
    symbolic shapes, ~500 modules and ~0.8 s holding the GIL on the thread loading a model while
    the window played). Anything the weights do not hold is allocated as `to_empty` does."""
    model.load_state_dict(state, assign=True)
    if any(t.is_meta for t in itertools.chain(model.parameters(), model.buffers())):
        model = model.to_empty(device="cpu")
        model.load_state_dict(state)
    return model


def save_model(model, path: str | Path, *, overwrite: bool = False, card: ModelCard | None = None) -> tuple[Path, Path]:
    """Write NAME.safetensors and NAME.json atomically; refuses to replace existing files unless
    `overwrite`. Returns (weights, card) paths."""
    from safetensors.torch import save_file

    card = card if card is not None else model.card
    if card.arch != model.config:
        raise ValueError("the card's architecture differs from the model's")
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in WEIGHT_SUFFIXES + (".json",) else path
    weights_path, card_path = stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")
    check_writable(weights_path, overwrite)
    check_writable(card_path, overwrite)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights_path, overwrite) as tmp_w, atomic_path(card_path, overwrite) as tmp_c:
        save_file(state, str(tmp_w), metadata={"format": "pt", "variant": card.variant,
                                              "card": json.dumps(card.to_dict())})
        tmp_c.write_text(card.to_json(), encoding="utf-8")
    log.info("saved %s and %s", weights_path, card_path)
    return weights_path, card_path


def find_checkpoints(*folders: str | Path) -> list[tuple[Path, ModelCard | CheckpointError]]:
    """Native checkpoints (a .json card beside weights) in the given folders, with their cards,
    or the error that stops a card from being read."""
    found: list[tuple[Path, ModelCard | CheckpointError]] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for card_path in sorted(folder.glob("*.json")):
            weights, _ = checkpoint_files(card_path)
            if not weights.exists():
                continue
            try:
                found.append((weights, read_card(card_path)))
            except CheckpointError as e:
                found.append((weights, e))
    return found
