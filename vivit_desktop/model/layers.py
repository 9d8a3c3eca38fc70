"""Transformer building blocks shared by the four ViViT variants.

Shapes: B batch, T temporal tokens (nt), S spatial tokens per temporal index (nh*nw), N tokens in
a sequence, D hidden size, h heads, hd = D / h.

Every attention has two paths: the fast one through `scaled_dot_product_attention`, and an
explicit one (softmax(q k^T / sqrt(hd)) v) that also returns the weights. The explicit path is
used only where the read-out needs weights, and only on small matrices (a CLS row, or T x T).
Spatial attention received (Models 3 and 4: S x S per temporal index) is reduced to one weight
per key as it is computed, a block of queries at a time (`received_attention`), next to the fast
path's output: never a whole (B*T, h, S, S) tensor at once.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ViViTConfig


class DropPath(nn.Module):
    """Stochastic depth per sample (Huang et al. 2016): in training, a residual branch is dropped
    for each sample with probability p. scenic (ViViT's official code) keeps the surviving
    branches as they are, `x * (1 - mask)`, and so does this by default; `rescale=True` divides
    them by 1 - p as timm does (the config's stochastic_depth="timm")."""

    def __init__(self, p: float = 0.0, rescale: bool = False) -> None:
        super().__init__()
        self.p = p
        self.rescale = rescale

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)  # (B, 1, ..., 1)
        return x * mask / keep if self.rescale else x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, rescale={self.rescale}"


class Mlp(nn.Module):
    def __init__(self, cfg: ViViTConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.mlp_dim)
        self.act = nn.GELU(approximate="tanh" if cfg.activation == "gelu_tanh" else "none")
        self.fc2 = nn.Linear(cfg.mlp_dim, cfg.hidden_size)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def attend(q: Tensor, k: Tensor, v: Tensor, dropout_p: float, explicit: bool) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on (..., h, Nq, hd) x (..., h, Nk, hd). Returns (out, weights or None)."""
    if not explicit:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p), None
    scale = q.shape[-1] ** -0.5
    weights = torch.softmax((q * scale) @ k.transpose(-2, -1), dim=-1)  # (..., h, Nq, Nk)
    dropped = F.dropout(weights, dropout_p) if dropout_p else weights
    return dropped @ v, weights  # (..., h, Nq, hd)


RECEIVED_BLOCK = 1 << 22  # elements of one block of attention weights in `received_attention`


def received_attention(q: Tensor, k: Tensor, block: int | None = None) -> Tensor:
    """The attention each key receives, averaged over the queries: (..., h, Nq, hd) x
    (..., h, Nk, hd) -> (..., h, Nk), each row summing to 1 (every softmax row does).
    softmax(q k^T / sqrt(hd)) is formed a block of queries at a time, so memory stays near
    `block` elements (default `RECEIVED_BLOCK`) whatever Nq is."""
    block = RECEIVED_BLOCK if block is None else block
    scale = q.shape[-1] ** -0.5
    nq, nk = q.shape[-2], k.shape[-2]
    per_query = max(1, q[..., :1, :1].numel() * nk)  # elements one query's rows take
    step = max(1, block // per_query)
    kt = k.transpose(-2, -1)
    total = None
    for start in range(0, nq, step):
        part = torch.softmax((q[..., start:start + step, :] * scale) @ kt, dim=-1, dtype=torch.float32).sum(dim=-2)
        total = part if total is None else total + part
    return total / nq


class FactorisedWeights(NamedTuple):
    """What the last factorised block (Models 3 and 4) gives the read-out.

    temporal: (B*S, h_t, T, T) the temporal attention weights, one sequence per spatial index.
    spatial:  (B*T, S) the spatial attention each patch received, averaged over the queries and
              the heads that attend over space; one row per temporal index, summing to 1."""

    temporal: Tensor
    spatial: Tensor


class Attention(nn.Module):
    """Multi-head self-attention over one token axis: (B, N, D) -> (B, N, D)."""

    def __init__(self, cfg: ViViTConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size, bias=cfg.qkv_bias)
        self.proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.attn_drop = cfg.attention_dropout
        self.proj_drop = nn.Dropout(cfg.dropout)

    def _qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads)  # (B, N, 3, h, hd)
        return qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, h, N, hd)

    def forward(self, x: Tensor, grid: tuple[int, int] | None = None,
                explicit: bool = False) -> tuple[Tensor, Tensor | None]:
        B, N, D = x.shape
        q, k, v = self._qkv(x)
        out, weights = attend(q, k, v, self.attn_drop if self.training else 0.0, explicit)  # (B, h, N, hd)
        out = out.transpose(1, 2).reshape(B, N, D)
        return self.proj_drop(self.proj(out)), weights

    def forward_received(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The fast path's output (B, N, D) and the attention each token received, averaged
        over the queries and the heads: (B, N), each row summing to 1."""
        B, N, D = x.shape
        q, k, v = self._qkv(x)
        out, _ = attend(q, k, v, self.attn_drop if self.training else 0.0, explicit=False)  # (B, h, N, hd)
        out = out.transpose(1, 2).reshape(B, N, D)
        return self.proj_drop(self.proj(out)), received_attention(q, k).mean(dim=1)

    def forward_first_query(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Only the first token's (CLS) output and its attention row: (B, 1, D), (B, h, N).

        Costs O(N) memory: the N x N matrix is never formed.
        """
        B, N, D = x.shape
        q, k, v = self._qkv(x)
        out, weights = attend(q[:, :, :1], k, v, self.attn_drop if self.training else 0.0, explicit=True)
        out = out.transpose(1, 2).reshape(B, 1, D)  # (B, h, 1, hd) -> (B, 1, D)
        return self.proj_drop(self.proj(out)), weights[:, :, 0]


class FactorisedDotProductAttention(Attention):
    """Model 4: one QKV projection; the first half of the heads attend over time (tokens of the
    same spatial index), the second half over space (tokens of the same temporal index); the
    heads are concatenated and projected. On the explicit path it returns `FactorisedWeights`:
    the time heads' weights (B*S, h/2, T, T) and the attention each patch received from the space
    heads (B*T, S)."""

    def forward(self, x: Tensor, grid: tuple[int, int] | None = None,
                explicit: bool = False) -> tuple[Tensor, Tensor | None]:
        B, N, D = x.shape
        T, S = grid
        h, hd = self.num_heads, D // self.num_heads
        ht = h // 2
        drop = self.attn_drop if self.training else 0.0
        qkv = self.qkv(x).reshape(B, T, S, 3, h, hd)  # (B, T, S, 3, h, hd)
        # time heads: sequences along T, one per (batch, spatial index)
        qkv_t = qkv[..., :ht, :].permute(3, 0, 2, 4, 1, 5).reshape(3, B * S, ht, T, hd)  # 3 x (B*S, ht, T, hd)
        out_t, weights = attend(*qkv_t.unbind(0), drop, explicit)  # (B*S, ht, T, hd)
        out_t = out_t.reshape(B, S, ht, T, hd).permute(0, 3, 1, 2, 4)  # (B, T, S, ht, hd)
        # space heads: sequences along S, one per (batch, temporal index)
        qkv_s = qkv[..., ht:, :].permute(3, 0, 1, 4, 2, 5).reshape(3, B * T, h - ht, S, hd)  # 3 x (B*T, h-ht, S, hd)
        q_s, k_s, v_s = qkv_s.unbind(0)
        out_s, _ = attend(q_s, k_s, v_s, drop, False)  # (B*T, h-ht, S, hd)
        out_s = out_s.reshape(B, T, h - ht, S, hd).permute(0, 1, 3, 2, 4)  # (B, T, S, h-ht, hd)
        out = torch.cat([out_t, out_s], dim=3).reshape(B, N, D)  # heads concatenated: (B, T*S, D)
        if explicit:
            weights = FactorisedWeights(weights, received_attention(q_s, k_s).mean(dim=1))  # (B*T, S)
        return self.proj_drop(self.proj(out)), weights


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, cfg: ViViTConfig, drop_path: float, attention: type[Attention] = Attention) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.attn = attention(cfg)
        self.drop_path = DropPath(drop_path, rescale=cfg.stochastic_depth == "timm")
        self.norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = Mlp(cfg)

    def forward(self, x: Tensor, grid: tuple[int, int] | None = None,
                explicit: bool = False) -> tuple[Tensor, Tensor | None]:
        y, weights = self.attn(self.norm1(x), grid, explicit)
        x = x + self.drop_path(y)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, weights

    def forward_first_query(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The block's output for the first (CLS) token only, and its attention row (B, h, N)."""
        y, row = self.attn.forward_first_query(self.norm1(x))
        x0 = x[:, :1] + self.drop_path(y)  # (B, 1, D)
        x0 = x0 + self.drop_path(self.mlp(self.norm2(x0)))
        return x0, row


class FactorisedSelfAttentionBlock(nn.Module):
    """Model 3: LN -> temporal MSA -> residual, LN -> spatial MSA -> residual (scenic's order
    'time_space'; 'space_time' swaps them), then LN -> MLP -> residual. Input (B, T*S, D)."""

    def __init__(self, cfg: ViViTConfig, drop_path: float) -> None:
        super().__init__()
        self.order = cfg.attention_order
        self.norm_t = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.attn_t = Attention(cfg)
        self.norm_s = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.attn_s = Attention(cfg)
        # scenic's factorised self-attention block applies no stochastic depth (it ignores its
        # droplayer_p); stochastic_depth="timm" drops each of the three residual branches.
        timm = cfg.stochastic_depth == "timm"
        self.drop_path = DropPath(drop_path if timm else 0.0, rescale=timm)
        self.norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = Mlp(cfg)

    def _time(self, x: Tensor, T: int, S: int, explicit: bool) -> tuple[Tensor, Tensor | None]:
        B, N, D = x.shape
        xt = x.reshape(B, T, S, D).transpose(1, 2).reshape(B * S, T, D)  # (B*S, T, D)
        y, weights = self.attn_t(self.norm_t(xt), explicit=explicit)  # weights (B*S, h, T, T)
        xt = xt + self.drop_path(y)
        return xt.reshape(B, S, T, D).transpose(1, 2).reshape(B, N, D), weights

    def _space(self, x: Tensor, T: int, S: int, explicit: bool = False) -> tuple[Tensor, Tensor | None]:
        B, N, D = x.shape
        xs = x.reshape(B * T, S, D)  # (B*T, S, D)
        if explicit:
            y, received = self.attn_s.forward_received(self.norm_s(xs))  # received (B*T, S)
        else:
            (y, _), received = self.attn_s(self.norm_s(xs)), None
        return (xs + self.drop_path(y)).reshape(B, N, D), received

    def forward(self, x: Tensor, grid: tuple[int, int] | None = None,
                explicit: bool = False) -> tuple[Tensor, FactorisedWeights | None]:
        """On the explicit path the weights are `FactorisedWeights`: the temporal attention's
        (B*S, h, T, T) and the spatial attention each patch received (B*T, S)."""
        T, S = grid
        temporal = spatial = None
        for axis in self.order.split("_"):
            if axis == "time":
                x, temporal = self._time(x, T, S, explicit)
            else:
                x, spatial = self._space(x, T, S, explicit)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, FactorisedWeights(temporal, spatial) if explicit else None


BlockFactory = Callable[[ViViTConfig, float], nn.Module]


class Encoder(nn.Module):
    """Learned position embedding (+ optional CLS token), a stack of blocks, a final LayerNorm,
    and pooling (the CLS token, or global average pooling when there is none).

    `forward(x, grid, readout)` returns (pooled (B, D), weights). With `readout`, weights come
    from the last block: its CLS attention row (B, h, N) when the encoder has a CLS token (and
    only the CLS token is computed in that block), else the block's explicit weights (Models 3
    and 4: `FactorisedWeights`).
    """

    def __init__(self, cfg: ViViTConfig, num_tokens: int, depth: int, use_cls: bool,
                 block: BlockFactory = Block) -> None:
        super().__init__()
        D = cfg.hidden_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D)) if use_cls else None
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens + int(use_cls), D))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.pos_drop = nn.Dropout(cfg.dropout)
        rates = [cfg.drop_path * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(block(cfg, rate) for rate in rates)
        self.norm = nn.LayerNorm(D, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor, grid: tuple[int, int] | None = None,
                readout: bool = False) -> tuple[Tensor, Tensor | None]:
        B, N, D = x.shape
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1)  # (B, 1+N, D)
        if x.shape[1] != self.pos_embed.shape[1]:
            raise ValueError(f"the encoder was built for {self.pos_embed.shape[1]} tokens but got {x.shape[1]}")
        x = self.pos_drop(x + self.pos_embed)
        last = len(self.blocks) - 1
        weights = None
        for i, blk in enumerate(self.blocks):
            if readout and i == last and self.cls_token is not None:
                x, weights = blk.forward_first_query(x)  # x: (B, 1, D)
            else:
                x, w = blk(x, grid, explicit=readout and i == last)
                weights = w if w is not None else weights
        x = self.norm(x)
        pooled = x[:, 0] if self.cls_token is not None else x.mean(dim=1)  # (B, D)
        return pooled, weights


class TubeletEmbedding(nn.Module):
    """(B, T, C, H, W) -> (B, nt, S, D) by a 3D convolution with kernel = stride = t x p x p.

    t = 1 is the paper's uniform frame sampling (a 2D patch embedding applied per frame).
    """

    def __init__(self, cfg: ViViTConfig) -> None:
        super().__init__()
        kernel = (cfg.tubelet_size, cfg.patch_size, cfg.patch_size)
        self.proj = nn.Conv3d(cfg.in_channels, cfg.hidden_size, kernel_size=kernel, stride=kernel)

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x.permute(0, 2, 1, 3, 4))  # (B, C, T, H, W) -> (B, D, nt, nh, nw)
        return x.flatten(3).permute(0, 2, 3, 1)  # (B, nt, nh*nw, D)
