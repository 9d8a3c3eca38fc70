"""Scenic (Flax) ViViT checkpoints made by the tests: a native model's weights under scenic's
parameter names (scenic/projects/vivit/model.py), serialised as flax.serialization does it
(MessagePack, arrays as ext type 1 of (shape, dtype name, bytes), big arrays chunked), in the
layouts scenic has written over the years."""

from __future__ import annotations

from pathlib import Path

import msgpack
import numpy as np
import torch

from vivit_desktop.model import create_model
from vivit_desktop.model.config import (
    FACTORISED_DOT_PRODUCT,
    FACTORISED_ENCODER,
    FACTORISED_SELF_ATTENTION,
    SPATIO_TEMPORAL,
)

LAYOUTS = ("optimizer", "optimizer_params", "optax", "bare")
CODES = {"st": "vivit_t16x2_st", "fe": "vivit_t16x2_fe", "fsa": "vivit_t16x2_fsa", "fdp": "vivit_t16x2_fdp"}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().numpy().copy()


def _attention(state, prefix: str, heads: int) -> dict:
    qkv_w, qkv_b = _np(state[f"{prefix}qkv.weight"]), _np(state[f"{prefix}qkv.bias"])
    D = qkv_w.shape[1]
    hd = D // heads
    out = {}
    for i, part in enumerate(("query", "key", "value")):
        w = qkv_w[i * D:(i + 1) * D]  # (h*hd, D)
        out[part] = {"kernel": w.T.reshape(D, heads, hd).copy(), "bias": qkv_b[i * D:(i + 1) * D].reshape(heads, hd)}
    proj = _np(state[f"{prefix}proj.weight"])  # (D, h*hd)
    out["out"] = {"kernel": proj.T.reshape(heads, hd, D).copy(), "bias": _np(state[f"{prefix}proj.bias"])}
    return out


def _ln(state, prefix: str) -> dict:
    return {"scale": _np(state[f"{prefix}weight"]), "bias": _np(state[f"{prefix}bias"])}


def _dense(state, prefix: str) -> dict:
    return {"kernel": _np(state[f"{prefix}weight"]).T.copy(), "bias": _np(state[f"{prefix}bias"])}


def _encoder(state, src: str, depth: int, heads: int, fsa: bool = False) -> dict:
    tree = {"posembed_input": {"pos_embedding": _np(state[f"{src}pos_embed"])},
            "encoder_norm": _ln(state, f"{src}norm.")}
    for i in range(depth):
        b = f"{src}blocks.{i}."
        mlp = {"Dense_0": _dense(state, f"{b}mlp.fc1."), "Dense_1": _dense(state, f"{b}mlp.fc2.")}
        if fsa:
            tree[f"encoderblock_{i}"] = {
                "LayerNorm_time": _ln(state, f"{b}norm_t."),
                "MultiHeadDotProductAttention_time": _attention(state, f"{b}attn_t.", heads),
                "LayerNorm_space": _ln(state, f"{b}norm_s."),
                "MultiHeadDotProductAttention_space": _attention(state, f"{b}attn_s.", heads),
                "LayerNorm_mlp": _ln(state, f"{b}norm2."), "MlpBlock": mlp}
        else:
            tree[f"encoderblock_{i}"] = {
                "LayerNorm_0": _ln(state, f"{b}norm1."),
                "MultiHeadDotProductAttention_0": _attention(state, f"{b}attn.", heads),
                "LayerNorm_1": _ln(state, f"{b}norm2."), "MlpBlock_0": mlp}
    return tree


def scenic_params(model) -> dict:
    """A native model's weights as scenic's parameter tree."""
    c, state = model.config, model.state_dict()
    params = {"embedding": {"kernel": _np(state["patch_embed.proj.weight"]).transpose(2, 3, 4, 1, 0).copy(),
                            "bias": _np(state["patch_embed.proj.bias"])},
              "output_projection": _dense(state, "head.")}
    if c.variant == FACTORISED_ENCODER:
        params["cls_SpatialTransformer"] = _np(state["backbone.spatial.cls_token"])
        params["SpatialTransformer"] = _encoder(state, "backbone.spatial.", c.depth, c.num_heads)
        params["cls_TemporalTransformer"] = _np(state["backbone.temporal.cls_token"])
        params["TemporalTransformer"] = _encoder(state, "backbone.temporal.", c.temporal_depth, c.num_heads)
    else:
        params["Transformer"] = _encoder(state, "backbone.encoder.", c.depth, c.num_heads,
                                         fsa=c.variant == FACTORISED_SELF_ATTENTION)
        if c.variant == SPATIO_TEMPORAL:
            params["cls"] = _np(state["backbone.encoder.cls_token"])
    assert c.variant in (SPATIO_TEMPORAL, FACTORISED_ENCODER, FACTORISED_SELF_ATTENTION, FACTORISED_DOT_PRODUCT)
    return params


def _zeros_like(tree):
    return {k: _zeros_like(v) if isinstance(v, dict) else np.zeros_like(v) for k, v in tree.items()}


def make_layout(params: dict, kind: str) -> dict:
    """The checkpoint tree scenic writes: 'optimizer' (flax.optim, 2021: optimizer/target),
    'optimizer_params' (older: optimizer/target/params), 'optax' (params beside opt_state), 'bare'."""
    momentum = _zeros_like(params)
    if kind == "optimizer":
        return {"global_step": np.int64(1000), "optimizer": {"target": params, "state": {
            "step": np.int32(1000), "param_states": momentum}}, "model_state": {}, "rng": np.zeros(2, np.uint32)}
    if kind == "optimizer_params":
        return {"optimizer": {"target": {"params": params}, "state": {"step": np.int32(5)}}}
    if kind == "optax":
        # optimizer state of any shape and dtype (here one numpy cannot even name) is ignored
        return {"global_step": 7, "params": params, "opt_state": {"0": {"count": np.int32(7), "mu": momentum},
                                                                   "1": {"scale": _Exotic((3,))}},
                "metadata": {"chrono": {"accum_train_time": 1.5}}}
    if kind == "bare":
        return {"params": params}
    raise ValueError(kind)


class _Exotic:
    """An array whose dtype numpy does not know (as float8 optimizer state would be)."""

    def __init__(self, shape):
        self.shape = shape


def _ndarray_to_bytes(arr: np.ndarray, dtype_name: str | None = None) -> bytes:
    return msgpack.packb((arr.shape, dtype_name or arr.dtype.name, arr.tobytes("C")), use_bin_type=True)


def to_bfloat16_bytes(arr: np.ndarray) -> bytes:
    """float32 -> bfloat16 words (round to nearest even), as JAX stores them."""
    bits = np.ascontiguousarray(arr, dtype="<f4").view("<u4")
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2").tobytes()


def serialize(tree: dict, bfloat16: bool = False, chunk_bytes: int = 2**30) -> bytes:
    """flax.serialization.msgpack_serialize: arrays over `chunk_bytes` split into chunks (flax
    uses 2**30; tests pass less to exercise the format on a small file)."""

    def chunk(arr: np.ndarray):
        size = max(1, int(chunk_bytes / arr.dtype.itemsize))
        flat = arr.reshape(-1)
        parts = [flat[i:i + size] for i in range(0, flat.size, size)]
        return {"__msgpack_chunked_array__": True, "shape": {str(i): s for i, s in enumerate(arr.shape)},
                "chunks": {str(i): p for i, p in enumerate(parts)}}

    def prepare(node):
        if isinstance(node, dict):
            return {k: prepare(v) for k, v in node.items()}
        if isinstance(node, np.ndarray) and node.size * node.dtype.itemsize > chunk_bytes:
            return chunk(node)
        return node

    def ext(x):
        if isinstance(x, np.ndarray):
            if bfloat16 and x.dtype == np.float32:
                return msgpack.ExtType(1, msgpack.packb((x.shape, "bfloat16", to_bfloat16_bytes(x)),
                                                        use_bin_type=True))
            return msgpack.ExtType(1, _ndarray_to_bytes(x))
        if isinstance(x, np.generic):
            return msgpack.ExtType(3, _ndarray_to_bytes(np.asarray(x)))
        if isinstance(x, _Exotic):
            return msgpack.ExtType(1, _ndarray_to_bytes(np.zeros(x.shape, np.uint8), "float8_e4m3fn"))
        raise TypeError(type(x))

    return msgpack.packb(prepare(tree), default=ext, strict_types=True)


def write_scenic_checkpoint(path: str | Path, variant: str = "st", layout: str = "optimizer",
                            bfloat16: bool = False, chunk_bytes: int = 2**30, model=None, **overrides):
    """Write a tiny scenic checkpoint of `variant` (st, fe, fsa, fdp) and return the native model
    it was made from (the reference the import must reproduce)."""
    if model is None:
        overrides = {"num_frames": 8, "image_size": 32, "num_classes": 5, **overrides}
        model = create_model(CODES[variant], **overrides).eval()
        with torch.no_grad():  # non-trivial weights everywhere (the head starts at zero in scenic)
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.02)
    path = Path(path)
    path.write_bytes(serialize(make_layout(scenic_params(model), layout), bfloat16=bfloat16, chunk_bytes=chunk_bytes))
    return model
