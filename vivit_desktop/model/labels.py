"""Class lists shipped as data (vivit_desktop/labels/, sources in its SOURCES.md), and the
label sets a checkpoint can be given: a shipped name or a text file of one label per line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LABELS_DIR = Path(__file__).resolve().parent.parent / "labels"

# Scenic's Epic-Kitchens ViViT has one output of 300 noun then 97 verb logits
# (configs/epic_kitchens: class_splits [300, 97], split_names ['noun', 'verb']); shown verb first.
EPIC_NOUNS, EPIC_VERBS = 300, 97


@dataclass(frozen=True)
class LabelSet:
    name: str
    labels: tuple[str, ...]
    heads: tuple[tuple[str, int, int], ...] = ()  # (name, start, size), in display order
    frame_stride: int | None = None  # how the dataset's official models sample frames, if it differs

    def __len__(self) -> int:
        return len(self.labels)


def label_list(name: str) -> tuple[str, ...]:
    """One shipped list by its file stem, e.g. 'kinetics400'."""
    path = LABELS_DIR / f"{name}.txt"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in LABELS_DIR.glob("*.txt")))
        raise ValueError(f"no shipped label list {name!r} (shipped: {known})")
    return _read_lines(path)


def _read_lines(path: Path) -> tuple[str, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read the labels ({e})") from e
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not labels:
        raise ValueError(f"{path}: no labels in the file (one label per line)")
    return labels


def _epic_kitchens() -> LabelSet:
    nouns, verbs = label_list("epic_kitchens_100_nouns"), label_list("epic_kitchens_100_verbs")
    return LabelSet("epic-kitchens-100", nouns + verbs,
                    (("verb", len(nouns), len(verbs)), ("noun", 0, len(nouns))),
                    frame_stride=1)  # configs/epic_kitchens: stride 1 (Kinetics: 2)


SHIPPED_SETS = {
    "kinetics400": lambda: LabelSet("kinetics400", label_list("kinetics400")),
    "kinetics600": lambda: LabelSet("kinetics600", label_list("kinetics600")),
    "epic-kitchens-100": _epic_kitchens,
}


def label_set(spec: str) -> LabelSet:
    """A shipped set's name (kinetics400, kinetics600, epic-kitchens-100) or a text file."""
    if spec in SHIPPED_SETS:
        return SHIPPED_SETS[spec]()
    path = Path(spec)
    if path.is_file():
        return LabelSet(path.stem, _read_lines(path))
    raise ValueError(f"--labels {spec!r}: not a file and not one of the shipped sets ({', '.join(SHIPPED_SETS)})")


def guess_label_set(num_classes: int) -> LabelSet | None:
    """The shipped set with exactly this many classes, if one has (400, 600, 397)."""
    for make in SHIPPED_SETS.values():
        try:
            found = make()
        except ValueError:
            continue
        if len(found) == num_classes:
            return found
    return None
