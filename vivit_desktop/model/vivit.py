"""ViViT (Arnab et al., ICCV 2021) as google-research/scenic builds it: the four variants.

The variant is chosen in one place, `_BACKBONES`. Each backbone maps tubelet tokens
(B, nt, S, D) to pooled features (B, D) and, on request, the raw attention its read-out needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from .config import (
    FACTORISED_DOT_PRODUCT,
    FACTORISED_ENCODER,
    FACTORISED_SELF_ATTENTION,
    SPATIO_TEMPORAL,
    ModelCard,
    ViViTConfig,
)
from .init import init_weights
from .layers import Block, Encoder, FactorisedDotProductAttention, FactorisedSelfAttentionBlock, TubeletEmbedding


@dataclass(frozen=True)
class AttentionReadout:
    """What the plots show for each clip of a batch.

    temporal:        (B, T) one weight per input frame, summing to 1 (a tubelet's weight is
                     shared equally by the t frames it covers).
    temporal_tokens: (B, nt) the same per temporal index.
    spatial:         (B, nt, nh, nw) where the model looks: a map per temporal index, each
                     summing to 1 (float32; bf16/fp16 under autocast for Models 1 and 2).
                     Model 1: the last layer's CLS attention over all nt*nh*nw tokens (heads
                     averaged), per temporal index. Model 2: the spatial encoder's last-layer
                     CLS attention over the patches of each temporal index (heads averaged).
                     Models 3 and 4: the last layer's spatial attention each patch received,
                     averaged over the queries of its temporal index and the heads (Model 4:
                     only the heads that attend over space).
    """

    temporal: Tensor
    temporal_tokens: Tensor
    spatial: Tensor


def _normalise(x: Tensor, dim: int = -1) -> Tensor:
    return x / x.sum(dim=dim, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)


def _received_temporal(weights: Tensor, B: int) -> Tensor:
    """Temporal attention received by each temporal index, averaged over queries, spatial
    positions and heads: (B*S, h, T, T) -> (B, T), summing to 1."""
    BS, h, T, _ = weights.shape
    return weights.mean(dim=(1, 2)).reshape(B, BS // B, T).mean(dim=1)


def _cls_row(row: Tensor) -> Tensor:
    """A CLS attention row (B', h, 1+N) -> heads averaged, CLS key dropped: (B', N)."""
    return row.mean(dim=1)[:, 1:]


class SpatioTemporal(nn.Module):
    """Model 1: all nt*S tokens and a CLS token through one encoder."""

    def __init__(self, cfg: ViViTConfig) -> None:
        super().__init__()
        self.encoder = Encoder(cfg, cfg.temporal_tokens * cfg.spatial_tokens, cfg.depth, use_cls=True)

    def forward(self, tokens: Tensor, readout: bool = False):
        B, T, S, D = tokens.shape
        feats, row = self.encoder(tokens.reshape(B, T * S, D), readout=readout)
        if not readout:
            return feats, None, None
        w = _cls_row(row).reshape(B, T, S)  # CLS -> each (t, s) token
        return feats, _normalise(w.sum(dim=-1)), _normalise(w)


class FactorisedEncoder(nn.Module):
    """Model 2: a spatial encoder per temporal index (own CLS and position embedding), then a
    temporal encoder over the nt frame representations (own CLS and position embedding)."""

    def __init__(self, cfg: ViViTConfig) -> None:
        super().__init__()
        self.spatial = Encoder(cfg, cfg.spatial_tokens, cfg.depth, use_cls=True)
        self.temporal = Encoder(cfg, cfg.temporal_tokens, cfg.temporal_depth, use_cls=True)

    def encode_frames(self, tokens: Tensor, readout: bool = False) -> tuple[Tensor, Tensor | None]:
        """Spatial encoder on each temporal index independently: (B, nt, S, D) -> (B, nt, D).

        Independent per index, so a sliding window can cache and reuse these."""
        B, T, S, D = tokens.shape
        frames, row = self.spatial(tokens.reshape(B * T, S, D), readout=readout)  # (B*T, D)
        return frames.reshape(B, T, D), row

    def encode_clip(self, frames: Tensor, readout: bool = False) -> tuple[Tensor, Tensor | None]:
        """Temporal encoder: (B, nt, D) frame representations -> (B, D)."""
        return self.temporal(frames, readout=readout)

    def forward(self, tokens: Tensor, readout: bool = False):
        B, T, S, D = tokens.shape
        frames, srow = self.encode_frames(tokens, readout)
        feats, trow = self.encode_clip(frames, readout)
        if not readout:
            return feats, None, None
        spatial = _normalise(_cls_row(srow)).reshape(B, T, S)  # per frame: its CLS over its patches
        return feats, _normalise(_cls_row(trow)), spatial


class _FactorisedBackbone(nn.Module):
    """Models 3 and 4: one encoder over all nt*S tokens whose blocks factorise attention
    themselves; no CLS token, global average pooling."""

    def __init__(self, cfg: ViViTConfig, block) -> None:
        super().__init__()
        self.encoder = Encoder(cfg, cfg.temporal_tokens * cfg.spatial_tokens, cfg.depth, use_cls=False, block=block)

    def forward(self, tokens: Tensor, readout: bool = False):
        B, T, S, D = tokens.shape
        feats, weights = self.encoder(tokens.reshape(B, T * S, D), grid=(T, S), readout=readout)
        if not readout:
            return feats, None, None
        # weights: FactorisedWeights of the last block; spatial (B*T, S) received per patch
        return feats, _received_temporal(weights.temporal, B), _normalise(weights.spatial.reshape(B, T, S))


class FactorisedSelfAttention(_FactorisedBackbone):
    """Model 3: each block attends over time, then over space (or the reverse), then the MLP."""

    def __init__(self, cfg: ViViTConfig) -> None:
        super().__init__(cfg, FactorisedSelfAttentionBlock)


class FactorisedDotProduct(_FactorisedBackbone):
    """Model 4: in every attention layer half the heads attend over time, half over space."""

    def __init__(self, cfg: ViViTConfig) -> None:
        super().__init__(cfg, partial(Block, attention=FactorisedDotProductAttention))


# The one place where a variant picks its architecture.
_BACKBONES: dict[str, type[nn.Module]] = {
    SPATIO_TEMPORAL: SpatioTemporal,
    FACTORISED_ENCODER: FactorisedEncoder,
    FACTORISED_SELF_ATTENTION: FactorisedSelfAttention,
    FACTORISED_DOT_PRODUCT: FactorisedDotProduct,
}


class ViViT(nn.Module):
    """Input: (B, T, C, H, W) float, normalised as `model.card` says. Output: logits (B, classes)."""

    def __init__(self, config: ViViTConfig, card: ModelCard | None = None, init: str = "scenic") -> None:
        """`init`: how the weights start, "scenic" (ViViT's official code) or "timm" (see
        model/init.py); it matters only to training from scratch. "none" leaves them as torch
        makes them, for a model whose weights are loaded next (built on the meta device: there,
        initialising would only import torch's Python meta kernels, ~1 s holding the GIL)."""
        super().__init__()
        if card is not None and card.arch != config:
            raise ValueError("the model card's architecture differs from the config")
        self.config = config
        self.card = card if card is not None else ModelCard(arch=config)
        self.patch_embed = TubeletEmbedding(config)
        self.backbone = _BACKBONES[config.variant](config)
        self.head_drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.num_classes)
        if init != "none":
            init_weights(self, init)

    @property
    def variant(self) -> str:
        return self.config.variant

    def check_input(self, x: Tensor) -> None:
        c = self.config
        expected = (c.num_frames, c.in_channels, c.image_size, c.image_size)
        if x.ndim != 5 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected a video tensor of shape (B, {', '.join(map(str, expected))}) "
                             f"= (batch, frames, channels, height, width), got {tuple(x.shape)}")

    def forward_features(self, x: Tensor) -> Tensor:
        """Pooled pre-logits features (B, D)."""
        self.check_input(x)
        return self.backbone(self.patch_embed(x))[0]

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head(self.head_drop(features))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def probabilities(self, logits: Tensor) -> Tensor:
        """Softmax over each head's classes (one head: over all of them): (B, classes)."""
        logits = logits.float()
        if not self.card.multi_head:
            return torch.softmax(logits, dim=-1)
        probs = torch.empty_like(logits)
        for _, start, stop in self.card.head_slices():
            probs[:, start:stop] = torch.softmax(logits[:, start:stop], dim=-1)
        return probs

    def forward_with_attention(self, x: Tensor) -> tuple[Tensor, AttentionReadout]:
        """Logits and the attention read-out. Same logits as `forward` (tested); only the last
        layer differs, and it never forms an N x N matrix for Models 1 and 2."""
        self.check_input(x)
        return self._head_and_readout(*self.backbone(self.patch_embed(x), readout=True))

    def _head_and_readout(self, feats: Tensor, temporal_tokens: Tensor,
                          spatial: Tensor) -> tuple[Tensor, AttentionReadout]:
        t = self.config.tubelet_size
        per_frame = temporal_tokens.repeat_interleave(t, dim=1) / t  # (B, nt) -> (B, T)
        g = self.config.grid_size
        spatial = spatial.reshape(spatial.shape[0], spatial.shape[1], g, g)  # (B, nt, S) -> (B, nt, nh, nw)
        return self.forward_head(feats), AttentionReadout(per_frame, temporal_tokens, spatial)


    # -- Model 2's sliding-window reuse: a tubelet's spatial encoding depends on its frames only
    def encode_tubelets(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Model 2 only. (B, t, C, H, W), one tubelet each -> its spatial-encoder representation
        (B, D) and its CLS attention over its patches (B, S). Independent of the tubelet's
        position in a clip, so a sliding window can cache it."""
        self._require_factorised_encoder()
        c = self.config
        expected = (c.tubelet_size, c.in_channels, c.image_size, c.image_size)
        if x.ndim != 5 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected tubelets of shape (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        frames, row = self.backbone.encode_frames(self.patch_embed(x), readout=True)
        return frames[:, 0], _normalise(_cls_row(row))

    def classify_tubelets(self, frames: Tensor, spatial: Tensor) -> tuple[Tensor, AttentionReadout]:
        """Model 2 only. The nt tubelet representations of each clip (B, nt, D) and their spatial
        attention (B, nt, S) -> the same logits and read-out as `forward_with_attention`."""
        self._require_factorised_encoder()
        feats, row = self.backbone.encode_clip(frames, readout=True)
        return self._head_and_readout(feats, _normalise(_cls_row(row)), spatial)

    def _require_factorised_encoder(self) -> None:
        if self.variant != FACTORISED_ENCODER:
            raise ValueError(f"only Model 2 (factorised encoder) encodes tubelets separately, not {self.variant}")

