"""One registry of architectures: `create_model(name, **overrides)` and `list_models()`.

Names follow the paper: `vivit_{size}{patch}x{tubelet t}_{variant}`, e.g. `vivit_b16x2_fe` is
ViViT-Base, 16x16 patches, tubelets 2 frames deep, Model 2 (factorised encoder). Tubelet t = 1
is the paper's uniform frame sampling.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any, Callable

from .config import (
    FACTORISED_DOT_PRODUCT,
    FACTORISED_ENCODER,
    FACTORISED_SELF_ATTENTION,
    SPATIO_TEMPORAL,
    ConfigError,
    ModelCard,
    ViViTConfig,
)

VARIANT_CODES = {
    "st": SPATIO_TEMPORAL,
    "fe": FACTORISED_ENCODER,
    "fsa": FACTORISED_SELF_ATTENTION,
    "fdp": FACTORISED_DOT_PRODUCT,
}
CODE_OF_VARIANT = {v: k for k, v in VARIANT_CODES.items()}

# ViT's sizes (Dosovitskiy et al. 2021; ViT-Ti/S from DeiT): width, depth, heads; MLP = 4 x width.
SIZES = {
    "t": ("tiny", 192, 12, 3),
    "s": ("small", 384, 12, 6),
    "b": ("base", 768, 12, 12),
    "l": ("large", 1024, 24, 16),
    "h": ("huge", 1280, 32, 16),
}

_REGISTRY: dict[str, Callable[..., ViViTConfig]] = {}


def register_model(name: str) -> Callable[[Callable[..., ViViTConfig]], Callable[..., ViViTConfig]]:
    """Decorator: register a function that returns the ViViTConfig for `name`."""

    def wrap(fn: Callable[..., ViViTConfig]) -> Callable[..., ViViTConfig]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = fn
        return fn

    return wrap


def _register_family(size: str, patch: int, tubelet: int, code: str) -> None:
    _, width, depth, heads = SIZES[size]
    if code == "fdp" and heads % 2:
        # Model 4 gives half the heads to time and half to space: ViT-Ti's 3 heads cannot be
        # split, so the tiny Model 4 uses 4 heads of 48 channels.
        heads += 1

    @register_model(f"vivit_{size}{patch}x{tubelet}_{code}")
    def _config() -> ViViTConfig:
        return ViViTConfig(variant=VARIANT_CODES[code], hidden_size=width, depth=depth, num_heads=heads,
                           mlp_dim=4 * width, patch_size=patch, tubelet_size=tubelet)


for _size in SIZES:
    for _t in (2, 1):
        for _code in VARIANT_CODES:
            _register_family(_size, 16, _t, _code)


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style pattern, e.g. `list_models('*_fe')`."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


_CONFIG_FIELDS = {f.name for f in dataclasses.fields(ViViTConfig)}


def model_config(name: str, **overrides: Any) -> ViViTConfig:
    """The architecture `name` describes, with overrides (num_classes, num_frames, image_size,
    depth, ...) applied. Builds nothing."""
    try:
        base = _REGISTRY[name]()
    except KeyError:
        close = [n for n in _REGISTRY if name.split("_")[-1] in n][:4]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint}; `vivit-desktop models` lists them") from None
    unknown = sorted(set(overrides) - _CONFIG_FIELDS)
    if unknown:
        raise ConfigError(f"unknown override(s) for {name}: {', '.join(unknown)}")
    return dataclasses.replace(base, **overrides)


def create_model(name: str, *, labels: tuple[str, ...] | list[str] | None = None, init: str = "scenic",
                 **overrides: Any):
    """Build a randomly initialised model. `labels` (optional) names the classes and sets
    num_classes; `init` is how the weights start ("scenic", ViViT's official code, or "timm":
    model/init.py); other keyword arguments override ViViTConfig fields."""
    from .vivit import ViViT

    if labels is not None:
        overrides.setdefault("num_classes", len(labels))
    config = model_config(name, **overrides)
    card = ModelCard(arch=config, name=name, labels=tuple(labels or ()),
                     provenance={"source": "random initialisation", "architecture": name})
    return ViViT(config, card, init=init)
