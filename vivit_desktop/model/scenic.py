"""Scenic (JAX/Flax) ViViT checkpoints, read without JAX.

A Flax checkpoint is one MessagePack document (`flax.serialization.msgpack_serialize`):
- arrays are ext type 1, whose payload is itself MessagePack of (shape, dtype name, C-order
  bytes); numpy scalars are ext type 3 (the same payload, 0-d), complex numbers ext type 2;
- arrays over 2**30 bytes are split into a dict {"__msgpack_chunked_array__": True,
  "shape": {"0": ..}, "chunks": {"0": flat part, ..}};
- `bfloat16` arrays occur (JAX's dtype, which numpy does not name): 16-bit words that are the
  upper half of a float32.
`read_flax_checkpoint` follows `flax/serialization.py` (`msgpack_restore`) exactly, except that an
array of a dtype numpy cannot read becomes an `UnreadableArray` instead of an error, so optimizer
state of any dtype is skipped unless a parameter needs it.

Where the parameters sit (`find_params`): scenic's 2021 checkpoints (flax.optim) keep them under
["optimizer"]["target"] (older ones under ["optimizer"]["target"]["params"]); scenic since 2022
(optax) writes ["params"] beside "opt_state"; a bare {"params": ...} or the parameter tree itself
is read too. Optimizer state is ignored whatever its shape or dtype.

`convert_scenic_vivit(params, ...)` is a pure dict -> dict function (like `convert_hf_vivit`) for
all four variants, with the names of scenic/projects/vivit/model.py:
- Model 1: `embedding`, `cls`, `Transformer/{posembed_input, encoderblock_N, encoder_norm}`,
  `output_projection`;
- Model 2: `cls_SpatialTransformer`, `SpatialTransformer/...`, `cls_TemporalTransformer`,
  `TemporalTransformer/...`;
- Model 3: blocks with `LayerNorm_time`, `MultiHeadDotProductAttention_time`, `LayerNorm_space`,
  `MultiHeadDotProductAttention_space`, `LayerNorm_mlp`, `MlpBlock`; no CLS token;
- Model 4: exactly Model 1's names without `cls` (so the names alone cannot tell it from a
  Model 1 with average pooling: `variant` must say so).
A scenic image ViT has Model 1's names with a 4-D patch kernel: it is refused by the importer and
accepted by `train --init` (`scenic_image_vit_to_timm`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .checkpoint import CheckpointError, check_state_dict, materialise
from .config import (
    ATTENTION_ORDERS,
    FACTORISED_DOT_PRODUCT,
    FACTORISED_ENCODER,
    FACTORISED_SELF_ATTENTION,
    SPATIO_TEMPORAL,
    ConfigError,
    ModelCard,
    ViViTConfig,
)
from .importers import ForeignWeightsError
from .registry import VARIANT_CODES

# flax.serialization._MsgpackExtType
EXT_NDARRAY, EXT_COMPLEX, EXT_SCALAR = 1, 2, 3
CHUNKED = "__msgpack_chunked_array__"
# flax.training.checkpoints: the placeholder a multi-process array leaves in the msgpack file
MPA_PLACEHOLDER = "//GDAPlaceholder:"

# The official checkpoints were evaluated like this (scenic/projects/vivit/configs/kinetics*/
# and epic_kitchens/: min_resize 256, crop_size 224, zero_centering, stride 2, 32 frames).
SCENIC_EVAL = {"frame_stride": 2, "resize_shorter_per_224": 256, "value_scale": 1 / 127.5, "value_offset": -1.0,
               "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}
DEFAULT_FRAMES, DEFAULT_IMAGE_SIZE = 32, 224



class UnreadableArray:
    """An array of a dtype numpy cannot read (kept only so that optimizer state never fails a
    read); using it as a parameter is an error that names the dtype."""

    def __init__(self, dtype: str, shape: tuple[int, ...]) -> None:
        self.dtype, self.shape = dtype, shape

    def __repr__(self) -> str:
        return f"UnreadableArray({self.dtype}, {self.shape})"


def _dtype_name(name: Any) -> str:
    return name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)


def _ndarray_from_bytes(data: bytes):
    """flax.serialization._ndarray_from_bytes, with bfloat16 widened to float32."""
    shape, dtype_name, buffer = msgpack_unpackb(data, raw=True)
    name = _dtype_name(dtype_name)
    shape = tuple(int(s) for s in shape)
    if name == "bfloat16":
        words = np.frombuffer(buffer, dtype="<u2")
        return (words.astype("<u4") << 16).view("<f4").reshape(shape)
    try:
        dtype = np.dtype(name)
    except TypeError:
        return UnreadableArray(name, shape)
    if dtype.hasobject:
        raise ValueError(f"an array of Python objects ({name}) is not allowed in a checkpoint")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order="C")


def msgpack_unpackb(data: bytes, **kwargs):
    import msgpack

    return msgpack.unpackb(data, **kwargs)


def _ext_hook(code: int, data: bytes):
    """flax.serialization._msgpack_ext_unpack."""
    import msgpack

    if code == EXT_NDARRAY:
        return _ndarray_from_bytes(data)
    if code == EXT_COMPLEX:
        real, imag = msgpack_unpackb(data)
        return complex(real, imag)
    if code == EXT_SCALAR:
        array = _ndarray_from_bytes(data)
        return array if isinstance(array, UnreadableArray) else array[()]
    return msgpack.ExtType(code, data)


def _unchunk(tree: Any) -> Any:
    """flax.serialization._unchunk_array_leaves_in_place."""
    if isinstance(tree, dict):
        if tree.get(CHUNKED) is True:
            shape = tuple(tree["shape"][str(i)] for i in range(len(tree["shape"])))
            chunks = [tree["chunks"][str(i)] for i in range(len(tree["chunks"]))]
            if any(isinstance(c, UnreadableArray) for c in chunks):
                return UnreadableArray(getattr(chunks[0], "dtype", "?"), shape)
            return np.concatenate(chunks).reshape(shape)
        for key, value in tree.items():
            tree[key] = _unchunk(value)
    return tree


def checkpoint_file(path: str | Path) -> Path:
    """The file to read: `path` itself, or in a folder the newest `checkpoint_<step>` (or
    `checkpoint`), as flax's `latest_checkpoint` picks it."""
    path = Path(path)
    if not path.is_dir():
        return path
    if (path / "_METADATA").exists() or (path / "_CHECKPOINT_METADATA").exists() or (path / "ocdbt.process_0").exists():
        raise CheckpointError(path, "an Orbax checkpoint folder, which this program does not read; restore it with "
                              "orbax and save the parameters with flax.serialization.to_bytes")
    steps = []
    for child in path.iterdir():
        m = re.fullmatch(r"checkpoint_?(\d*)", child.name)
        if m and child.is_file():
            steps.append((int(m.group(1) or -1), child))
    if not steps:
        raise CheckpointError(path, "no Flax checkpoint file in this folder (expected 'checkpoint' or "
                              "'checkpoint_<step>')")
    return max(steps)[1]


def looks_like_flax(path: str | Path) -> bool:
    """Whether the file starts as a MessagePack map does (a Flax checkpoint), not as a zip
    (PyTorch) or a safetensors header."""
    try:
        with open(path, "rb") as f:
            first = f.read(1)
    except OSError:
        return False
    return len(first) == 1 and (0x80 <= first[0] <= 0x8F or first[0] in (0xDE, 0xDF))


def read_flax_checkpoint(path: str | Path) -> dict:
    """The whole tree of a Flax msgpack checkpoint (file, or folder of checkpoint_<step> files)."""
    import msgpack

    file = checkpoint_file(path)
    if not file.is_file():
        raise CheckpointError(file, "no such file" if not file.exists() else "not a regular file")
    size = file.stat().st_size
    if size == 0:
        raise CheckpointError(file, "the file is empty (0 bytes); it was not downloaded or written completely")
    data = file.read_bytes()
    try:
        tree = msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except msgpack.ExtraData as e:
        raise CheckpointError(file, "not a Flax checkpoint: extra bytes after the MessagePack document") from e
    except (ValueError, msgpack.UnpackException, TypeError, KeyError, RecursionError) as e:
        problem = ("truncated (the file ends inside the MessagePack document): download it again"
                   if "incomplete" in str(e).lower() or "insufficient" in str(e).lower()
                   else f"not a Flax MessagePack checkpoint ({type(e).__name__}: {e})")
        raise CheckpointError(file, problem) from e
    if not isinstance(tree, dict):
        raise CheckpointError(file, f"not a Flax checkpoint: the document is a {type(tree).__name__}, not a map")
    try:
        return _unchunk(tree)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(file, f"a chunked array is damaged: {e}") from e
    except RecursionError as e:
        raise CheckpointError(file, "nested too deeply to be a Flax checkpoint") from e


# -- where the parameters are -----------------------------------------------------------------

_MODEL_KEYS = ("embedding", "output_projection", "Transformer", "SpatialTransformer")


def _is_param_tree(tree: Any) -> bool:
    return isinstance(tree, dict) and any(k in tree for k in _MODEL_KEYS)


def find_params(tree: Mapping[str, Any]) -> dict:
    """The model parameters of a checkpoint tree, wherever the layouts above keep them."""
    candidates = [("optimizer", "target", "params"), ("optimizer", "target"), ("params", "params"), ("params",), ()]
    for route in candidates:
        node: Any = tree
        for key in route:
            node = node.get(key) if isinstance(node, dict) else None
        if _is_param_tree(node):
            return node
    top = ", ".join(sorted(map(str, tree)))[:200] if isinstance(tree, dict) else type(tree).__name__
    raise ForeignWeightsError(f"no ViViT parameters found (looked under optimizer/target, params and the top "
                              f"level, which holds: {top})")


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": x}} -> {"a/b": x}; an already flat mapping comes back as a copy."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "/"))
        else:
            out[name] = value
    return out


# -- conversion -------------------------------------------------------------------------------

def _array(params: Mapping[str, Any], key: str) -> np.ndarray:
    if key not in params:
        raise ForeignWeightsError(f"missing parameter {key}")
    value = params[key]
    if isinstance(value, UnreadableArray):
        raise ForeignWeightsError(f"parameter {key} has dtype {value.dtype}, which this program cannot read")
    if isinstance(value, str) and value.startswith(MPA_PLACEHOLDER):
        raise ForeignWeightsError(f"parameter {key} was saved by several processes in separate files (a multi-host "
                                  "checkpoint); restore it with flax and save it in one piece")
    if not isinstance(value, np.ndarray):
        raise ForeignWeightsError(f"parameter {key} is a {type(value).__name__}, not an array")
    if value.dtype.kind not in "fiu":
        raise ForeignWeightsError(f"parameter {key} has dtype {value.dtype}, not a number type")
    return value


def _t(array: np.ndarray) -> Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float32))


def _blocks(params: Mapping[str, Any], encoder: str) -> list[str]:
    """encoderblock_N prefixes of an encoder, in order; a gap in the numbering is an error."""
    numbers = sorted({int(m.group(1)) for k in params
                      if (m := re.match(rf"{re.escape(encoder)}/encoderblock_(\d+)/", k))})
    if numbers != list(range(len(numbers))):
        raise ForeignWeightsError(f"{encoder}'s blocks are numbered {numbers[:8]}..., not 0..N-1")
    return [f"{encoder}/encoderblock_{n}" for n in numbers]


def _dense(params, prefix: str) -> dict[str, Tensor]:
    """flax Dense (kernel (in, out)) -> torch Linear (weight (out, in))."""
    return {"weight": _t(_array(params, f"{prefix}/kernel")).T.contiguous(),
            "bias": _t(_array(params, f"{prefix}/bias"))}


def _layer_norm(params, prefix: str) -> dict[str, Tensor]:
    return {"weight": _t(_array(params, f"{prefix}/scale")), "bias": _t(_array(params, f"{prefix}/bias"))}


def _attention(params, prefix: str) -> tuple[dict[str, Tensor], int]:
    """flax MultiHeadDotProductAttention (query/key/value kernels (D, h, hd), out (h, hd, D)) ->
    our fused qkv and proj; returns them and the number of heads."""
    weights, biases = [], []
    heads = None
    for part in ("query", "key", "value"):
        kernel = _array(params, f"{prefix}/{part}/kernel")
        if kernel.ndim != 3:
            raise ForeignWeightsError(f"{prefix}/{part}/kernel is {kernel.shape}, expected (width, heads, head size)")
        D, h, hd = kernel.shape
        heads = h
        weights.append(_t(kernel).reshape(D, h * hd).T)  # (h*hd, D)
        biases.append(_t(_array(params, f"{prefix}/{part}/bias")).reshape(h * hd))
    out = _array(params, f"{prefix}/out/kernel")
    h, hd, D = out.shape
    return {"qkv.weight": torch.cat(weights, 0).contiguous(), "qkv.bias": torch.cat(biases, 0),
            "proj.weight": _t(out).reshape(h * hd, D).T.contiguous(),
            "proj.bias": _t(_array(params, f"{prefix}/out/bias"))}, heads


def _mlp(params, prefix: str) -> dict[str, Tensor]:
    fc1, fc2 = _dense(params, f"{prefix}/Dense_0"), _dense(params, f"{prefix}/Dense_1")
    return {"fc1.weight": fc1["weight"], "fc1.bias": fc1["bias"], "fc2.weight": fc2["weight"], "fc2.bias": fc2["bias"]}


def _put(out: dict, prefix: str, items: Mapping[str, Tensor]) -> None:
    for key, value in items.items():
        out[f"{prefix}{key}"] = value


def _encoder(params, name: str, target: str, factorised_self_attention: bool = False) -> tuple[dict, dict]:
    """One scenic Encoder (`name`: Transformer, SpatialTransformer or TemporalTransformer) -> our
    Encoder's weights under `target`, and what its shapes say (depth, heads, MLP size)."""
    out: dict[str, Tensor] = {}
    blocks = _blocks(params, name)
    if not blocks:
        raise ForeignWeightsError(f"{name} has no encoder blocks")
    heads_seen, mlp_seen = set(), set()
    for i, block in enumerate(blocks):
        dst = f"{target}blocks.{i}."
        if factorised_self_attention:
            for axis, short in (("time", "t"), ("space", "s")):
                attn, heads = _attention(params, f"{block}/MultiHeadDotProductAttention_{axis}")
                heads_seen.add(heads)
                _put(out, f"{dst}attn_{short}.", attn)
                _put(out, f"{dst}norm_{short}.", _layer_norm(params, f"{block}/LayerNorm_{axis}"))
            _put(out, f"{dst}norm2.", _layer_norm(params, f"{block}/LayerNorm_mlp"))
            mlp_prefix = f"{block}/MlpBlock"
        else:
            attn, heads = _attention(params, f"{block}/MultiHeadDotProductAttention_0")
            heads_seen.add(heads)
            _put(out, f"{dst}attn.", attn)
            _put(out, f"{dst}norm1.", _layer_norm(params, f"{block}/LayerNorm_0"))
            _put(out, f"{dst}norm2.", _layer_norm(params, f"{block}/LayerNorm_1"))
            mlp_prefix = f"{block}/MlpBlock_0"
        mlp = _mlp(params, mlp_prefix)
        mlp_seen.add(mlp["fc1.weight"].shape[0])
        _put(out, f"{dst}mlp.", mlp)
    if len(heads_seen) != 1 or len(mlp_seen) != 1:
        raise ForeignWeightsError(f"{name}'s blocks differ in heads {sorted(heads_seen)} or MLP size "
                                  f"{sorted(mlp_seen)}; this program builds uniform encoders")
    _put(out, f"{target}norm.", _layer_norm(params, f"{name}/encoder_norm"))
    pos = _array(params, f"{name}/posembed_input/pos_embedding")
    if pos.ndim != 3 or pos.shape[0] != 1:
        raise ForeignWeightsError(f"{name}'s position embedding is {pos.shape}, expected (1, tokens, width)")
    out[f"{target}pos_embed"] = _t(pos)
    return out, {"depth": len(blocks), "heads": heads_seen.pop(), "mlp": mlp_seen.pop(), "tokens": pos.shape[1]}


def detect_variant(params: Mapping[str, Any]) -> str | None:
    """The variant the parameter names show (flattened names), or None where they cannot tell
    (Model 4, or a Model 1 with average pooling)."""
    keys = list(params)
    if any(k.startswith("SpatialTransformer/") for k in keys):
        return FACTORISED_ENCODER
    if any("/MultiHeadDotProductAttention_time/" in k for k in keys):
        return FACTORISED_SELF_ATTENTION
    if "cls" in params:
        return SPATIO_TEMPORAL
    return None


def _split_tokens(tokens: int, t: int, p: int, num_frames: int | None, image_size: int | None) -> tuple[int, int]:
    """nt * grid**2 == tokens: (num_frames, image_size), using what the caller said and the
    official 32 frames of 224x224 where the split is otherwise ambiguous."""
    def from_image(size: int) -> tuple[int, int] | None:
        if size % p:
            return None
        g2 = (size // p) ** 2
        return (tokens // g2 * t, size) if tokens % g2 == 0 else None

    def from_frames(frames: int) -> tuple[int, int] | None:
        if frames % t or tokens % (frames // t):
            return None
        g = math.isqrt(tokens // (frames // t))
        return (frames, g * p) if g * g == tokens // (frames // t) else None

    if image_size is not None:
        found = from_image(image_size)
        if found is None or (num_frames is not None and found[0] != num_frames):
            raise ForeignWeightsError(f"{tokens} tokens do not fit {image_size}px images"
                                      + (f" and {num_frames} frames" if num_frames else "")
                                      + f" with {t}x{p}x{p} tubelets")
        return found
    if num_frames is not None:
        found = from_frames(num_frames)
        if found is None:
            raise ForeignWeightsError(f"{tokens} tokens do not fit {num_frames} frames of square images "
                                      f"with {t}x{p}x{p} tubelets")
        return found
    found = from_image(DEFAULT_IMAGE_SIZE) or from_frames(DEFAULT_FRAMES)
    if found is None:
        raise ForeignWeightsError(f"{tokens} tokens fit neither {DEFAULT_IMAGE_SIZE}px images nor "
                                  f"{DEFAULT_FRAMES} frames; say the input with --num-frames and --image-size")
    return found


def convert_scenic_vivit(params: Mapping[str, Any], *, num_frames: int | None = None, image_size: int | None = None,
                         attention_order: str | None = None,
                         variant: str | None = None) -> tuple[dict[str, Tensor], ViViTConfig]:
    """Scenic ViViT parameters (the nested tree, or its '/'-joined flattening) -> (native state
    dict, config). Pure: no files, no model.

    The variant comes from the names (`variant`, one of st/fe/fsa/fdp or a full variant name,
    is needed only where they cannot tell, and must agree where they can); width, depth, heads,
    MLP size, tubelet, temporal depth and classes from the shapes; frames and image size from the
    position embeddings, with `num_frames`/`image_size` where the split is ambiguous (default:
    32 frames of 224x224); `attention_order` for Model 3 (scenic's default time_space)."""
    flat = flatten(params)
    wanted = VARIANT_CODES.get(variant, variant) if variant else None
    if wanted is not None and wanted not in VARIANT_CODES.values():
        raise ForeignWeightsError(f"unknown variant {variant!r}; use st, fe, fsa or fdp")
    if attention_order is not None and attention_order not in ATTENTION_ORDERS:
        raise ForeignWeightsError(f"attention order must be one of {', '.join(ATTENTION_ORDERS)}")
    if any(k.startswith("pre_logits/") for k in flat):
        raise ForeignWeightsError("the model has a representation layer (pre_logits with tanh) before the head, "
                                  "which this program's ViViT does not build")
    kernel = _array(flat, "embedding/kernel")
    if kernel.ndim == 4:
        raise ForeignWeightsError("a scenic image ViT (2-D patch embedding), not a video model; start training "
                                  "from it with `vivit-desktop train --init PATH`")
    if kernel.ndim != 5:
        raise ForeignWeightsError(f"embedding/kernel is {kernel.shape}, expected (t, p, p, channels, width)")
    t, ph, pw, channels, D = kernel.shape
    if ph != pw:
        raise ForeignWeightsError(f"non-square patches {ph}x{pw} are not supported")
    found = detect_variant(flat)
    if found is None:
        if wanted is None:
            raise ForeignWeightsError("the names are those of Model 4 (factorised dot-product attention) or of a "
                                      "Model 1 with average pooling, which cannot be told apart; say --variant fdp "
                                      "for Model 4")
        if wanted != FACTORISED_DOT_PRODUCT:
            raise ForeignWeightsError(f"--variant {variant} does not fit: the weights have no CLS token, so they "
                                      "are Model 4 (fdp) or a Model 1 with average pooling, which is not supported")
        found = FACTORISED_DOT_PRODUCT
    elif wanted is not None and wanted != found:
        raise ForeignWeightsError(f"the parameter names are those of {found}, not {wanted}")
    if attention_order is not None and found != FACTORISED_SELF_ATTENTION:
        raise ForeignWeightsError("--attention-order applies to Model 3 (factorised self-attention) only")

    state: dict[str, Tensor] = {
        "patch_embed.proj.weight": _t(kernel).permute(4, 3, 0, 1, 2).contiguous(),  # (D, C, t, p, p)
        "patch_embed.proj.bias": _t(_array(flat, "embedding/bias")),
    }
    _put(state, "head.", _dense(flat, "output_projection"))
    classes = state["head.weight"].shape[0]
    temporal_depth = 4
    if found == FACTORISED_ENCODER:
        spatial, s_info = _encoder(flat, "SpatialTransformer", "backbone.spatial.")
        temporal, t_info = _encoder(flat, "TemporalTransformer", "backbone.temporal.")
        if (s_info["heads"], s_info["mlp"]) != (t_info["heads"], t_info["mlp"]):
            raise ForeignWeightsError(f"the spatial encoder has {s_info['heads']} heads and MLP {s_info['mlp']}, the "
                                      f"temporal one {t_info['heads']} and {t_info['mlp']}; this program builds both "
                                      "alike")
        state.update(spatial)
        state.update(temporal)
        state["backbone.spatial.cls_token"] = _t(_array(flat, "cls_SpatialTransformer"))
        state["backbone.temporal.cls_token"] = _t(_array(flat, "cls_TemporalTransformer"))
        S, nt = s_info["tokens"] - 1, t_info["tokens"] - 1
        g = math.isqrt(S)
        if g * g != S:
            raise ForeignWeightsError(f"the spatial position embedding has {S} patches, not a square grid")
        frames, size = nt * t, g * ph
        for asked, got, what in ((num_frames, frames, "frames"), (image_size, size, "image size")):
            if asked is not None and asked != got:
                raise ForeignWeightsError(f"the position embeddings fix the {what} at {got}, not {asked}")
        info, temporal_depth = s_info, t_info["depth"]
    else:
        encoder, info = _encoder(flat, "Transformer", "backbone.encoder.",
                                 factorised_self_attention=found == FACTORISED_SELF_ATTENTION)
        state.update(encoder)
        tokens = info["tokens"]
        if found == SPATIO_TEMPORAL:
            state["backbone.encoder.cls_token"] = _t(_array(flat, "cls"))
            tokens -= 1
        frames, size = _split_tokens(tokens, t, ph, num_frames, image_size)
    try:
        config = ViViTConfig(variant=found, hidden_size=D, depth=info["depth"], num_heads=info["heads"],
                             mlp_dim=info["mlp"], temporal_depth=temporal_depth, patch_size=ph, tubelet_size=t,
                             num_frames=frames, image_size=size, in_channels=channels, num_classes=classes,
                             qkv_bias=True, activation="gelu_tanh", layer_norm_eps=1e-6,
                             attention_order=attention_order or "time_space")
    except ConfigError as e:
        raise ForeignWeightsError(str(e)) from e
    return state, config


def scenic_image_vit_to_timm(params: Mapping[str, Any]) -> dict[str, Tensor]:
    """A scenic image ViT (scenic/projects/baselines/vit.py: 4-D `embedding/kernel`, `cls`,
    `Transformer/...`) -> timm's names, for `image_vit_to_vivit` (train --init)."""
    flat = flatten(params)
    kernel = _array(flat, "embedding/kernel")
    if kernel.ndim != 4:
        raise ForeignWeightsError(f"embedding/kernel is {kernel.shape}: not an image ViT's (p, p, channels, width)")
    encoder, _ = _encoder(flat, "Transformer", "")
    out = {"patch_embed.proj.weight": _t(kernel).permute(3, 2, 0, 1).contiguous(),  # (D, C, p, p)
           "patch_embed.proj.bias": _t(_array(flat, "embedding/bias")),
           "cls_token": _t(_array(flat, "cls"))}
    out.update(encoder)
    return out


# -- the importer -----------------------------------------------------------------------------

def scenic_preprocessing(image_size: int) -> dict[str, Any]:
    """The card fields for scenic's evaluation preprocessing at this crop size."""
    e = SCENIC_EVAL
    return {"frame_stride": e["frame_stride"], "resize_shorter": round(image_size * e["resize_shorter_per_224"] / 224),
            "value_scale": e["value_scale"], "value_offset": e["value_offset"], "mean": e["mean"], "std": e["std"]}


def import_scenic(path: str | Path, *, num_frames: int | None = None, image_size: int | None = None,
                  attention_order: str | None = None, variant: str | None = None,
                  labels: Sequence[str] | None = None, heads: Sequence[tuple[str, int, int]] | None = None,
                  name: str | None = None, card_fields: Mapping[str, Any] | None = None):
    """A scenic ViViT checkpoint file (or folder) -> a ViViT in eval mode with its card.

    `labels` name the classes (class_N otherwise); `heads` split the output into named heads
    (name, start, size), e.g. Epic-Kitchens' nouns and verbs; `card_fields` override the card
    (scenic's evaluation preprocessing is the default)."""
    from .vivit import ViViT

    path = Path(path)
    tree = read_flax_checkpoint(path)
    try:
        state, config = convert_scenic_vivit(find_params(tree), num_frames=num_frames, image_size=image_size,
                                             attention_order=attention_order, variant=variant)
    except ForeignWeightsError as e:
        raise CheckpointError(path, f"cannot import: {e}") from e
    del tree
    if labels is not None and len(labels) != config.num_classes:
        raise CheckpointError(path, f"the model has {config.num_classes} classes but {len(labels)} labels were given")
    fields = {**scenic_preprocessing(config.image_size),
              "description": "Imported from a scenic (JAX/Flax) ViViT checkpoint.",
              "provenance": {"source": "scenic", "path": str(path.resolve()),
                             "note": "preprocessing as scenic evaluated its ViViT checkpoints (shorter side 256 per "
                                     "224 crop, centre crop, values in [-1, 1], every 2nd frame)"},
              **(card_fields or {})}
    try:
        card = ModelCard(arch=config, name=name or path.name, labels=tuple(labels or ()),
                         heads=tuple(tuple(h) for h in heads or ()), **fields)
    except ConfigError as e:
        raise CheckpointError(path, f"cannot import: {e}") from e
    with torch.device("meta"):
        model = ViViT(config, card, init="none")
    check_state_dict(model, state, path)
    model = materialise(model, state)
    return model.eval()


def read_init_weights(path: str | Path) -> dict[str, Tensor]:
    """Weights to start training from (`train --init`): a native or PyTorch state dict, or a
    scenic checkpoint (an image ViT -> timm names; a ViViT Model 1 -> native names)."""
    from .checkpoint import read_state_dict

    path = Path(path)
    if not (path.is_dir() or looks_like_flax(path)):
        return read_state_dict(path)
    params = find_params(read_flax_checkpoint(path))
    try:
        kernel = _array(flatten(params), "embedding/kernel")
        if kernel.ndim == 4:
            return scenic_image_vit_to_timm(params)
        state, config = convert_scenic_vivit(params)
    except ForeignWeightsError as e:
        raise CheckpointError(path, f"cannot start from it: {e}") from e
    if config.variant != SPATIO_TEMPORAL:
        raise CheckpointError(path, f"a scenic {config.variant} model; training starts from an image ViT or a "
                              "Model 1 (spatio-temporal)")
    return state
