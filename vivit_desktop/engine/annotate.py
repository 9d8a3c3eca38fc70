"""The annotated video: the source decoded again with each frame's top-k predictions (after
post-processing) drawn over it, optionally over a heatmap of where the model looks (the spatial
attention map of the window shown at each frame), written as MP4 (MPEG-4 Part 2, the encoder
every OpenCV wheel has) atomically: a temporary file beside the target, renamed when complete.
Probabilities read as the window shows them ("91%")."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..cancel import CancelToken
from ..fileio import atomic_path

from ..model.config import ModelCard
from .preprocess import Preprocessor
from .results import AnalysisResult, top_per_head
from .sources import VideoSource

HEATMAP_COLORMAP = cv2.COLORMAP_INFERNO


def percent(p: float) -> str:
    """A probability as the window writes it: a whole percentage, rounded ("91%")."""
    return f"{p:.0%}"


def caption_text(card: ModelCard, timestamp: float, frame: int) -> str:
    """The line under the annotated video's panel: the model (its card's name), time and frame."""
    name = card.name or f"unnamed {card.variant} model"
    return f"{name}  {timestamp:7.2f} s  frame {frame}"


def _outline(region: np.ndarray, inset: int, width: int, value: int) -> None:
    """Paint a rectangular frame `width` px wide, `inset` px inside the edges of `region`."""
    h, w = region.shape[:2]
    a, b = inset, inset + width
    region[a:b, a:w - a] = value
    region[h - b:h - a, a:w - a] = value
    region[a:h - a, a:b] = value
    region[a:h - a, w - b:w - a] = value


def draw_heatmap(image: np.ndarray, spatial: np.ndarray, box: tuple[int, int, int, int], opacity: float,
                 colormap: int = HEATMAP_COLORMAP) -> np.ndarray:
    """Blend (in place) a spatial attention map (nh, nw) over the region `box` = (left, top,
    right, bottom) of an RGB frame, the region the model saw: scaled so its largest weight is
    the colormap's top, bilinearly upsampled, alpha-blended at `opacity` (0..1), and outlined
    (the model sees only its centre crop: the outline says the rest was not looked at)."""
    left, top, right, bottom = box
    if opacity <= 0 or right <= left or bottom <= top:
        return image
    weights = np.asarray(spatial, np.float32)
    peak = float(weights.max())
    scaled = weights / peak if peak > 0 else np.zeros_like(weights)
    heat = cv2.resize(scaled, (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.clip(heat * 255 + 0.5, 0, 255).astype(np.uint8), colormap)  # BGR
    colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB)
    region = image[top:bottom, left:right]
    a = min(float(opacity), 1.0)
    region[:] = cv2.addWeighted(region, 1.0 - a, colours, a, 0.0)
    if (right - left, bottom - top) != image.shape[1::-1]:
        # a white line edged in black (seen on any picture), inside the region: nothing outside is drawn on
        line = max(1, round(min(image.shape[:2]) / 240))
        _outline(region, 0, line + 2, 0)
        _outline(region, 1, line, 255)
    return image


def draw_overlay(image: np.ndarray, ranked: list[tuple[str, float]], shown: str | None, caption: str) -> np.ndarray:
    """Draw on an RGB frame (in place): a translucent panel with the shown label and the top-k
    probabilities as bars with their percentages, and a caption (model, time, frame) under it."""
    h, w = image.shape[:2]
    scale = max(0.5, min(h, w) / 400)
    line = int(28 * scale) + 4
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale * 1.5))
    bar_w = int(160 * scale)
    text_w = max([cv2.getTextSize(label, font, 0.6 * scale, thick)[0][0] for label, _ in ranked] + [0])
    title = shown or "(no label)"
    panel_w = min(w, max(text_w + bar_w + int(24 * scale), cv2.getTextSize(title, font, 0.8 * scale, thick)[0][0] + 16))
    panel_h = min(h, line * (len(ranked) + 2) + 8)
    region = image[:panel_h, :panel_w]
    region[:] = (region * 0.4).astype(np.uint8)  # darken: the text stays readable on any video
    y = line
    cv2.putText(image, title, (8, y), font, 0.8 * scale, (255, 255, 255), thick + 1, cv2.LINE_AA)
    for label, p in ranked:
        y += line
        cv2.putText(image, label, (8, y - 4), font, 0.6 * scale, (230, 230, 230), thick, cv2.LINE_AA)
        x0 = 16 + text_w
        cv2.rectangle(image, (x0, y - line + 8), (x0 + int(bar_w * p), y - 4), (80, 200, 120), -1)
        cv2.putText(image, percent(p), (x0 + 4, y - 6), font, 0.5 * scale, (255, 255, 255), thick, cv2.LINE_AA)
    cv2.putText(image, caption, (8, min(h - 4, y + line)), font, 0.5 * scale, (200, 200, 200), thick, cv2.LINE_AA)
    return image


def open_mp4_writer(tmp: Path, path: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """An MPEG-4 Part 2 (`mp4v`) writer at `tmp`, the encoder every OpenCV wheel has; `path` is the
    file the user asked for, named in the error."""
    writer = cv2.VideoWriter(str(tmp), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV could not open an MP4 writer")
    return writer


def count_frames(path: str | Path) -> int:
    """Frames OpenCV decodes from a file (0 if it does not open)."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            return 0
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


def write_annotated(result: AnalysisResult, source: VideoSource, path: str | Path, overwrite: bool = False,
                    top_k: int = 3, progress: Callable[[int], None] | None = None,
                    cancel: CancelToken | None = None, heatmap_opacity: float = 0.0,
                    colormap: int = HEATMAP_COLORMAP) -> Path:
    """Decode `source` (the video `result` analysed) again and write it with the overlay.
    `progress(1)` after each frame; once `cancel` is cancelled, raises `cancel.Cancelled` at the
    next frame and nothing is written. With `heatmap_opacity` > 0 (up to 1) each frame first gets
    the spatial attention map of the window shown at it (`AnalysisResult.spatial_at`) blended
    over the region the model saw (`colormap`, an OpenCV colormap: inferno by default); frames
    without a map (none shown there, or a result cached without maps) are left as they are.
    The video is written at the result's frame rate; on a variable-rate video a frame is repeated
    for as long as it is shown, so the annotated video lasts as long as the original."""
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"{path}: the annotated video is written as .mp4; give a name ending in .mp4")
    if not 0.0 <= heatmap_opacity <= 1.0:
        raise ValueError(f"heatmap opacity must be from 0 to 1, got {heatmap_opacity}")
    crop = Preprocessor(result.card)
    probs, shown = result.smoothed_probs(), result.frame_labels()
    timebase = result.timebase
    written = 0  # frames written (a variable-rate video's frames may be written more than once)

    def complete(tmp: Path, target: Path) -> None:
        """OpenCV's writer reports no write error (a full disk leaves a file without its index):
        the file must open and hold every frame before it replaces anything."""
        counted = count_frames(tmp)
        if counted != written:
            raise OSError(f"{target}: the annotated video could not be written completely ({counted} of {written} "
                          "frames readable back; is the disk full?); nothing was replaced")

    with atomic_path(path, overwrite, check=complete) as tmp:
        writer = None
        try:
            for frame in source.frames():
                if cancel is not None:
                    cancel.raise_if_cancelled("export cancelled")
                image = frame.image.copy()
                h, w = image.shape[:2]
                if writer is None:
                    size = (w + w % 2, h + h % 2)  # the encoder wants even sizes; pad, never scale
                    writer = open_mp4_writer(tmp, path, result.fps, size)
                f = frame.index
                ranked: list[tuple[str, float]] = []
                label = None
                if f < len(probs) and not np.isnan(probs[f, 0]):
                    ranked = [(name, p) for _, top in top_per_head(probs[f], result.card, top_k) for name, p in top]
                    label = result.label_name(shown[f])
                if heatmap_opacity > 0:
                    spatial = result.spatial_at(f)
                    if spatial is not None:
                        draw_heatmap(image, spatial, crop.crop_box(h, w), heatmap_opacity, colormap)
                draw_overlay(image, ranked, label, caption_text(result.card, frame.timestamp, f))
                if (w, h) != size:
                    image = cv2.copyMakeBorder(image, 0, size[1] - h, 0, size[0] - w, cv2.BORDER_CONSTANT)
                # at the result's frame rate each frame is held for as long as it was on screen: a
                # variable-rate video keeps its timing (frame N ends at the next one's timestamp)
                held = max(1, round(timebase.time(f + 1) * result.fps) - written)
                bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
                for _ in range(held):
                    writer.write(bgr)
                written += held
                if progress:
                    progress(1)
        finally:
            if writer is not None:
                writer.release()
        if writer is None:
            raise ValueError(f"{source.name}: no frames to annotate")
    return path
