"""How a model's weights start when it is trained from scratch.

"scenic" (the default) follows google-research/scenic, ViViT's official code, where the paper
leaves it open (projects/vivit/model.py, flax defaults):

- attention: q, k, v and output kernels xavier-uniform, each as its own D x D matrix (flax's
  MultiHeadDotProductAttention builds q, k and v as separate DenseGeneral layers; our fused qkv
  Linear is initialised a third at a time), biases zero;
- MLP: kernels xavier-uniform, biases normal with std 1e-6 (scenic's MlpBlock in the ViViT
  blocks);
- tubelet (or patch) convolution: LeCun normal (flax's default_kernel_init: truncated normal,
  variance 1 / fan_in), bias zero;
- classification head: zero kernel and bias (scenic's output_projection);
- learned position embeddings: normal with std 0.02; CLS tokens zero; LayerNorms one and zero.

"timm" is what this program did before (truncated normal with std 0.02 for every Linear,
including the head; PyTorch's default for the convolution; truncated-normal position
embeddings): an option, kept so older recipes can be rerun as they were.

Initialisation matters only to training from scratch: loading a checkpoint overwrites every
weight, and the importers (image ViT, Model 1, scenic) set what they bring.
"""

from __future__ import annotations

import math

import torch
from torch import nn

INIT_SCHEMES = ("scenic", "timm")
# jax.nn.initializers.variance_scaling(..., "truncated_normal") divides the std by the std of a
# unit normal truncated to [-2, 2], so the truncated draw keeps the asked variance.
_TRUNCATED_STD = 0.87962566103423978


def lecun_normal_(weight: torch.Tensor) -> torch.Tensor:
    """flax's default kernel init: truncated normal (at 2 std), variance 1 / fan_in, where fan_in
    is every input dimension of the kernel (for a convolution: channels x kernel volume)."""
    fan_in = weight[0].numel()
    std = math.sqrt(1.0 / fan_in) / _TRUNCATED_STD
    return nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


def _xavier_uniform_chunks_(weight: torch.Tensor, chunks: int) -> None:
    """xavier-uniform on each of `chunks` equal row blocks of a (chunks*out, in) Linear weight."""
    with torch.no_grad():
        for part in weight.chunk(chunks, dim=0):
            nn.init.xavier_uniform_(part)


def init_weights(model: nn.Module, scheme: str = "scenic") -> None:
    """Initialise a ViViT built from this package's layers in place, by `scheme`."""
    from .layers import Attention, Encoder, Mlp, TubeletEmbedding

    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown initialisation {scheme!r}; expected one of {', '.join(INIT_SCHEMES)}")
    if scheme == "timm":
        model.apply(_timm)
        return
    for module in model.modules():
        if isinstance(module, Attention):
            _xavier_uniform_chunks_(module.qkv.weight, 3)
            nn.init.xavier_uniform_(module.proj.weight)
            for bias in (module.qkv.bias, module.proj.bias):
                if bias is not None:
                    nn.init.zeros_(bias)
        elif isinstance(module, Mlp):
            for linear in (module.fc1, module.fc2):
                nn.init.xavier_uniform_(linear.weight)
                nn.init.normal_(linear.bias, std=1e-6)
        elif isinstance(module, TubeletEmbedding):
            lecun_normal_(module.proj.weight)
            nn.init.zeros_(module.proj.bias)
        elif isinstance(module, Encoder):
            nn.init.normal_(module.pos_embed, std=0.02)
            if module.cls_token is not None:
                nn.init.zeros_(module.cls_token)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear):
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)


def _timm(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
