"""One way in for a checkpoint a user hands over, for the command line and the window alike:
a Hugging Face folder, a scenic (JAX/Flax) checkpoint file or folder, or a native checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .checkpoint import WEIGHT_SUFFIXES, CheckpointError


@dataclass(frozen=True)
class ScenicOptions:
    """What a scenic checkpoint's names and shapes cannot say (see `import_scenic`)."""
    num_frames: int | None = None
    image_size: int | None = None
    attention_order: str | None = None
    variant: str | None = None
    labels: str | None = None  # a shipped set's name or a text file

    def given(self) -> list[str]:
        return [f"--{k.replace('_', '-')}" for k, v in vars(self).items() if v is not None]


def checkpoint_kind(path: str | Path) -> str:
    """'huggingface', 'scenic' or 'native' for a path a user gave; CheckpointError otherwise."""
    from .scenic import looks_like_flax

    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(path, "no such file or folder (give a Hugging Face checkpoint folder, a scenic "
                              "checkpoint, or NAME.safetensors with NAME.json)")
    if path.is_dir():
        if (path / "config.json").is_file():
            return "huggingface"
        return "scenic"  # a folder of checkpoint_<step> files; import_scenic says so if it is not
    if path.suffix in WEIGHT_SUFFIXES + (".json",) and not looks_like_flax(path):
        return "native"
    return "scenic"  # scenic files have no suffix ("checkpoint"); its reader says what anything else is


def import_checkpoint(path: str | Path, options: ScenicOptions = ScenicOptions(), name: str | None = None):
    """(model with its card, a note for the user) from any checkpoint `checkpoint_kind` knows."""
    from .checkpoint import load_model
    from .importers import import_hf_vivit

    path = Path(path)
    kind = checkpoint_kind(path)
    scenic_only = [flag for flag in options.given() if flag != "--labels"]
    if kind != "scenic" and scenic_only:
        raise CheckpointError(path, f"{', '.join(scenic_only)} apply to scenic checkpoints; this is a "
                              f"{'Hugging Face folder, which says all of it in its config.json' if kind == 'huggingface' else 'native checkpoint, whose card says it'}")
    if kind == "scenic":
        return _import_scenic(path, options, name or path.resolve().name)
    model = import_hf_vivit(path) if kind == "huggingface" else load_model(path)
    if options.labels is None:
        return model, ""
    # names for a checkpoint whose own are placeholders (a fine-tune's config says LABEL_0 ..)
    from .labels import label_set

    chosen = label_set(options.labels)
    if len(chosen.labels) != model.config.num_classes:
        raise CheckpointError(path, f"the labels {options.labels} name {len(chosen.labels)} classes; the checkpoint "
                              f"has {model.config.num_classes} (one label per line, in the order of its outputs)")
    model.card = model.card.replace(labels=chosen.labels, heads=chosen.heads)
    return model, f"labels: {chosen.name}"


def _import_scenic(path: Path, options: ScenicOptions, name: str):
    from .config import FACTORISED_ENCODER
    from .labels import guess_label_set, label_set
    from .scenic import import_scenic

    chosen = label_set(options.labels) if options.labels else None
    model = import_scenic(path, num_frames=options.num_frames, image_size=options.image_size,
                          attention_order=options.attention_order, variant=options.variant,
                          labels=chosen.labels if chosen else None, heads=chosen.heads if chosen else None, name=name)
    note = ""
    if chosen is None:
        chosen = guess_label_set(model.config.num_classes)
        if chosen is not None:
            model.card = model.card.replace(labels=chosen.labels, heads=chosen.heads)
            note = f"labels: {chosen.name} (from the class count; --labels to choose others)"
        else:
            note = "labels: class_0.. (no shipped set has this many classes; --labels FILE names them)"
    if chosen is not None and chosen.frame_stride is not None:
        model.card = model.card.replace(frame_stride=chosen.frame_stride)
    if model.variant != FACTORISED_ENCODER and options.num_frames is None and options.image_size is None:
        note += "; frames and size split from the official 32x224² (--num-frames/--image-size if yours differ)"
    return model, note
