"""Foreign weights in, through pure dict -> dict functions (timm's `checkpoint_filter_fn` idea).

- `convert_hf_vivit(state_dict, hf_config)`: Hugging Face `VivitForVideoClassification`
  (Model 1) -> native state dict and config. Both key spellings are read: the classic one that
  `save_pretrained` writes (`vivit.encoder.layer.N.attention.attention.query`) and the one
  transformers 5 uses in memory (`vivit.layers.N.attention.q_proj`).
- `image_vit_to_vivit(state_dict, config, tubelet_init)`: a 2D image ViT (timm or Hugging Face
  naming) -> the initial weights of any variant, as the paper initialises from ImageNet ViTs.
- `model1_to_vivit(state_dict, config)`: a trained Model 1 -> the initial weights of any
  variant of the same size (the same scheme, with the video model as the pretrained one).
- `import_hf_vivit(directory)`: reads a Hugging Face checkpoint directory (config.json,
  preprocessor_config.json if present, model.safetensors or pytorch_model.bin) into a model with
  its card. JSON only: nothing is evaluated or unpickled.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import VivitError

from .checkpoint import CheckpointError, check_state_dict, materialise, read_state_dict
from .config import (
    FACTORISED_DOT_PRODUCT,
    FACTORISED_ENCODER,
    SPATIO_TEMPORAL,
    ModelCard,
    ViViTConfig,
)

# Hugging Face transformer-layer parameter names -> timm's, for both spellings.
_HF_LAYER_NAMES = {
    "attention.attention.query": "attn.q",
    "attention.attention.key": "attn.k",
    "attention.attention.value": "attn.v",
    "attention.output.dense": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "attention.q_proj": "attn.q",
    "attention.k_proj": "attn.k",
    "attention.v_proj": "attn.v",
    "attention.o_proj": "attn.proj",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
}
_HF_LAYER = re.compile(r"^(?:encoder\.layer|layers)\.(\d+)\.(.+)\.(weight|bias)$")
_HF_TOP = {
    "embeddings.cls_token": "cls_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
# Parameters of heads that a classification checkpoint may carry but ViViT does not use.
_HF_IGNORED = re.compile(r"^(pooler\.|embeddings\.mask_token$)")


class ForeignWeightsError(ValueError, VivitError):
    """Foreign weights that cannot be converted to a ViViT."""


def hf_to_timm(state_dict: Mapping[str, Tensor], prefix: str) -> tuple[dict[str, Tensor], list[str]]:
    """Hugging Face ViT/ViViT names (under `prefix`, e.g. 'vivit.') -> timm names with a fused
    qkv. Returns (converted, unrecognised keys). Keys outside the prefix pass through."""
    out: dict[str, Tensor] = {}
    unknown: list[str] = []
    qkv: dict[tuple[int, str], dict[str, Tensor]] = {}
    for key, value in state_dict.items():
        if not key.startswith(prefix):
            out[key] = value
            continue
        name = key[len(prefix):]
        if name in _HF_TOP:
            out[_HF_TOP[name]] = value
            continue
        if _HF_IGNORED.match(name):
            continue
        m = _HF_LAYER.match(name)
        target = _HF_LAYER_NAMES.get(m.group(2)) if m else None
        if target is None:
            unknown.append(key)
            continue
        layer, kind = int(m.group(1)), m.group(3)
        if target in ("attn.q", "attn.k", "attn.v"):
            qkv.setdefault((layer, kind), {})[target[-1]] = value
        else:
            out[f"blocks.{layer}.{target}.{kind}"] = value
    for (layer, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise ForeignWeightsError(f"layer {layer} lacks some of query/key/value {kind}")
        out[f"blocks.{layer}.attn.qkv.{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out, unknown


_HF_ACTIVATIONS = {"gelu": "gelu", "gelu_fast": "gelu_tanh", "gelu_new": "gelu_tanh",
                   "gelu_pytorch_tanh": "gelu_tanh", "gelu_python_tanh": "gelu_tanh"}


def hf_vivit_config(hf_config: Mapping[str, Any]) -> ViViTConfig:
    """A Hugging Face `VivitConfig` (as the dict in config.json) -> ViViTConfig (Model 1)."""
    if not isinstance(hf_config, Mapping):
        raise ForeignWeightsError(f"config.json holds a {type(hf_config).__name__}, not an object")
    if hf_config.get("model_type") != "vivit":
        raise ForeignWeightsError(f"config.json is for model_type {hf_config.get('model_type')!r}, not 'vivit'")

    def get(name: str, default: Any, kind: type = int) -> Any:
        value = hf_config.get(name, default)
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is int and ok and value < 1:
            ok = False
        if not ok:
            raise ForeignWeightsError(f"config.json field {name!r} must be a positive whole number"
                                      if kind is int else f"config.json field {name!r} has the wrong type: {value!r}"[:160])
        return value

    image_size = hf_config.get("image_size", 224)
    if isinstance(image_size, (list, tuple)):
        if len(image_size) != 2 or len(set(image_size)) != 1:
            raise ForeignWeightsError(f"non-square image_size {image_size} is not supported"[:160])
        image_size = image_size[0]
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 1:
        raise ForeignWeightsError(f"config.json field 'image_size' must be a positive whole number, got {image_size!r}"[:160])
    tubelet = hf_config.get("tubelet_size", [2, 16, 16])
    if not isinstance(tubelet, (list, tuple)) or len(tubelet) != 3 or tubelet[1] != tubelet[2] \
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in tubelet):
        raise ForeignWeightsError(f"tubelet_size {tubelet!r} is not [t, p, p] of positive whole numbers"[:160])
    tubelet = list(tubelet)
    act = hf_config.get("hidden_act", "gelu_fast")
    if not isinstance(act, str) or act not in _HF_ACTIVATIONS:
        raise ForeignWeightsError(f"hidden_act {act!r} is not supported (supported: {', '.join(_HF_ACTIVATIONS)})"[:200])
    id2label = hf_config.get("id2label", None)
    if id2label is not None and not isinstance(id2label, Mapping):
        raise ForeignWeightsError("config.json field 'id2label' must be an object of class index -> name")
    num_classes = len(id2label) if id2label else get("num_labels", 2)
    eps = hf_config.get("layer_norm_eps", 1e-6)
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not 0 < eps < 1:
        raise ForeignWeightsError(f"config.json field 'layer_norm_eps' must be a small positive number, got {eps!r}"[:160])
    return ViViTConfig(
        variant=SPATIO_TEMPORAL,
        hidden_size=get("hidden_size", 768),
        depth=get("num_hidden_layers", 12),
        num_heads=get("num_attention_heads", 12),
        mlp_dim=get("intermediate_size", 3072),
        patch_size=tubelet[1],
        tubelet_size=tubelet[0],
        num_frames=get("num_frames", 32),
        image_size=image_size,
        in_channels=get("num_channels", 3),
        num_classes=num_classes,
        qkv_bias=get("qkv_bias", True, bool),
        activation=_HF_ACTIVATIONS[act],
        layer_norm_eps=float(eps),
    )


def hf_labels(hf_config: Mapping[str, Any], num_classes: int) -> tuple[str, ...]:
    id2label = hf_config.get("id2label") or {}
    try:
        by_index = {int(k): v for k, v in id2label.items()}
    except (TypeError, ValueError) as e:
        raise ForeignWeightsError(f"id2label has a key that is not a class index: {e}") from e
    if not all(isinstance(v, str) for v in by_index.values()):
        raise ForeignWeightsError("id2label's names must be text")
    return tuple(by_index.get(i, f"class_{i}") for i in range(num_classes))


def convert_hf_vivit(state_dict: Mapping[str, Tensor], hf_config: Mapping[str, Any]) -> tuple[dict[str, Tensor], ViViTConfig]:
    """Hugging Face ViViT weights -> (native state dict, config). Pure: no files, no model."""
    config = hf_vivit_config(hf_config)
    timm, unknown = hf_to_timm(state_dict, "vivit.")
    if unknown:
        raise ForeignWeightsError(f"unrecognised Hugging Face ViViT weights: {', '.join(sorted(unknown)[:5])}")
    out: dict[str, Tensor] = {}
    for key, value in timm.items():
        if key.startswith("classifier."):
            out["head." + key.split(".", 1)[1]] = value
        elif key.startswith("patch_embed."):
            out[key] = value
        else:
            out["backbone.encoder." + key] = value
    return out, config


def _hf_preprocessing(directory: Path, image_size: int) -> dict[str, Any]:
    """Card preprocessing from preprocessor_config.json, defaulting to `VivitImageProcessor`'s
    own defaults (transformers/models/vivit/image_processing_vivit.py): shortest edge 256,
    centre crop 224, rescale 1/127.5 with offset (values in [-1, 1]), then mean = std = 0.5."""
    settings: dict[str, Any] = {}
    path = directory / "preprocessor_config.json"
    if path.is_file():
        settings = _read_json(path)
        if not isinstance(settings, Mapping):
            raise CheckpointError(path, f"holds a {type(settings).__name__}, not an object")

    def field(name: str, default: Any, check, what: str) -> Any:
        value = settings.get(name, default)
        if not check(value):
            raise CheckpointError(path, f"field {name!r} must be {what}, got {value!r}"[:200])
        return value

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def flag(v) -> bool:
        return isinstance(v, bool)

    def triple(v) -> bool:
        return isinstance(v, (list, tuple)) and len(v) == 3 and all(number(x) for x in v)

    size = field("size", {"shortest_edge": 256}, lambda v: v is None or isinstance(v, Mapping), "an object")
    size = size or {"shortest_edge": 256}
    shortest = size.get("shortest_edge")
    if shortest is not None and not (isinstance(shortest, int) and not isinstance(shortest, bool)
                                     and 1 <= shortest <= 4096):
        raise CheckpointError(path, f"size.shortest_edge must be a whole number of pixels up to 4096, got {shortest!r}"[:200])
    rescale = field("do_rescale", True, flag, "true or false")
    scale = float(field("rescale_factor", 1 / 127.5, lambda v: number(v) and v > 0, "a positive number")) if rescale else 1.0
    offset = -1.0 if field("offset", True, flag, "true or false") and rescale else 0.0
    if field("do_normalize", True, flag, "true or false"):
        mean = field("image_mean", [0.5, 0.5, 0.5], triple, "three numbers")
        std = field("image_std", [0.5, 0.5, 0.5], lambda v: triple(v) and all(x > 0 for x in v), "three positive numbers")
    else:
        mean, std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    resize = int(shortest) if field("do_resize", True, flag, "true or false") and shortest else None
    return {"resize_shorter": max(resize, image_size) if resize else None, "value_scale": scale,
            "value_offset": offset, "mean": tuple(mean), "std": tuple(std)}


def import_hf_vivit(directory: str | Path):
    """A Hugging Face `VivitForVideoClassification` directory -> a ViViT with its card."""
    from .vivit import ViViT

    directory = Path(directory)
    config_path = directory / "config.json"
    if not directory.is_dir():
        raise CheckpointError(directory, "not a directory; a Hugging Face checkpoint is a folder with config.json "
                              "and model.safetensors (or pytorch_model.bin)")
    if not config_path.is_file():
        raise CheckpointError(directory, "no config.json: not a Hugging Face checkpoint directory")
    hf_config = _read_json(config_path)
    state = _read_hf_weights(directory)
    try:
        native, config = convert_hf_vivit(state, hf_config)
    except (ForeignWeightsError, ValueError, TypeError) as e:
        raise CheckpointError(directory, f"cannot import: {e}") from e
    labels, labels_note = hf_labels(hf_config, config.num_classes), None
    if all(re.fullmatch(r"(LABEL_|class_)\d+", label) for label in labels):
        # transformers' placeholder names (google/vivit-b-16x2-kinetics400 has only LABEL_0..399):
        # the shipped list of as many classes, in the order its checkpoints use (labels/SOURCES.md)
        from .labels import guess_label_set

        shipped = guess_label_set(config.num_classes)
        if shipped is not None and not shipped.heads:
            labels = shipped.labels
            labels_note = (f"config.json names the classes only LABEL_0..; the labels are the shipped {shipped.name} "
                           "list (vivit_desktop/labels/SOURCES.md)")
    card = ModelCard(
        arch=config,
        name=directory.name,
        labels=labels,
        frame_stride=2,
        description="Imported from a Hugging Face VivitForVideoClassification checkpoint.",
        provenance={"source": "huggingface", "path": str(directory.resolve()),
                    "architectures": hf_config.get("architectures", []),
                    "note": "frame_stride 2 is the paper's Kinetics sampling; the checkpoint does not record it",
                    **({"labels": labels_note} if labels_note else {})},
        **_hf_preprocessing(directory, config.image_size),
    )
    with torch.device("meta"):
        model = ViViT(config, card, init="none")
    check_state_dict(model, native, directory)
    model = materialise(model, {k: v.float() for k, v in native.items()})
    return model.eval()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(path, f"not valid JSON: {e}") from e
    except RecursionError as e:
        raise CheckpointError(path, "nested too deeply to be a configuration file") from e
    except OSError as e:
        raise CheckpointError(path, f"cannot be read: {e.strerror or e}") from e


def _read_hf_weights(directory: Path) -> dict[str, Tensor]:
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        data = _read_json(index)
        weight_map = data.get("weight_map") if isinstance(data, Mapping) else None
        if not isinstance(weight_map, Mapping) or not all(isinstance(v, str) for v in weight_map.values()):
            raise CheckpointError(index, "invalid shard index: no weight_map of names to shard files")
        shards = sorted(set(weight_map.values()))
        state: dict[str, Tensor] = {}
        for shard in shards:
            state.update(read_state_dict(directory / Path(shard).name))
        return state
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (directory / name).is_file():
            return read_state_dict(directory / name)
    raise CheckpointError(directory, "no weights: expected model.safetensors or pytorch_model.bin")


# -- initialisation from a 2D image ViT -------------------------------------------------------

TUBELET_INITS = ("central_frame", "filter_inflation")


def image_vit_to_timm(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Recognise an image ViT's naming by its keys and return timm names."""
    keys = set(state_dict)
    if "patch_embed.proj.weight" in keys:
        return dict(state_dict)
    for prefix in ("vit.", ""):
        if f"{prefix}embeddings.patch_embeddings.projection.weight" in keys:
            converted, unknown = hf_to_timm(state_dict, prefix)
            if unknown:
                raise ForeignWeightsError(f"unrecognised image ViT weights: {', '.join(sorted(unknown)[:5])}")
            return {k: v for k, v in converted.items() if not k.startswith("classifier.")}
    raise ForeignWeightsError("not an image ViT state dict (expected timm's patch_embed.proj.weight or Hugging "
                       "Face's embeddings.patch_embeddings.projection.weight)")


def inflate_patch_kernel(kernel_2d: Tensor, t: int, method: str) -> Tensor:
    """(D, C, p, p) -> (D, C, t, p, p). 'central_frame': the 2D kernel at the middle time index
    (t // 2, as scenic), zeros elsewhere. 'filter_inflation': repeated over t, divided by t."""
    if method not in TUBELET_INITS:
        raise ValueError(f"tubelet_init must be one of {TUBELET_INITS}, got {method!r}")
    if method == "filter_inflation":
        return kernel_2d.unsqueeze(2).repeat(1, 1, t, 1, 1) / t
    kernel = kernel_2d.new_zeros(kernel_2d.shape[:2] + (t,) + kernel_2d.shape[2:])
    kernel[:, :, t // 2] = kernel_2d
    return kernel


def resize_pos_grid(grid: Tensor, size: int) -> Tensor:
    """(1, g*g, D) -> (1, size*size, D), bilinear like scenic's and timm's resampling."""
    n = grid.shape[1]
    g = math.isqrt(n)
    if g * g != n:
        raise ForeignWeightsError(f"position embedding of {n} patches is not a square grid")
    if g == size:
        return grid
    img = grid.reshape(1, g, g, -1).permute(0, 3, 1, 2)  # (1, D, g, g)
    img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)
    return img.permute(0, 2, 3, 1).reshape(1, size * size, -1)


def image_vit_to_vivit(state_dict: Mapping[str, Tensor], config: ViViTConfig,
                       tubelet_init: str = "central_frame") -> dict[str, Tensor]:
    """Initial ViViT weights from an image ViT, as the paper does (Section 3.4): tubelet kernels
    by central frame or filter inflation; spatial position embeddings repeated over time; the
    image ViT's blocks as the (spatial) encoder. Model 3's temporal attention is zero so each
    block starts as a residual; Model 2's temporal encoder and the head are left out (they keep
    their random initialisation). Returns a partial native state dict."""
    vit = image_vit_to_timm(state_dict)
    D = vit["patch_embed.proj.weight"].shape[0]
    depth = 1 + max((int(k.split(".")[1]) for k in vit if k.startswith("blocks.")), default=-1)
    if D != config.hidden_size or depth != config.depth:
        raise ForeignWeightsError(f"the image ViT is {depth} layers of width {D}, the model {config.depth} of "
                           f"width {config.hidden_size}; pick the ViViT size that matches")
    if vit["patch_embed.proj.weight"].shape[-1] != config.patch_size:
        raise ForeignWeightsError(f"the image ViT's patches are {vit['patch_embed.proj.weight'].shape[-1]} pixels, "
                           f"the model's {config.patch_size}")
    out = {"patch_embed.proj.weight": inflate_patch_kernel(vit["patch_embed.proj.weight"], config.tubelet_size,
                                                           tubelet_init),
           "patch_embed.proj.bias": vit["patch_embed.proj.bias"]}
    pos = vit["pos_embed"]  # (1, 1 + g*g, D) with the CLS position first
    grid = resize_pos_grid(pos[:, 1:], config.grid_size)
    blocks = {k: v for k, v in vit.items() if k.startswith(("blocks.", "norm."))}
    return {**out, **_place_encoder(config, vit["cls_token"], pos[:, :1], grid,
                                    grid.repeat(1, config.temporal_tokens, 1), blocks)}


def _place_encoder(config: ViViTConfig, cls_token: Tensor, cls_pos: Tensor, spatial_pos: Tensor,
                   spacetime_pos: Tensor, blocks: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A pretrained joint-attention encoder (timm names `blocks.*`, `norm.*`) placed into the
    backbone of `config`'s variant: Model 2's spatial encoder (spatial positions, CLS token);
    Model 1's and Model 4's encoder (space-time positions); Model 3's blocks with the pretrained
    attention as the spatial one and a zero temporal one, so each block starts as a residual.
    Model 2's temporal encoder is left out (it keeps its random initialisation)."""
    variant = config.variant

    def put(prefix: str, items: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {prefix + k: v for k, v in items.items()}

    if variant == FACTORISED_ENCODER:
        return put("backbone.spatial.", {"cls_token": cls_token, "pos_embed": torch.cat([cls_pos, spatial_pos], 1),
                                         **blocks})
    if variant == SPATIO_TEMPORAL:
        return put("backbone.encoder.", {"cls_token": cls_token, "pos_embed": torch.cat([cls_pos, spacetime_pos], 1),
                                         **blocks})
    if variant == FACTORISED_DOT_PRODUCT:
        return put("backbone.encoder.", {"pos_embed": spacetime_pos, **blocks})
    renamed = {}  # FACTORISED_SELF_ATTENTION
    for k, v in blocks.items():
        if not k.startswith("blocks."):
            renamed[k] = v
            continue
        layer, rest = k.split(".", 2)[1], k.split(".", 2)[2]
        rest = rest.replace("norm1.", "norm_s.").replace("attn.", "attn_s.")
        renamed[f"blocks.{layer}.{rest}"] = v
        if rest.startswith("attn_s."):
            renamed[f"blocks.{layer}.{rest.replace('attn_s.', 'attn_t.')}"] = torch.zeros_like(v)
    return put("backbone.encoder.", {"pos_embed": spacetime_pos, **renamed})


def is_model1_state(state_dict: Mapping[str, Tensor]) -> bool:
    """A native Model 1 state dict (a video model), as opposed to an image ViT's."""
    kernel = state_dict.get("patch_embed.proj.weight")
    return kernel is not None and kernel.ndim == 5 and "backbone.encoder.cls_token" in state_dict


def model1_to_vivit(state_dict: Mapping[str, Tensor], config: ViViTConfig) -> dict[str, Tensor]:
    """Initial weights for any variant from a trained Model 1 of the same size: Section 3.4's
    scheme with the video model in place of the image ViT. The tubelet embedding (which already
    sees motion within a tubelet), the blocks and, when the classes are as many, the head are
    copied; Model 2's spatial positions are Model 1's averaged over time. Returns a partial
    native state dict."""
    if not is_model1_state(state_dict):
        raise ForeignWeightsError("not a Model 1 (spatio-temporal) state dict")
    prefix = "backbone.encoder."
    D, nt, S = config.hidden_size, config.temporal_tokens, config.spatial_tokens
    pos = state_dict[f"{prefix}pos_embed"]
    if pos.shape != (1, 1 + nt * S, D) or state_dict["patch_embed.proj.weight"].shape[0] != D:
        raise ForeignWeightsError(f"Model 1's tokens {tuple(pos.shape)} do not match the model's "
                                  f"(1, {1 + nt * S}, {D}); train Model 1 at the same size")
    spacetime = pos[:, 1:]
    blocks = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith((f"{prefix}blocks.", f"{prefix}norm."))}
    shared = {k: v for k, v in state_dict.items() if k.startswith("patch_embed.")
              or (k.startswith("head.") and v.shape[0] == config.num_classes)}
    return {**shared, **_place_encoder(config, state_dict[f"{prefix}cls_token"], pos[:, :1],
                                       spacetime.reshape(1, nt, S, D).mean(1), spacetime, blocks)}


def init_from_image_vit(model, state_dict: Mapping[str, Tensor], tubelet_init: str = "central_frame") -> list[str]:
    """Load `image_vit_to_vivit` weights into `model`; returns the names left at their random
    initialisation."""
    return _load_partial(model, image_vit_to_vivit(state_dict, model.config, tubelet_init), "image ViT")


def resize_tubelet(state_dict: Mapping[str, Tensor], patch_size: int) -> dict[str, Tensor]:
    """A native state dict with its tubelet kernel resized to `patch_size` pixels (bilinear, and
    divided by the change in area), so a model trained at one input size starts at another with
    the same patch grid seeing the same picture, only sampled finer (e.g. 32x32 with 8-pixel
    patches -> 64x64 with 16-pixel patches)."""
    import torch.nn.functional as F

    state = dict(state_dict)
    kernel = state["patch_embed.proj.weight"]  # (D, C, t, p, p)
    D, C, t, p, _ = kernel.shape
    if p != patch_size:
        resized = F.interpolate(kernel.reshape(D * C * t, 1, p, p).float(), size=(patch_size, patch_size),
                                mode="bilinear", align_corners=False)
        state["patch_embed.proj.weight"] = (resized.reshape(D, C, t, patch_size, patch_size)
                                            * (p / patch_size) ** 2).to(kernel.dtype)
    return state


def init_from_model1(model, state_dict: Mapping[str, Tensor]) -> list[str]:
    """Load `model1_to_vivit` weights into `model`; returns the names left at their random
    initialisation."""
    return _load_partial(model, model1_to_vivit(state_dict, model.config), "Model 1")


def _load_partial(model, weights: Mapping[str, Tensor], source: str) -> list[str]:
    own = model.state_dict()
    wrong = [k for k, v in weights.items() if k not in own or own[k].shape != v.shape]
    if wrong:
        raise ForeignWeightsError(f"{source} weights do not fit the model ({', '.join(wrong[:5])}): start from "
                                  "weights of the model's size (width, depth, patch and tubelet)")
    missing, _ = model.load_state_dict(weights, strict=False)
    return sorted(missing)
