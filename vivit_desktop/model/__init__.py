"""The ViViT model library: pure PyTorch, no Qt.

The configuration and model card (`.config`) import without torch, so that a process that only
reads results (the window, which gets them from its analysis process) never imports it; the rest
is imported on first use (PEP 562).
"""

import importlib

from .config import (
    FACTORISED_DOT_PRODUCT,
    FACTORISED_ENCODER,
    FACTORISED_SELF_ATTENTION,
    SPATIO_TEMPORAL,
    VARIANTS,
    ConfigError,
    ModelCard,
    ViViTConfig,
)

_LAZY = {
    "count_flops": ".flops", "count_params": ".flops", "count_params_of": ".flops",
    "create_model": ".registry", "list_models": ".registry", "model_config": ".registry",
    "register_model": ".registry",
    "AttentionReadout": ".vivit", "ViViT": ".vivit",
    "CheckpointError": ".checkpoint", "load_model": ".checkpoint", "save_model": ".checkpoint",
    "ForeignWeightsError": ".importers", "convert_hf_vivit": ".importers", "image_vit_to_vivit": ".importers",
    "import_hf_vivit": ".importers", "init_from_image_vit": ".importers",
}

__all__ = ["FACTORISED_DOT_PRODUCT", "FACTORISED_ENCODER", "FACTORISED_SELF_ATTENTION", "SPATIO_TEMPORAL",
           "VARIANTS", "ConfigError", "ModelCard", "ViViTConfig", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
