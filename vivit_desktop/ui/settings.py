"""The window's settings as one typed object. Every key is spelled once, here; values read back
from QSettings are checked (a hand-edited or older file gives the default, never a crash), and a
change is written through at once, so a crash loses nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from PySide6.QtCore import QSettings

ORG, APP = "vivit-desktop", "ViViT Desktop"
DEVICES = (("auto", "Auto"), ("cuda", "CUDA"), ("mps", "Apple MPS"), ("cpu", "CPU"))
PRECISIONS = (("auto", "Automatic (bf16/fp16 on GPU; on CPU int8 where it measures faster)"),
              ("float32", "Float32 everywhere"), ("int8", "Int8 on the CPU (dynamic quantisation)"))
HOPS = (2, 4, 8, 16)
MAX_RECENT = 10


def _choices(pairs) -> tuple:
    return tuple(value for value, _ in pairs)


@dataclass
class Settings:
    model: str = ""  # "" = the shipped default
    device: str = "auto"
    precision: str = "auto"
    hop: int = 0  # 0: the model's default (engine.windows.default_hop)
    recent: list[str] = field(default_factory=list)  # files and stream URLs, newest first
    last_dir: str = ""  # where File ▸ Open starts
    export_dir: str = ""  # where the export dialogs start ("" = the video's folder)
    overlay: bool = True
    loop: bool = False
    heatmap: bool = False
    heatmap_opacity: float = 0.5
    geometry: Any = None  # QByteArray from saveGeometry
    window_state: Any = None

    _VALID = {"device": _choices(DEVICES), "precision": _choices(PRECISIONS), "hop": (0, *HOPS)}

    def __post_init__(self) -> None:
        self._store: QSettings | None = None

    @classmethod
    def load(cls, store: QSettings | None = None) -> "Settings":
        store = store if store is not None else QSettings(ORG, ORG)
        settings = cls()
        for f in fields(cls):
            if not store.contains(f.name):
                continue
            default = getattr(settings, f.name)
            value = _coerce(store.value(f.name), default)
            allowed = cls._VALID.get(f.name)
            if value is not None and (allowed is None or value in allowed):
                setattr(settings, f.name, value)
        settings._store = store
        return settings

    def set(self, **changes) -> None:
        """Change and write through."""
        for name, value in changes.items():
            if name not in {f.name for f in fields(self)}:
                raise AttributeError(f"no setting {name!r}")
            setattr(self, name, value)
            if self._store is not None:
                self._store.setValue(name, value)

    def remember(self, source: str) -> None:
        """Open Recent learns a file or a stream URL (newest first, no repeats)."""
        self.set(recent=[source, *[r for r in self.recent if r != source]][:MAX_RECENT])

    def sync(self) -> None:
        if self._store is not None:
            self._store.sync()


def _coerce(value, default):
    """QSettings' INI back end gives strings back ("true", "8"); a single-item list comes back
    as a string. None where the value cannot be read as the default's type."""
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else {"true": True, "false": False}.get(str(value).lower())
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            number = float(value)
            return number if 0.0 <= number <= 1.0 else None
        if isinstance(default, list):
            items = [value] if isinstance(value, str) else list(value or [])
            return [str(v) for v in items if v]
        if isinstance(default, str):
            return "" if value is None else str(value)
        return value
    except (TypeError, ValueError):
        return None
