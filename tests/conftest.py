import os

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny_overrides(**extra):
    """Small inputs so every variant runs in milliseconds: 8 frames of 32x32 -> 4 x 2x2 tokens."""
    return {"num_frames": 8, "image_size": 32, "num_classes": 5, **extra}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Analyses cache into a folder of the test's own, never the user's."""
    monkeypatch.setenv("VIVIT_DESKTOP_CACHE", str(tmp_path_factory.mktemp("cache")))
