"""Where the program finds its shipped files and the user's own models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "vivit-desktop"


def app_root() -> Path:
    """The folder holding models/ and resources/: the source checkout, or a frozen bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else Path(__file__).resolve().parent.parent


def shipped_models_dir() -> Path:
    return app_root() / "models"


def user_models_dir() -> Path:
    """Checkpoints the user imported (VIVIT_DESKTOP_MODELS overrides the platform default)."""
    override = os.environ.get("VIVIT_DESKTOP_MODELS")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "models"


def user_cache_dir() -> Path:
    """Cached analysis results (VIVIT_DESKTOP_CACHE overrides the platform default)."""
    override = os.environ.get("VIVIT_DESKTOP_CACHE")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir as platform_cache_dir

    return Path(platform_cache_dir(APP_NAME, appauthor=False)) / "analyses"


def downloads_dir() -> Path:
    """Model downloads (`vivit-desktop zoo get`), kept until they are converted: under
    VIVIT_DESKTOP_CACHE when it is set, else the platform's user cache folder."""
    override = os.environ.get("VIVIT_DESKTOP_CACHE")
    if override:
        return Path(override) / "downloads"
    from platformdirs import user_cache_dir as platform_cache_dir

    return Path(platform_cache_dir(APP_NAME, appauthor=False)) / "downloads"
