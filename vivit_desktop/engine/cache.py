"""The sidecar cache: a finished analysis is kept in the user cache folder, keyed by the video's
and the model's SHA-256 and the window settings, so reopening a video shows its results without
running the model. Post-processing is not part of the key: it is applied to the cached
probabilities. A damaged or foreign cache file is ignored (and replaced on the next store).

Each entry is NAME.json (the windows, compact) and, when the windows carry spatial attention
maps, NAME.spatial.npz beside it (float16 (windows, nt, nh, nw), zip-compressed, with the entry's
key and the windows' centres to tie it to its JSON): binary, so an hour of video at hop 8 with
16x14x14 maps is tens of MB, not hundreds of MB of JSON. The two are replaced together. An entry
without its .npz (cached before maps were kept, or the .npz damaged) still loads, without maps."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from ..fileio import atomic_paths
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


def spatial_path(entry: Path) -> Path:
    """The .npz holding the spatial maps of the cache entry `entry` (its JSON)."""
    return entry.with_name(entry.stem + ".spatial.npz")


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
            result = AnalysisResult.from_dict(data, card)
        except (OSError, ValueError, RecursionError, MemoryError) as e:  # from_dict checks every field
            log.warning("ignoring the damaged cache file %s: %s", path, e)
            return None
        self._load_spatial(result, spatial_path(path), key)
        return result

    @staticmethod
    def _load_spatial(result: AnalysisResult, path: Path, key: str) -> None:
        """Attach the windows' spatial maps from `path` if it exists and belongs to this entry;
        otherwise the result keeps none (a warning when the file is there but unusable)."""
        if not path.exists():
            return
        try:
            with open(path, "rb") as f:  # closed even if np.load fails
                npz = np.load(f, allow_pickle=False)
                if not isinstance(npz, np.lib.npyio.NpzFile):
                    raise ValueError("not an .npz archive")
                if str(npz["key"]) != key:
                    raise ValueError("its key does not match")
                centres = npz["centres"]
                if centres.shape != (len(result.windows),) or \
                        not np.array_equal(centres, [w.centre_frame for w in result.windows]):
                    raise ValueError("its windows differ from the JSON's")
                result.attach_spatial(npz["spatial"])
                npz.close()
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, MemoryError) as e:
            log.warning("ignoring the damaged spatial maps %s: %s", path, e)

    def store(self, result: AnalysisResult) -> Path | None:
        if not cacheable(result.video_sha256, result.model_sha256):
            return None
        path, key = self._entry(result.video_sha256, result.model_sha256, result.card, result.hop, result.precision)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            result.check_finite()
            data = result.to_dict(top_k=1, per_frame=False) | {"cache_key": key}
            text = json.dumps(data, separators=(",", ":"), allow_nan=False)
            maps = result.spatial_maps()
            maps_path = spatial_path(path)
            targets = [path] if maps is None else [path, maps_path]
            with atomic_paths(targets, overwrite=True) as temps:  # both replaced, or neither
                with open(temps[0], "w", encoding="utf-8") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                if maps is not None:
                    with open(temps[1], "wb") as f:
                        np.savez_compressed(f, spatial=maps, key=np.array(key),
                                            centres=np.array([w.centre_frame for w in result.windows], np.int64))
                        f.flush()
                        os.fsync(f.fileno())
            if maps is None:
                maps_path.unlink(missing_ok=True)  # an older entry's maps no longer match
            return path
        except (OSError, ValueError) as e:  # a full disk or a read-only cache must not fail the analysis
            log.warning("could not cache the results in %s: %s", path, e)
            return None
