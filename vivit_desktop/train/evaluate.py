"""Evaluation: accuracy, per-class accuracy and the confusion matrix, written as JSON and PNG."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..fileio import atomic_path, atomic_write_text, check_writable


@dataclass
class Evaluation:
    labels: tuple[str, ...]
    confusion: np.ndarray  # (K, K) counts; row = true class, column = predicted class
    dataset: str = ""

    @property
    def clips(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(1, self.confusion.sum()))

    @property
    def per_class(self) -> dict[str, float | None]:
        """Recall of each class (None for a class with no clips)."""
        totals = self.confusion.sum(axis=1)
        return {label: (float(self.confusion[i, i] / totals[i]) if totals[i] else None)
                for i, label in enumerate(self.labels)}

    def most_confused(self, n: int = 3) -> list[tuple[str, str, int]]:
        """The largest off-diagonal cells: (true, predicted, clips)."""
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(off, axis=None)[::-1][:n]
        cells = [np.unravel_index(k, off.shape) for k in order]
        return [(self.labels[i], self.labels[j], int(off[i, j])) for i, j in cells if off[i, j] > 0]

    def to_dict(self) -> dict[str, Any]:
        return {"format": "vivit-desktop/evaluation", "version": 1, "dataset": self.dataset, "clips": self.clips,
                "accuracy": self.accuracy, "per_class_accuracy": self.per_class, "labels": list(self.labels),
                "confusion_matrix": self.confusion.astype(int).tolist(),
                "confusion_matrix_axes": "rows: true class, columns: predicted class"}

    def summary(self) -> str:
        lines = [f"accuracy {self.accuracy:.1%} on {self.clips} clips of {self.dataset}".rstrip()]
        width = max(len(label) for label in self.labels)
        for label, value in self.per_class.items():
            lines.append(f"  {label:<{width}}  {'-' if value is None else f'{value:.1%}'}")
        confused = self.most_confused()
        if confused:
            lines.append("most confused: " + "; ".join(f"{t} -> {p} ({n})" for t, p, n in confused))
        return "\n".join(lines)

    def write_json(self, path: str | Path, overwrite: bool = False) -> Path:
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n", overwrite)

    def write_png(self, path: str | Path, overwrite: bool = False, title: str = "") -> Path:
        image = confusion_image(self.confusion, self.labels, title or f"accuracy {self.accuracy:.1%}, {self.clips} clips")
        with atomic_path(path, overwrite) as tmp:
            if not cv2.imwrite(str(tmp), image):
                raise OSError(f"could not encode {path} as PNG")
        return Path(path)

    def write(self, prefix: str | Path, overwrite: bool = False, title: str = "") -> tuple[Path, Path]:
        """PREFIX.png and PREFIX.json; refuses before writing either if one exists (unless
        `overwrite`)."""
        png, js = evaluation_files(prefix, overwrite)
        return self.write_png(png, overwrite, title), self.write_json(js, overwrite)


def evaluation_files(prefix: str | Path, overwrite: bool = False) -> tuple[Path, Path]:
    """(PREFIX.png, PREFIX.json), checked writable: call it to refuse before evaluating."""
    prefix = Path(prefix)
    png, js = prefix.with_name(prefix.name + ".png"), prefix.with_name(prefix.name + ".json")
    return check_writable(png, overwrite), check_writable(js, overwrite)


def confusion_image(confusion: np.ndarray, labels, title: str, cell: int = 46) -> np.ndarray:
    """A BGR image of the row-normalised matrix: shade = share of the true class, number = clips;
    rows are true classes, columns predictions (their names written upwards)."""
    k = len(labels)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.45
    text_w = max(cv2.getTextSize(label, font, scale, 1)[0][0] for label in labels) + 16
    top, left = text_w + 40, text_w + 40
    image = np.full((top + k * cell + 40, left + k * cell + 20, 3), 255, np.uint8)
    totals = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, totals, out=np.zeros_like(confusion, dtype=float), where=totals > 0)
    for i in range(k):
        for j in range(k):
            shade = int(255 - 200 * share[i, j])
            if i == j:
                colour = (shade, min(255, shade + 60), shade)  # green-ish on the diagonal
            else:
                colour = (shade, shade, 255) if confusion[i, j] else (250, 250, 250)  # red-ish errors
            x, y = left + j * cell, top + i * cell
            cv2.rectangle(image, (x, y), (x + cell - 1, y + cell - 1), colour, -1)
            cv2.rectangle(image, (x, y), (x + cell - 1, y + cell - 1), (200, 200, 200), 1)
            if confusion[i, j]:
                text = str(int(confusion[i, j]))
                (tw, th), _ = cv2.getTextSize(text, font, scale, 1)
                ink = (255, 255, 255) if share[i, j] > 0.6 else (30, 30, 30)
                cv2.putText(image, text, (x + (cell - tw) // 2, y + (cell + th) // 2), font, scale, ink, 1, cv2.LINE_AA)
    for i, label in enumerate(labels):
        (tw, th), _ = cv2.getTextSize(label, font, scale, 1)
        cv2.putText(image, label, (left - tw - 8, top + i * cell + (cell + th) // 2), font, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    # column names: drawn horizontally on a strip, then turned to read upwards
    strip = np.full((k * cell, text_w + 8, 3), 255, np.uint8)
    for j, label in enumerate(labels):
        (tw, th), _ = cv2.getTextSize(label, font, scale, 1)
        cv2.putText(strip, label, (8, j * cell + (cell + th) // 2), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    turned = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    image[top - turned.shape[0] - 4:top - 4, left:left + turned.shape[1]] = turned
    cv2.putText(image, "predicted", (left, 24), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, "true", (8, top - 8), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, title, (8, image.shape[0] - 14), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return image


@torch.inference_mode()
def evaluate(model, dataset: Dataset, *, device: str | torch.device = "cpu", batch_size: int = 32,
             workers: int = 0, progress: bool = True) -> Evaluation:
    """Run `model` over every item of `dataset` (in eval mode) and count the confusions."""
    device = torch.device(device)
    labels = tuple(model.card.labels)
    confusion = np.zeros((len(labels), len(labels)), np.int64)
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    if progress:
        from tqdm import tqdm

        loader = tqdm(loader, desc="evaluating", unit="batch", dynamic_ncols=True)
    for clips, targets in loader:
        predicted = model(clips.to(device)).argmax(1).cpu().numpy()
        np.add.at(confusion, (targets.numpy(), predicted), 1)
    return Evaluation(labels, confusion, getattr(dataset, "name", ""))
