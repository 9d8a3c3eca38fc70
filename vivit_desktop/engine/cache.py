"""The sidecar cache: a finished analysis is kept in the user cache folder, keyed by the video's
and the model's SHA-256 and the window settings, so reopening a video shows its results without
running the model. Post-processing is not part of the key: it is applied to the cached
probabilities. A damaged or foreign cache file is ignored (and replaced on the next store)."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..fileio import atomic_write_text
from ..model.config import ModelCard
from ..paths import user_cache_dir
from .results import SCHEMA_VERSION, AnalysisResult, window_settings

log = logging.getLogger(__name__)


def cache_key(video_sha256: str, model_sha256: str, card: ModelCard, hop: int, precision: str = "float32") -> str:
    """The key of one analysis. Precision (int8, bf16) is part of it: its probabilities differ in
    the last digits (float32 keys stay as they were before precision was a setting)."""
    settings = window_settings(card, hop) | {"video": video_sha256, "model": model_sha256, "version": SCHEMA_VERSION}
    if precision != "float32":
        settings["precision"] = precision
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def cacheable(video_sha256: str, model_sha256: str) -> bool:
    """Only real files and real checkpoints: random weights differ on every run."""
    return bool(video_sha256) and bool(model_sha256) and model_sha256 != "random-weights"


class ResultCache:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or user_cache_dir()

    def _entry(self, video_sha256: str, model_sha256: str, card: ModelCard, hop: int,
               precision: str = "float32") -> tuple[Path, str]:
        key = cache_key(video_sha256, model_sha256, card, hop, precision)
        return self.folder / f"{video_sha256[:16]}-{key[:24]}.json", key

    def load(self, video_sha256: str, model_sha256: str, card: ModelCard, hop: int,
             precision: str = "float32") -> AnalysisResult | None:
        if not cacheable(video_sha256, model_sha256):
            return None
        path, key = self._entry(video_sha256, model_sha256, card, hop, precision)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("cache_key") != key:
                raise ValueError("its key does not match")
            return AnalysisResult.from_dict(data, card)
        except (OSError, ValueError, RecursionError, MemoryError) as e:  # from_dict checks every field
            log.warning("ignoring the damaged cache file %s: %s", path, e)
            return None

    def store(self, result: AnalysisResult) -> Path | None:
        if not cacheable(result.video_sha256, result.model_sha256):
            return None
        path, key = self._entry(result.video_sha256, result.model_sha256, result.card, result.hop, result.precision)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            result.check_finite()
            data = result.to_dict(top_k=1, per_frame=False) | {"cache_key": key}
            return atomic_write_text(path, json.dumps(data, separators=(",", ":"), allow_nan=False), overwrite=True)
        except (OSError, ValueError) as e:  # a full disk or a read-only cache must not fail the analysis
            log.warning("could not cache the results in %s: %s", path, e)
            return None
