"""The models the program can use, by name: shipped checkpoints (models/), the user's own
(the user models folder), and the registry's architectures (random weights, for checking a
pipeline). One resolver serves the CLI and the window. No Qt."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from .paths import shipped_models_dir, user_models_dir

log = logging.getLogger(__name__)

DEFAULT_FILE = "default.json"  # written by the training recipe: {"default": NAME, "why": ..., "models": [...]}
RANDOM_WEIGHTS = "random-weights"  # the "hash" of a model with random weights: never cached


@dataclass(frozen=True)
class Entry:
    name: str  # what a user types: the checkpoint's file stem
    path: Path  # the checkpoint's .safetensors
    card: object  # its ModelCard, or the CheckpointError that makes it unusable
    shipped: bool

    @property
    def usable(self) -> bool:
        return not isinstance(self.card, Exception)


def checkpoints() -> list[Entry]:
    """Every checkpoint found, shipped first; a user checkpoint with a shipped one's name is
    listed too (its path tells them apart)."""
    from .model.checkpoint import find_checkpoints

    entries = []
    for folder, shipped in ((shipped_models_dir(), True), (user_models_dir(), False)):
        for path, card in find_checkpoints(folder):
            entries.append(Entry(path.stem, path, card, shipped))
    return entries


def default_model_name(folder: Path | None = None) -> str | None:
    """The shipped default (models/default.json), or None when none is named or it is missing."""
    folder = folder or shipped_models_dir()
    try:
        name = json.loads((folder / DEFAULT_FILE).read_text())["default"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return name if (folder / f"{name}.safetensors").exists() else None


def family_of(name: str) -> str:
    """camera-motion-fe -> camera-motion: the shipped models differ only in their variant code."""
    head, _, tail = name.rpartition("-")
    return head if tail in ("st", "fe", "fsa", "fdp") and head else name


def resolve(spec: str | Path | None) -> Path | str:
    """A model spec -> a checkpoint path, or a registry architecture name.

    Accepted: a checkpoint path (with or without extension), a shipped or user checkpoint's
    name, a registry name, or None / "default" for the shipped default."""
    from .model import list_models

    if spec is None or str(spec) == "default":
        name = default_model_name()
        if name is None:
            raise ValueError(f"no default model: {shipped_models_dir() / DEFAULT_FILE} is missing; name a checkpoint "
                             "with --model (see `vivit-desktop models`)")
        return shipped_models_dir() / f"{name}.safetensors"
    text = str(spec)
    path = Path(text)
    if path.suffix in (".safetensors", ".json") or path.exists() or path.with_suffix(".safetensors").exists() \
            or "/" in text or "\\" in text:
        return path
    if text in list_models():
        return text
    for entry in checkpoints():
        if entry.name == text:
            return entry.path
    raise ValueError(f"no model named {text!r}: not a file, a shipped or user checkpoint, or an architecture; "
                     "run `vivit-desktop models` for the list")


def load(spec: str | Path | None, device: str = "cpu"):
    """(model, sha256 of its weights or RANDOM_WEIGHTS, description) for a spec as `resolve` takes."""
    from .fileio import sha256_file
    from .model import create_model, load_model
    from .model.checkpoint import checkpoint_files

    target = resolve(spec)
    if isinstance(target, str):
        return create_model(target), RANDOM_WEIGHTS, f"{target} (random weights)"
    weights, _ = checkpoint_files(target)
    model = load_model(weights, device=device)
    return model, sha256_file(weights), str(weights)
