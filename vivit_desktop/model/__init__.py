"""The ViViT model library: pure PyTorch, no Qt."""

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
from .flops import count_flops, count_params, count_params_of
from .registry import create_model, list_models, model_config, register_model
from .vivit import AttentionReadout, ViViT

__all__ = [
    "FACTORISED_DOT_PRODUCT", "FACTORISED_ENCODER", "FACTORISED_SELF_ATTENTION", "SPATIO_TEMPORAL", "VARIANTS",
    "AttentionReadout", "ConfigError", "ModelCard", "ViViT", "ViViTConfig",
    "count_flops", "count_params", "count_params_of", "create_model", "list_models", "model_config",
    "register_model",
]

from .checkpoint import CheckpointError, load_model, save_model  # noqa: E402
from .importers import ForeignWeightsError, convert_hf_vivit, image_vit_to_vivit, import_hf_vivit, init_from_image_vit  # noqa: E402

__all__ += ["CheckpointError", "ForeignWeightsError", "convert_hf_vivit", "image_vit_to_vivit", "import_hf_vivit",
            "init_from_image_vit", "load_model", "save_model"]
