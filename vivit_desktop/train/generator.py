"""Camera-motion clips rendered by moving a virtual camera over still images.

Each clip is a path of the camera's viewport over one image: where it looks (pan and tilt), how
wide it sees (zoom) and how it is rolled (rotation), sampled at the model's frames. Labels name
the CAMERA's motion, not the content's:

- pan left: the camera turns left, so the content moves right in the frame;
- tilt up: the camera turns up, so the content moves down;
- zoom in: the view narrows, so the content grows;
- rotate clockwise: the camera rolls clockwise, so the content turns counter-clockwise;
- shake: the camera trembles with no steady motion; static: it holds still (content may move).

In image coordinates (x right, y down) the output pixel at (u, v), both in [-1/2, 1/2], shows
the source point `centre + width * (offset + zoom * R(angle) (u, v))`, where offset, zoom and
angle start at (0, 0), 1, 0. A pan right makes offset.x grow; a clockwise roll makes the angle
grow (in y-down coordinates a positive angle turns clockwise on screen).

Everything is decided by a random generator seeded with (seed, split, clip index): the same
arguments give the same clip, on any machine with the same library versions. The images of the
held-out split are never used in training: natural images are split by name, procedural textures
by a seed stream of their own.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

LABELS = ("static", "pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out",
          "rotate clockwise", "rotate counter-clockwise", "shake")
TRAIN, HELDOUT = "train", "heldout"
SPLITS = (TRAIN, HELDOUT)

# scikit-image's wheel ships these photographs and scans (checked in 0.26: skimage/data/*.png|jpg).
# Binary shapes, tiny test patterns and near-duplicates of another split's image are left out;
# motorcycle_left and _right are one scene, so they stay in the same split.
NATURAL_TRAIN = ("astronaut", "brick", "camera", "cell", "clock_motion", "coins", "color", "grass",
                 "hubble_deep_field", "ihc", "logo", "moon", "motorcycle_left", "motorcycle_right",
                 "page", "retina")
NATURAL_HELDOUT = ("chelsea", "coffee", "gravel", "rocket", "text")
NATURAL_SHARE = 0.5  # of clips drawn over a natural image; the rest over procedural textures
MIN_CONTRAST = 35.0
# Motion over one clip: pans and tilts in viewport widths, zoom as the factor of the view's
# width, rolls in degrees.
PAN_RANGE = (0.3, 1.0)
ZOOM_RANGE = (1.8, 3.5)
ROLL_RANGE = (25.0, 100.0)  # standard deviation of a procedural texture's pixel values, at least


# What a camera motion becomes when its clip is mirrored left-right, flipped upside down, or
# played backwards (labels not named stay as they are): free, exact training data.
_SWAP_PAN = {"pan left": "pan right", "pan right": "pan left"}
_SWAP_TILT = {"tilt up": "tilt down", "tilt down": "tilt up"}
_SWAP_ZOOM = {"zoom in": "zoom out", "zoom out": "zoom in"}
_SWAP_ROLL = {"rotate clockwise": "rotate counter-clockwise", "rotate counter-clockwise": "rotate clockwise"}
MIRRORED = {**_SWAP_PAN, **_SWAP_ROLL}
FLIPPED = {**_SWAP_TILT, **_SWAP_ROLL}
REVERSED = {**_SWAP_PAN, **_SWAP_TILT, **_SWAP_ZOOM, **_SWAP_ROLL}
# The motions a model learns first (see `CameraMotionPool`): pure translations and no motion.
TRANSLATIONS = ("static", "pan left", "pan right", "tilt up", "tilt down")


def transform_clip(frames: np.ndarray, label: int, *, mirror: bool = False, flip: bool = False,
                   reverse: bool = False) -> tuple[np.ndarray, int]:
    """A clip (T, H, W, C) mirrored, flipped and/or reversed in time, with its label changed to
    the camera motion that produces it."""
    name = LABELS[label]
    if mirror:
        frames, name = frames[:, :, ::-1], MIRRORED.get(name, name)
    if flip:
        frames, name = frames[:, ::-1], FLIPPED.get(name, name)
    if reverse:
        frames, name = frames[::-1], REVERSED.get(name, name)
    return np.ascontiguousarray(frames), LABELS.index(name)


class GeneratorError(ValueError):
    """The generator cannot run (e.g. its image package is missing)."""


def skimage_data_dir() -> Path:
    """scikit-image's folder of photographs, or a GeneratorError saying how to get it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        if getattr(sys, "frozen", False):
            raise GeneratorError("this installed program does not carry scikit-image's photographs, which the "
                                 "camera-motion generator draws on: train on your own clip folders, or train on "
                                 "generated clips with the Python package (pip install 'vivit-desktop[train]')")
        raise GeneratorError("the camera-motion generator draws on scikit-image's bundled photographs; "
                             "install it with: pip install scikit-image (or pip install 'vivit-desktop[train]')")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@functools.lru_cache(maxsize=None)
def natural_image(name: str) -> np.ndarray:
    """One of scikit-image's bundled images as (H, W, 3) uint8 RGB, read as a file (importing
    skimage itself would pull in SciPy for nothing)."""
    folder = skimage_data_dir()
    for suffix in (".png", ".jpg"):
        path = folder / f"{name}{suffix}"
        if path.exists():
            break
    else:
        raise GeneratorError(f"scikit-image's data image {name!r} is missing from {folder}")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise GeneratorError(f"cannot read {path}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return image


def natural_names(split: str) -> tuple[str, ...]:
    return NATURAL_TRAIN if split == TRAIN else NATURAL_HELDOUT


# -- procedural textures -----------------------------------------------------------------------
def _palette(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (H, W) through a random 2-4 colour gradient to RGB uint8."""
    n = int(rng.integers(2, 5))
    stops = np.sort(rng.random(n))
    stops[0], stops[-1] = 0.0, 1.0
    colours = rng.integers(0, 256, size=(n, 3)).astype(np.float32)
    flat = values.ravel()
    rgb = np.stack([np.interp(flat, stops, colours[:, c]) for c in range(3)], axis=-1)
    return rgb.reshape(*values.shape, 3).astype(np.uint8)


def _value_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Multi-octave value noise in [0, 1]."""
    total = np.zeros((size, size), np.float32)
    weight_sum = 0.0
    persistence = rng.uniform(0.4, 0.8)
    cells, weight = int(rng.integers(3, 7)), 1.0
    while cells <= size // 2:
        grid = rng.random((cells, cells)).astype(np.float32)
        total += weight * cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        weight_sum += weight
        weight *= persistence
        cells *= 2
    total /= weight_sum
    return cv2.normalize(total, None, 0.0, 1.0, cv2.NORM_MINMAX)


def _shapes(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    size = canvas.shape[0]
    for _ in range(int(rng.integers(15, 70))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 4)
        x, y = (int(v) for v in rng.integers(0, size, 2))
        r = int(rng.integers(size // 60 + 2, size // 6))
        if kind == 0:
            cv2.ellipse(canvas, (x, y), (r, int(rng.integers(2, r + 1))), float(rng.uniform(0, 180)), 0, 360, colour, -1,
                        cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(canvas, (x, y), (x + r, y + int(rng.integers(2, r + 1))), colour, -1)
        elif kind == 2:
            pts = (np.array([x, y]) + rng.integers(-r, r + 1, size=(int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(canvas, [pts], colour, cv2.LINE_AA)
        else:
            x2, y2 = (int(v) for v in rng.integers(0, size, 2))
            cv2.line(canvas, (x, y), (x2, y2), colour, int(rng.integers(1, 6)), cv2.LINE_AA)
    return canvas


def _grating(rng: np.random.Generator, size: int) -> np.ndarray:
    """Two crossed sinusoidal gratings with noise: never a pure 1-D stripe (the aperture problem
    would make its motion ambiguous)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    total = np.zeros((size, size), np.float32)
    for _ in range(2):
        theta = rng.uniform(0, np.pi)
        freq = rng.uniform(3, 25)
        total += np.sin(2 * np.pi * freq * (xx * np.cos(theta) + yy * np.sin(theta)) + rng.uniform(0, 6.3))
    total += 1.5 * (_value_noise(rng, size) - 0.5)
    return cv2.normalize(total, None, 0.0, 1.0, cv2.NORM_MINMAX)


def procedural_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A random texture (H, W, 3) uint8 RGB: coloured noise, shapes, gratings, or a mix, with
    enough contrast that its motion can be seen (a flat texture would be a clip without label)."""
    kind = rng.integers(0, 4)
    if kind == 0:
        image = _palette(rng, _value_noise(rng, size))
    elif kind == 1:
        image = _shapes(rng, _palette(rng, _value_noise(rng, size) * 0.5))
    elif kind == 2:
        image = _palette(rng, _grating(rng, size))
    else:
        image = _shapes(rng, _palette(rng, _grating(rng, size)))
    spread = image.std()
    if spread < MIN_CONTRAST:
        image = np.clip((image - image.mean()) * (MIN_CONTRAST / max(spread, 1.0)) + image.mean(), 0, 255)
    return np.ascontiguousarray(image, dtype=np.uint8)


# -- camera paths ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CameraPath:
    """Per frame: offset (T, 2) in start-viewport widths, zoom (T,) as a factor of the start
    width, angle (T,) in radians (positive = rolled clockwise on screen)."""

    offset: np.ndarray
    zoom: np.ndarray
    angle: np.ndarray


def _easing(rng: np.random.Generator, n: int) -> np.ndarray:
    """Progress 0 -> 1 over the clip: linear, smooth, ease in, ease out, or a part of the clip."""
    t = np.linspace(0.0, 1.0, n)
    if rng.random() < 0.2:  # the motion starts late or ends early
        start, stop = sorted(rng.uniform(0, 1, 2))
        start, stop = min(start, 0.3), max(stop, 0.7)
        t = np.clip((t - start) / (stop - start), 0, 1)
    kind = rng.integers(0, 4)
    if kind == 1:
        return t * t * (3 - 2 * t)
    if kind == 2:
        return t * t
    if kind == 3:
        return 1 - (1 - t) ** 2
    return t


def _tremor(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """Zero-drift shaking: a few sinusoids of 2-7 cycles per second (at 15 model frames per
    second) plus frame noise, scaled so its peak is `amplitude`."""
    t = np.arange(n) / 15.0
    wave = np.zeros(n)
    for _ in range(3):
        wave += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(2, 7) * t + rng.uniform(0, 6.3))
    wave += rng.normal(0, 0.5, n)
    wave -= np.linspace(wave[0], wave[-1], n)  # no net displacement from start to end
    peak = np.abs(wave).max()
    return wave * (amplitude / peak) if peak > 0 else wave


def camera_path(label: str, rng: np.random.Generator, n: int) -> CameraPath:
    offset, zoom, angle = np.zeros((n, 2)), np.ones(n), np.zeros(n)
    p = _easing(rng, n)
    jitter = rng.uniform(0.0, 0.004) if label == "static" else rng.uniform(0.0, 0.012)
    if label in ("pan left", "pan right", "tilt up", "tilt down"):
        axis = 0 if label.startswith("pan") else 1
        sign = -1.0 if label in ("pan left", "tilt up") else 1.0
        amount = rng.uniform(PAN_RANGE[0], PAN_RANGE[1])
        offset[:, axis] = sign * amount * p
        if rng.random() < 0.5:  # a little of the other axis, as hands do
            offset[:, 1 - axis] = rng.uniform(-0.25, 0.25) * amount * p
    elif label in ("zoom in", "zoom out"):
        factor = rng.uniform(ZOOM_RANGE[0], ZOOM_RANGE[1])
        zoom = factor ** (-p if label == "zoom in" else p)
    elif label in ("rotate clockwise", "rotate counter-clockwise"):
        amount = np.deg2rad(rng.uniform(ROLL_RANGE[0], ROLL_RANGE[1]))
        angle = (1.0 if label == "rotate clockwise" else -1.0) * amount * p
    elif label == "shake":
        jitter = 0.0
        amplitude = rng.uniform(0.03, 0.1)
        offset = np.stack([_tremor(rng, n, amplitude), _tremor(rng, n, amplitude)], axis=1)
        angle = _tremor(rng, n, np.deg2rad(rng.uniform(0.5, 3.0)))
        zoom = 1.0 + _tremor(rng, n, rng.uniform(0.0, 0.02))
    elif label != "static":
        raise ValueError(f"unknown camera motion {label!r}; expected one of {', '.join(LABELS)}")
    if jitter:
        offset = offset + np.stack([_tremor(rng, n, jitter), _tremor(rng, n, jitter)], axis=1)
    return CameraPath(offset, zoom, angle)


def _corners(path: CameraPath) -> np.ndarray:
    """Viewport corners over the whole path, (4T, 2), in start-viewport widths."""
    unit = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    cos, sin = np.cos(path.angle), np.sin(path.angle)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (T, 2, 2)
    pts = np.einsum("tij,kj->tki", rot, unit) * path.zoom[:, None, None] + path.offset[:, None, :]
    return pts.reshape(-1, 2)


def render_path(image: np.ndarray, path: CameraPath, size: int, rng: np.random.Generator) -> np.ndarray:
    """Frames (T, size, size, 3) uint8 of the viewport following `path` over `image`, placed at
    a random size and position that keeps it inside the image all the way."""
    h, w = image.shape[:2]
    pts = _corners(path)
    low, high = pts.min(0), pts.max(0)
    extent = high - low
    width = min(w / extent[0], h / extent[1]) * rng.uniform(0.5, 0.95)
    render = 2 * size  # render at twice the size, then area-downsample: no aliasing shimmer
    # shrink the image first so one output pixel covers about one source pixel
    scale = min(1.0, 1.5 * render / (width * path.zoom.min()))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        w, h, width = image.shape[1], image.shape[0], width * scale
    cx = rng.uniform(-width * low[0], max(-width * low[0], w - width * high[0]))
    cy = rng.uniform(-width * low[1], max(-width * low[1], h - width * high[1]))
    frames = np.empty((len(path.zoom), size, size, 3), np.uint8)
    for t in range(len(path.zoom)):
        a, z = path.angle[t], path.zoom[t] * width / render
        cos, sin = np.cos(a) * z, np.sin(a) * z
        # destination pixel centre (x + 0.5, y + 0.5) -> source point; u = (x + 0.5) / render - 0.5
        ox = cx + width * path.offset[t, 0] - (cos - sin) * render / 2 + (cos - sin) * 0.5 - 0.5
        oy = cy + width * path.offset[t, 1] - (sin + cos) * render / 2 + (sin + cos) * 0.5 - 0.5
        matrix = np.array([[cos, -sin, ox], [sin, cos, oy]])
        big = cv2.warpAffine(image, matrix, (render, render), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT101)
        frames[t] = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return frames


# -- what happens between the lens and the file ------------------------------------------------
def _foreground(rng: np.random.Generator, frames: np.ndarray, texture: Callable[[], np.ndarray]) -> None:
    """1-3 objects crossing the frame on their own, independent of the camera."""
    n, size = frames.shape[0], frames.shape[1]
    for _ in range(int(rng.integers(1, 4))):
        r = rng.uniform(0.06, 0.18) * size
        start = rng.uniform(0, size, 2)
        velocity = rng.uniform(-0.6, 0.6, 2) * size / n
        axes = (max(1, int(r)), max(1, int(r * rng.uniform(0.4, 1.0))))
        patch_colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        fill_texture = texture()[:size, :size] if rng.random() < 0.5 else None
        for t in range(n):
            x, y = start + velocity * t
            mask = np.zeros((size, size), np.uint8)
            cv2.ellipse(mask, (int(x), int(y)), axes, 0, 0, 360, 255, -1, cv2.LINE_AA)
            if fill_texture is not None:
                fill = fill_texture
            else:
                fill = np.empty_like(frames[t])
                fill[:] = patch_colour
            alpha = (mask.astype(np.float32) / 255.0)[..., None]
            frames[t] = (frames[t] * (1 - alpha) + fill * alpha).astype(np.uint8)


def degrade(frames: np.ndarray, rng: np.random.Generator,
            texture: Callable[[], np.ndarray] | None = None) -> np.ndarray:
    """Lighting, colour, moving foreground, blur, noise and JPEG compression, each at random.
    `texture` makes a texture for foreground objects when one is wanted."""
    n = frames.shape[0]
    out = frames.astype(np.float32)
    gains = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.6, 1.3)  # white balance and exposure
    contrast = rng.uniform(0.7, 1.2)
    ramp = np.linspace(0, 1, n) * (rng.uniform(-0.3, 0.3) if rng.random() < 0.4 else 0.0)
    flicker = rng.normal(0, 0.06, n) if rng.random() < 0.1 else np.zeros(n)
    level = (1 + ramp + flicker)[:, None, None, None]
    mean = out.mean()
    out = ((out - mean) * contrast + mean) * gains * level
    if rng.random() < 0.1:
        out[:] = out.mean(axis=-1, keepdims=True)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if texture is not None and rng.random() < 0.3:
        _foreground(rng, out, texture)
    if rng.random() < 0.3:
        sigma = rng.uniform(0.3, 0.8)
        for t in range(n):
            out[t] = cv2.GaussianBlur(out[t], (0, 0), sigma)
    if rng.random() < 0.3:
        noise = rng.normal(0, rng.uniform(1, 4), out.shape)
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        quality = int(rng.integers(50, 95))
        for t in range(n):
            ok, data = cv2.imencode(".jpg", out[t], [cv2.IMWRITE_JPEG_QUALITY, quality])
            out[t] = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    return out


# -- clips -------------------------------------------------------------------------------------
_SPLIT_CODE = {TRAIN: 0, HELDOUT: 1}


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    if split not in _SPLIT_CODE:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return np.random.default_rng([seed, _SPLIT_CODE[split], index])


def clip_label(index: int) -> int:
    """Clips cycle through the labels, so any run of len(LABELS) clips is balanced."""
    return index % len(LABELS)


def render_clip(index: int, *, split: str = TRAIN, seed: int = 0, size: int = 64,
                num_frames: int = 16) -> tuple[np.ndarray, int, dict]:
    """Clip `index` of a split: frames (T, size, size, 3) uint8 RGB, its label index, and what
    it was drawn from (image, motion parameters) for inspection."""
    rng = clip_rng(seed, split, index)
    label = clip_label(index)
    texture_rng = np.random.default_rng([seed, _SPLIT_CODE[split], index, 1])
    if rng.random() < NATURAL_SHARE:
        names = natural_names(split)
        name = names[int(rng.integers(0, len(names)))]
        image = natural_image(name)
        if rng.random() < 0.5:
            image = image[:, ::-1]
        source = f"skimage:{name}"
    else:
        image = procedural_texture(texture_rng)
        source = "procedural"
    path = camera_path(LABELS[label], rng, num_frames)
    frames = render_path(image, path, size, rng)
    frames = degrade(frames, rng, texture=lambda: procedural_texture(texture_rng, max(64, size)))
    meta = {"label": LABELS[label], "source": source, "offset_end": path.offset[-1].tolist(),
            "zoom_end": float(path.zoom[-1]), "angle_end_deg": float(np.rad2deg(path.angle[-1]))}
    return frames, label, meta
