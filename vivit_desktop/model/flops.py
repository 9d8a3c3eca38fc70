"""Parameter and FLOP counts as the paper reports them.

FLOPs are multiply-accumulates of one forward pass (the ViViT and ViT papers' convention),
attention matmuls included. They are measured, not derived from a formula: the model is built
on PyTorch's meta device (no memory, no arithmetic) and run under `FlopCounterMode`, which
counts every convolution, matmul and scaled-dot-product attention actually executed.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .config import ViViTConfig


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _as_config(model: "nn.Module | ViViTConfig | str", overrides: dict) -> ViViTConfig:
    if isinstance(model, ViViTConfig):
        return model
    if isinstance(model, str):
        from .registry import model_config

        return model_config(model, **overrides)
    return model.config


def count_flops(model: "nn.Module | ViViTConfig | str", batch_size: int = 1, **overrides) -> int:
    """Multiply-accumulates of `model.forward` on a batch of `batch_size` clips of its input size.

    `model` may be a ViViT, its config, or a registered name (with config overrides)."""
    from .vivit import ViViT

    config = _as_config(model, overrides)
    with torch.device("meta"):
        meta_model = ViViT(config, init="none").eval()
        x = torch.empty(batch_size, config.num_frames, config.in_channels, config.image_size, config.image_size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta_model(x)
    return counter.get_total_flops() // 2  # FlopCounterMode counts a multiply-add as 2 FLOPs


def count_params_of(model: "nn.Module | ViViTConfig | str", **overrides) -> int:
    """Parameters of a model, a config, or a registered name, without allocating weights."""
    from .vivit import ViViT

    if isinstance(model, nn.Module):
        return count_params(model)
    config = _as_config(model, overrides)
    with torch.device("meta"):
        return count_params(ViViT(config, init="none"))
