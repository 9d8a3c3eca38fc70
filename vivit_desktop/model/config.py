"""Architecture config and model card: frozen dataclasses that travel with the weights.

`ViViTConfig` is everything needed to build the network. `ModelCard` adds what the engine
needs to feed it (frames, stride, input size, value range, mean/std), the labels, and where
the weights came from. The card is saved as JSON beside the weights and parsed strictly:
unknown keys and wrong types are errors, nothing is ever evaluated.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import VivitError

# The four ViViT variants (Arnab et al., ICCV 2021, Section 3.3).
SPATIO_TEMPORAL = "spatio_temporal"  # Model 1
FACTORISED_ENCODER = "factorised_encoder"  # Model 2
FACTORISED_SELF_ATTENTION = "factorised_self_attention"  # Model 3
FACTORISED_DOT_PRODUCT = "factorised_dot_product"  # Model 4
VARIANTS = (SPATIO_TEMPORAL, FACTORISED_ENCODER, FACTORISED_SELF_ATTENTION, FACTORISED_DOT_PRODUCT)
VARIANT_TITLES = {
    SPATIO_TEMPORAL: "Model 1: spatio-temporal attention",
    FACTORISED_ENCODER: "Model 2: factorised encoder",
    FACTORISED_SELF_ATTENTION: "Model 3: factorised self-attention",
    FACTORISED_DOT_PRODUCT: "Model 4: factorised dot-product attention",
}
ACTIVATIONS = ("gelu", "gelu_tanh")
ATTENTION_ORDERS = ("time_space", "space_time")
# Stochastic depth (drop path). "scenic": as google-research/scenic applies it (projects/vivit/
# model.py EncoderBlock, model_lib/layers/nn_layers.py StochasticDepth): a residual branch dropped
# per sample, the kept ones NOT rescaled by 1/(1-p), and Model 3's factorised block applies none
# (scenic's EncoderFactorizedSelfAttentionBlock takes droplayer_p and ignores it). "timm": the kept
# branches scaled by 1/(1-p), and Model 3's block drops each of its three residual branches (what
# this program did before; an option, not scenic's).
STOCHASTIC_DEPTHS = ("scenic", "timm")

CARD_FORMAT = "vivit-desktop/model-card"
CARD_VERSION = 1


class ConfigError(ValueError, VivitError):
    """A config or model card that cannot describe a valid model."""


# Upper bounds that keep a hostile or mistyped card from asking for absurd allocations (a
# 100000-pixel input, a 50000-pixel resize); every real ViViT is far inside them.
_LIMITS = {"hidden_size": 16384, "depth": 256, "num_heads": 256, "mlp_dim": 65536, "patch_size": 256,
           "tubelet_size": 64, "num_frames": 1024, "image_size": 2048, "in_channels": 16, "num_classes": 1_000_000,
           "temporal_depth": 256}
MAX_RESIZE = 4096


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ViViTConfig:
    """The architecture. Defaults are ViViT-B/16x2 on 32 frames of 224x224, Kinetics-400."""

    variant: str = SPATIO_TEMPORAL
    hidden_size: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_dim: int = 3072
    temporal_depth: int = 4  # Model 2's temporal encoder (Lt); ignored by the others
    patch_size: int = 16
    tubelet_size: int = 2  # t of the t x p x p tubelet; 1 = uniform frame sampling
    num_frames: int = 32
    image_size: int = 224
    in_channels: int = 3
    num_classes: int = 400
    qkv_bias: bool = True
    # scenic uses flax's nn.gelu, whose default is the tanh approximation.
    activation: str = "gelu_tanh"
    layer_norm_eps: float = 1e-6
    attention_order: str = "time_space"  # Model 3 only
    dropout: float = 0.0
    attention_dropout: float = 0.0
    drop_path: float = 0.0  # stochastic depth, linearly increasing over depth
    stochastic_depth: str = "scenic"  # how drop path is applied: STOCHASTIC_DEPTHS

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown variant {self.variant!r}; expected one of {', '.join(VARIANTS)}")
        positive = ("hidden_size", "depth", "num_heads", "mlp_dim", "patch_size", "tubelet_size",
                    "num_frames", "image_size", "in_channels", "num_classes")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
            if value > _LIMITS[name]:
                raise ConfigError(f"{name} {value} is beyond what this program builds (at most {_LIMITS[name]})")
        if self.variant == FACTORISED_ENCODER and (not isinstance(self.temporal_depth, int)
                                                   or isinstance(self.temporal_depth, bool) or self.temporal_depth < 1
                                                   or self.temporal_depth > _LIMITS["temporal_depth"]):
            raise ConfigError(f"temporal_depth must be a positive integer up to {_LIMITS['temporal_depth']}, "
                              f"got {self.temporal_depth!r}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.variant == FACTORISED_DOT_PRODUCT and self.num_heads % 2:
            raise ConfigError("Model 4 splits its heads between time and space: num_heads must be even, "
                              f"got {self.num_heads}")
        if self.num_frames % self.tubelet_size:
            raise ConfigError(f"num_frames {self.num_frames} is not a multiple of tubelet_size {self.tubelet_size}")
        if self.image_size % self.patch_size:
            raise ConfigError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.attention_order not in ATTENTION_ORDERS:
            raise ConfigError(f"attention_order must be one of {ATTENTION_ORDERS}, got {self.attention_order!r}")
        if self.stochastic_depth not in STOCHASTIC_DEPTHS:
            raise ConfigError(f"stochastic_depth must be one of {STOCHASTIC_DEPTHS}, got {self.stochastic_depth!r}")
        if not _finite_number(self.layer_norm_eps) or not 0 < self.layer_norm_eps < 1:
            raise ConfigError(f"layer_norm_eps must be a small positive number, got {self.layer_norm_eps!r}")
        for name in ("dropout", "attention_dropout", "drop_path"):
            if not _finite_number(getattr(self, name)) or not 0.0 <= float(getattr(self, name)) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")

    @property
    def temporal_tokens(self) -> int:
        """nt: tubelets along time."""
        return self.num_frames // self.tubelet_size

    @property
    def grid_size(self) -> int:
        """nh = nw: patches along each image side."""
        return self.image_size // self.patch_size

    @property
    def spatial_tokens(self) -> int:
        return self.grid_size**2

    @property
    def uses_cls_token(self) -> bool:
        return self.variant in (SPATIO_TEMPORAL, FACTORISED_ENCODER)


def _default_mean() -> tuple[float, float, float]:
    return (0.485, 0.456, 0.406)


def _default_std() -> tuple[float, float, float]:
    return (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelCard:
    """What travels with a checkpoint: architecture, preprocessing, labels, provenance, figures.

    Preprocessing of a uint8 RGB frame: resize so the shorter side is `resize_shorter`, centre-crop
    `arch.image_size`, then `value = pixel * value_scale + value_offset` (this sets the value
    range, e.g. [0, 1] or [-1, 1]) and `(value - mean) / std` per channel.
    """

    arch: ViViTConfig
    name: str = ""
    labels: tuple[str, ...] = ()
    # Several classification heads in one output (e.g. Epic-Kitchens' nouns and verbs): each
    # (name, start, size) owns labels[start:start + size] and has its own softmax. Listed in the
    # order they are shown; empty: one head over all the labels.
    heads: tuple[tuple[str, int, int], ...] = ()
    frame_stride: int = 2  # sample one frame every `frame_stride` source frames
    fps: float | None = None  # frame rate the clips were sampled at in training, if known
    resize_shorter: int | None = None  # None: same as the crop (arch.image_size)
    value_scale: float = 1 / 255
    value_offset: float = 0.0
    mean: tuple[float, ...] = field(default_factory=_default_mean)
    std: tuple[float, ...] = field(default_factory=_default_std)
    description: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)
    evaluation: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.arch, ViViTConfig):
            raise ConfigError("arch must be a ViViTConfig")
        labels = tuple(self.labels) or tuple(f"class_{i}" for i in range(self.arch.num_classes))
        object.__setattr__(self, "labels", labels)
        if not all(isinstance(label, str) for label in labels):
            raise ConfigError("labels must be strings")
        if len(labels) != self.arch.num_classes:
            raise ConfigError(f"the card has {len(labels)} labels but the model has {self.arch.num_classes} classes")
        object.__setattr__(self, "heads", _checked_heads(self.heads, len(labels)))
        if not isinstance(self.frame_stride, int) or isinstance(self.frame_stride, bool) or not 1 <= self.frame_stride <= 256:
            raise ConfigError(f"frame_stride must be a positive integer up to 256, got {self.frame_stride!r}")
        if self.fps is not None and not (_finite_number(self.fps) and 0 < self.fps <= 10000):
            raise ConfigError(f"fps must be a positive number, got {self.fps!r}")
        if self.resize_shorter is not None and (not isinstance(self.resize_shorter, int)
                                                or isinstance(self.resize_shorter, bool)
                                                or not self.arch.image_size <= self.resize_shorter <= MAX_RESIZE):
            raise ConfigError(f"resize_shorter must be an integer from image_size {self.arch.image_size} to "
                              f"{MAX_RESIZE}, got {self.resize_shorter!r}")
        for name in ("value_scale", "value_offset"):
            if not _finite_number(getattr(self, name)):
                raise ConfigError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        for name in ("mean", "std"):
            raw = getattr(self, name)
            if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__") \
                    or not all(_finite_number(v) for v in raw):
                raise ConfigError(f"{name} must be a list of {self.arch.in_channels} finite numbers, got {raw!r}"[:200])
            values = tuple(float(v) for v in raw)
            if len(values) != self.arch.in_channels:
                raise ConfigError(f"{name} needs {self.arch.in_channels} values, got {len(values)}")
            object.__setattr__(self, name, values)
        if any(s <= 0 or not math.isfinite(s) for s in self.std):
            raise ConfigError(f"std must be positive, got {self.std}")
        for name in ("provenance", "evaluation"):
            if not isinstance(getattr(self, name), Mapping):
                raise ConfigError(f"{name} must be a mapping")

    @property
    def variant(self) -> str:
        return self.arch.variant

    @property
    def num_frames(self) -> int:
        return self.arch.num_frames

    @property
    def image_size(self) -> int:
        return self.arch.image_size

    @property
    def multi_head(self) -> bool:
        return len(self.heads) > 1

    def head_slices(self) -> tuple[tuple[str, int, int], ...]:
        """(name, start, stop) of each head, in display order; one unnamed head if the card
        names none."""
        if not self.heads:
            return (("", 0, len(self.labels)),)
        return tuple((name, start, start + size) for name, start, size in self.heads)

    @property
    def qualified_labels(self) -> tuple[str, ...]:
        """Labels that are unique across heads: "verb: cut" for a multi-head model, the labels
        themselves otherwise. Thresholds, legends and table columns use these."""
        if not self.multi_head:
            return self.labels
        names = list(self.labels)
        for head, start, stop in self.head_slices():
            for i in range(start, stop):
                names[i] = f"{head}: {self.labels[i]}"
        return tuple(names)

    def value_range(self) -> tuple[float, float]:
        """The range of `pixel * value_scale + value_offset` for pixels 0..255."""
        return (self.value_offset, 255 * self.value_scale + self.value_offset)

    def replace(self, **changes: Any) -> "ModelCard":
        return dataclasses.replace(self, **changes)

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["labels"] = list(self.labels)
        data["heads"] = [{"name": n, "start": a, "size": b} for n, a, b in self.heads]
        data["mean"], data["std"] = list(self.mean), list(self.std)
        data["provenance"], data["evaluation"] = dict(self.provenance), dict(self.evaluation)
        return {"format": CARD_FORMAT, "version": CARD_VERSION, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelCard":
        if not isinstance(data, Mapping):
            raise ConfigError("a model card must be a JSON object")
        data = dict(data)
        fmt, version = data.pop("format", None), data.pop("version", None)
        if fmt != CARD_FORMAT:
            raise ConfigError(f"not a ViViT Desktop model card (format {fmt!r}, expected {CARD_FORMAT!r})")
        if version != CARD_VERSION:
            raise ConfigError(f"model card version {version!r} is not supported (this program reads {CARD_VERSION})")
        arch = data.pop("arch", None)
        if not isinstance(arch, Mapping):
            raise ConfigError("the model card has no 'arch' object")
        arch_config = _build_strict(ViViTConfig, arch, "arch")
        card_data = _checked_fields(cls, data, "card", skip={"arch"})
        for name in ("labels", "mean", "std"):
            if name in card_data:
                if not isinstance(card_data[name], list):
                    raise ConfigError(f"card field {name!r} must be a list")
                card_data[name] = tuple(card_data[name])
        if "heads" in card_data:
            heads = card_data["heads"]
            if not isinstance(heads, list) or not all(isinstance(h, Mapping) and set(h) == {"name", "start", "size"}
                                                      for h in heads):
                raise ConfigError("card field 'heads' must be a list of {name, start, size} objects")
            card_data["heads"] = tuple((h["name"], h["start"], h["size"]) for h in heads)
        return cls(arch=arch_config, **card_data)

    @classmethod
    def from_json(cls, text: str) -> "ModelCard":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"the model card is not valid JSON: {e}") from e
        except RecursionError as e:
            raise ConfigError("the model card is nested too deeply to be a model card") from e
        return cls.from_dict(data)

    @classmethod
    def read(cls, path: str | Path) -> "ModelCard":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _checked_heads(heads, num_labels: int) -> tuple[tuple[str, int, int], ...]:
    """Heads as (name, start, size) tuples that split [0, num_labels) exactly, with unique names."""
    try:
        heads = tuple((name, start, size) for name, start, size in heads)
    except (TypeError, ValueError) as e:
        raise ConfigError("heads must be (name, start, size) triples") from e
    if not heads:
        return ()
    for name, start, size in heads:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a head needs a name, got {name!r}")
        for value in (start, size):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"head {name!r}: start and size must be non-negative integers, got {value!r}")
        if size < 1:
            raise ConfigError(f"head {name!r} has no classes")
    if len({h[0] for h in heads}) != len(heads):
        raise ConfigError("head names must be unique")
    covered = sorted((start, start + size) for _, start, size in heads)
    position = 0
    for start, stop in covered:
        if start != position:
            raise ConfigError(f"the heads must split the {num_labels} classes exactly (gap or overlap at {position})")
        position = stop
    if position != num_labels:
        raise ConfigError(f"the heads cover {position} classes but the model has {num_labels}")
    return heads


_JSON_TYPES = {int: (int,), float: (int, float), bool: (bool,), str: (str,)}


def _checked_fields(cls: type, data: Mapping[str, Any], what: str, skip: set[str] = frozenset()) -> dict[str, Any]:
    """Keep only known fields and check scalar types, so a card never smuggles in surprises."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown {what} field(s): {', '.join(unknown)}")
    hints = {"int": int, "float": float, "bool": bool, "str": str}
    checked = {}
    for name, value in data.items():
        annotation = str(fields[name].type)
        expected = hints.get(annotation)
        if expected is not None:
            ok = isinstance(value, _JSON_TYPES[expected]) and not (expected is not bool and isinstance(value, bool))
            if not ok:
                raise ConfigError(f"{what} field {name!r} must be {annotation}, got {value!r}")
            value = float(value) if expected is float else value
        checked[name] = value
    return checked


def _build_strict(cls: type, data: Mapping[str, Any], what: str):
    return cls(**_checked_fields(cls, data, what))
