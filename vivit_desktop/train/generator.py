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
grow (in y-down coordinates a positive angle turns clockwise on screen). Most pans and tilts
turn the camera instead (yaw and pitch through a pinhole: a homography, see `CameraPath`).

Closer to real footage (the real-footage issue): zooms and rolls from slow to fast
(log-uniform), perspective pans, motion blur and a rolling shutter (`render_frames`), a nearer
layer with parallax, things that move on their own (people walking, objects coming nearer,
turning or waving), H.264 at a low bitrate, and Debian's wallpaper photographs when installed.

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

from ..errors import VivitError

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
NATURAL_SHARE = 0.6  # of clips drawn over a photograph; the rest over procedural textures
WALLPAPER_SHARE = 0.5  # of those, drawn over a Debian wallpaper photograph when installed
MIN_CONTRAST = 35.0  # standard deviation of a procedural texture's pixel values, at least
# Motion per second of video, drawn for each clip and multiplied by the seconds the clip spans
# (a window's span, `data.card_seconds`: 2 s for the recipe's cards, 16 frames one every 4 at
# 30 fps): pans and tilts in viewport widths, zooms as the factor of the view's width, rolls in
# degrees. Zooms and rolls are drawn log-uniformly, so slow ones are as common as fast ones. The
# slow ends lie below the slowest real motions the real-footage issue names: a slow zoom lens,
# 1.2x over 3 s, is 1.063x a second; a 5-degree roll over 3 s is 1.7 degrees a second. The fast ends: a push-in (2.5x in
# 1.5 s), a 90-degree turn in 2 s. Pans: a slow survey to a brisk turn (one view in 1.25 s).
PAN_SPEED = (0.15, 0.8)
ZOOM_SPEED = (1.05, 1.8)
ROLL_SPEED = (1.5, 50.0)
DEFAULT_SECONDS = 1.0  # a clip's span when the caller names none

# A static shot held in a hand (this share of static clips): no steady motion, but a sway with
# no drift in every axis, smaller than shake's: up to HANDHELD = (view widths, degrees of roll,
# zoom factor - 1). A tripod's clip only jitters (up to 0.004 view widths).
HANDHELD_SHARE, HANDHELD = 0.5, (0.012, 0.6, 0.006)
# Pans and tilts turn the camera (a homography: the far side of the view stretches, lines
# converge) in this share of clips, seen through a lens of FOV_RANGE degrees across; the rest
# slide it (a dolly, or a scene far away), which translates the picture.
PERSPECTIVE_SHARE = 0.7
FOV_RANGE = (35.0, 70.0)
MAX_RAY_DEGREES = 62.0  # the most a corner ray may turn from the picture's normal
# What the lens and the sensor add: motion blur (the shutter open for part of a frame, rendered
# as the mean of SUBFRAMES views across it) and a rolling shutter (rows read top to bottom, in
# ROLLING_BANDS bands rendered at their own times), each in a share of clips.
BLUR_SHARE, SUBFRAMES = 0.4, 4
ROLLING_SHARE, ROLLING_BANDS = 0.3, 8
# A nearer layer that moves more than the picture when the camera slides or dollies (parallax).
PARALLAX_LABELS = ("pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out")
PARALLAX_SHARE = 0.3
# Things that move on their own: in this share of static clips, and of the others.
STATIC_OBJECTS, OBJECTS = 0.6, 0.3
# Compression: H.264 at a low bitrate (constant rate factor drawn from H264_CRF, through ffmpeg
# when it is installed) or JPEG, each in a share of clips.
H264_SHARE, H264_CRF = 0.35, (28, 46)
JPEG_SHARE = 0.2


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


class GeneratorError(ValueError, VivitError):
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


# Photographs from Debian's desktop-wallpaper packages, used when installed
# (apt-get install mate-backgrounds plasma-workspace-wallpapers). Only photographs are listed
# (the packages' drawings and renders are left out), each with the licence its package's
# debian/copyright gives it; the held-out split has pictures of its own.
WALLPAPER_PACKAGES = {
    "mate-backgrounds": {"root": "/usr/share/backgrounds/mate", "version": "1.26.0-1 (Debian 12)",
                         "licence": "GPL-2+ (each nature/ photograph listed here; /usr/share/doc/mate-backgrounds/"
                                    "copyright names its photographer)"},
    "plasma-workspace-wallpapers": {"root": "/usr/share/wallpapers", "version": "4:5.27.5-2 (Debian 12)",
                                    "licence": "GPL-2+ (2014 KDE Visual Design Group; /usr/share/doc/"
                                               "plasma-workspace-wallpapers/copyright)"},
}
_KDE = "plasma-workspace-wallpapers/{}/contents/images/{}"
WALLPAPERS_TRAIN = (
    *(f"mate-backgrounds/nature/{n}.jpg" for n in ("Aqua", "Blinds", "Dune", "FreshFlower", "GreenMeadow",
                                                    "RainDrops", "TwoWings")),
    *(_KDE.format(n, "1920x1080.jpg") for n in ("BytheWater", "ColdRipple", "DarkestHour", "FallenLeaf", "Grey",
                                                "OneStandsOut", "Path", "summer_1am")),
)
WALLPAPERS_HELDOUT = (
    "mate-backgrounds/nature/Storm.jpg", "mate-backgrounds/nature/Wood.jpg",
    _KDE.format("ColorfulCups", "2560x1600.jpg"), _KDE.format("Kite", "1920x1080.jpg"),
    _KDE.format("EveningGlow", "1920x1080.jpg"),
)
WALLPAPER_SIDE = 1024  # the longer side a wallpaper is shrunk to once, when first read


def wallpaper_path(name: str) -> Path:
    package, _, rest = name.partition("/")
    return Path(WALLPAPER_PACKAGES[package]["root"]) / rest


def wallpaper_names(split: str) -> tuple[str, ...]:
    """The split's wallpaper photographs that are installed here (none on a machine without
    the packages: clips then draw on scikit-image's images only)."""
    names = WALLPAPERS_TRAIN if split == TRAIN else WALLPAPERS_HELDOUT
    return tuple(n for n in names if wallpaper_path(n).is_file())


@functools.lru_cache(maxsize=None)
def wallpaper_image(name: str) -> np.ndarray:
    """A wallpaper photograph as (H, W, 3) uint8 RGB, its longer side at most WALLPAPER_SIDE."""
    path = wallpaper_path(name)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise GeneratorError(f"cannot read {path}")
    h, w = image.shape[:2]
    scale = WALLPAPER_SIDE / max(h, w)
    if scale < 1:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


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
    width, angle (T,) in radians (positive = rolled clockwise on screen); yaw and pitch (T,) in
    radians (positive = turned right, turned down) for a camera that turns, seen through a
    pinhole of focal length `focal` start-viewport widths (0: no perspective, the turns unused).

    A point (u, v) of the view, both in [-1/2, 1/2], looks along the ray
    Ry(yaw) Rx(pitch) (zoom * R(angle) (u, v), focal), which meets the picture plane (at
    distance `focal`, facing the unturned camera) at `offset` plus its projection. With yaw =
    pitch = 0 that is `offset + zoom * R(angle) (u, v)`, whatever the focal length."""

    offset: np.ndarray
    zoom: np.ndarray
    angle: np.ndarray
    yaw: np.ndarray | None = None
    pitch: np.ndarray | None = None
    focal: float = 0.0

    def at(self, k: float) -> tuple[np.ndarray, float, float, float, float]:
        """(offset, zoom, angle, yaw, pitch) at frame k (fractional: linear between frames,
        held at the ends)."""
        n = len(self.zoom)
        index = np.arange(n)
        value = lambda a: float(np.interp(k, index, a)) if a is not None else 0.0  # noqa: E731
        offset = np.array([value(self.offset[:, 0]), value(self.offset[:, 1])])
        # zoom interpolates on a log scale, as it moves
        return offset, float(np.exp(value(np.log(self.zoom)))), value(self.angle), value(self.yaw), value(self.pitch)


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


def _tremor(rng: np.random.Generator, n: int, amplitude: float, rate: float = 15.0) -> np.ndarray:
    """Zero-drift shaking: a few sinusoids of 2-7 cycles per second (at `rate` model frames per
    second; above half the rate they alias, as a strided window sees a tremor) plus frame noise,
    scaled so its peak is `amplitude`."""
    t = np.arange(n) / rate
    wave = np.zeros(n)
    for _ in range(3):
        wave += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(2, 7) * t + rng.uniform(0, 6.3))
    wave += rng.normal(0, 0.5, n)
    wave -= np.linspace(wave[0], wave[-1], n)  # no net displacement from start to end
    peak = np.abs(wave).max()
    return wave * (amplitude / peak) if peak > 0 else wave


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _focal_for(rng: np.random.Generator, reach: float) -> float:
    """A focal length (viewport widths) for a lens of FOV_RANGE whose view, turned far enough
    to look `reach` viewport widths off-centre, still meets the picture plane comfortably
    (turn plus the corner's angle at most MAX_RAY_DEGREES)."""
    focal = 0.5 / np.tan(np.deg2rad(rng.uniform(*FOV_RANGE)) / 2)
    while np.degrees(np.arctan(reach / focal) + np.arctan(0.75 / focal)) > MAX_RAY_DEGREES:
        focal *= 1.1
    return float(focal)


def camera_path(label: str, rng: np.random.Generator, n: int, seconds: float = DEFAULT_SECONDS) -> CameraPath:
    """The camera's path over `n` frames spanning `seconds`, for one of LABELS."""
    offset, zoom, angle = np.zeros((n, 2)), np.ones(n), np.zeros(n)
    rate = (n - 1) / seconds if n > 1 else 15.0
    tremor = lambda amplitude: _tremor(rng, n, amplitude, rate)  # noqa: E731
    yaw = pitch = None
    focal = 0.0
    p = _easing(rng, n)
    jitter = rng.uniform(0.0, 0.004) if label == "static" else rng.uniform(0.0, 0.012)
    if label in ("pan left", "pan right", "tilt up", "tilt down"):
        axis = 0 if label.startswith("pan") else 1
        sign = -1.0 if label in ("pan left", "tilt up") else 1.0
        amount = rng.uniform(*PAN_SPEED) * seconds
        moves = np.zeros((n, 2))
        moves[:, axis] = sign * amount * p
        if rng.random() < 0.5:  # a little of the other axis, as hands do
            moves[:, 1 - axis] = rng.uniform(-0.25, 0.25) * amount * p
        if rng.random() < PERSPECTIVE_SHARE:  # the camera turns: a homography, with perspective
            focal = _focal_for(rng, float(np.abs(moves).max()))
            yaw, pitch = np.arctan(moves[:, 0] / focal), np.arctan(moves[:, 1] / focal)
        else:  # the camera slides (a dolly or a far scene): the picture translates
            offset = moves
    elif label in ("zoom in", "zoom out"):
        factor = _log_uniform(rng, *ZOOM_SPEED) ** seconds
        zoom = factor ** (-p if label == "zoom in" else p)
    elif label in ("rotate clockwise", "rotate counter-clockwise"):
        amount = np.deg2rad(_log_uniform(rng, *ROLL_SPEED) * seconds)
        angle = (1.0 if label == "rotate clockwise" else -1.0) * amount * p
    elif label == "shake":
        jitter = 0.0
        amplitude = rng.uniform(0.03, 0.1)
        offset = np.stack([tremor(amplitude), tremor(amplitude)], axis=1)
        angle = tremor(np.deg2rad(rng.uniform(0.5, 3.0)))
        zoom = 1.0 + tremor(rng.uniform(0.0, 0.02))
    elif label != "static":
        raise ValueError(f"unknown camera motion {label!r}; expected one of {', '.join(LABELS)}")
    if jitter:
        offset = offset + np.stack([tremor(jitter), tremor(jitter)], axis=1)
    if label == "static" and rng.random() < HANDHELD_SHARE:  # held in a hand: it sways a little in every axis
        offset = offset + np.stack([tremor(rng.uniform(0.002, HANDHELD[0])), tremor(rng.uniform(0.002, HANDHELD[0]))],
                                   axis=1)
        angle = angle + tremor(np.deg2rad(rng.uniform(0.05, HANDHELD[1])))
        zoom = zoom * (1.0 + tremor(rng.uniform(0.001, HANDHELD[2])))
    return CameraPath(offset, zoom, angle, yaw, pitch, focal)


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    turn = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])  # +yaw: the view looks right
    tip = np.array([[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]])  # +pitch: the view looks down
    return turn @ tip


def _view_matrix(path: CameraPath, k: float) -> np.ndarray:
    """3x3: view point (u, v, 1) -> the picture point it shows (homogeneous), in start-viewport
    widths from the path's origin, at frame k."""
    offset, zoom, angle, yaw, pitch = path.at(k)
    cos, sin = np.cos(angle) * zoom, np.sin(angle) * zoom
    shift = np.array([[1.0, 0.0, offset[0]], [0.0, 1.0, offset[1]], [0.0, 0.0, 1.0]])
    if path.focal <= 0 or (yaw == 0 and pitch == 0):
        return shift @ np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    f = path.focal
    ray = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, f]])  # (u, v, 1) -> ray in the camera
    project = np.array([[f, 0.0, 0.0], [0.0, f, 0.0], [0.0, 0.0, 1.0]])  # ray -> plane at distance f
    return shift @ project @ _rotation(yaw, pitch) @ ray


def _corners(path: CameraPath) -> np.ndarray:
    """Viewport corners over the whole path, (4T, 2), in start-viewport widths."""
    unit = np.array([[-0.5, -0.5, 1.0], [0.5, -0.5, 1.0], [0.5, 0.5, 1.0], [-0.5, 0.5, 1.0]])
    pts = []
    for t in range(len(path.zoom)):
        h = unit @ _view_matrix(path, t).T
        pts.append(h[:, :2] / h[:, 2:])
    return np.concatenate(pts)


@dataclass(frozen=True)
class Placement:
    """Where a path's start viewport lies on the (possibly shrunk) image: its width and centre in
    pixels, and the factor the image was shrunk by."""

    width: float
    cx: float
    cy: float
    scale: float


def place_path(image_shape: tuple[int, ...], path: CameraPath, size: int, rng) -> Placement:
    """A random size and position that keep the viewport inside the image all the way."""
    h, w = image_shape[:2]
    pts = _corners(path)
    low, high = pts.min(0), pts.max(0)
    extent = high - low
    width = min(w / extent[0], h / extent[1]) * rng.uniform(0.5, 0.95)
    render = 2 * size
    # shrink the image first so one output pixel covers about one source pixel
    scale = min(1.0, 1.5 * render / (width * path.zoom.min()))
    if scale < 1.0:
        w, h, width = max(1, round(w * scale)), max(1, round(h * scale)), width * scale
    cx = rng.uniform(-width * low[0], max(-width * low[0], w - width * high[0]))
    cy = rng.uniform(-width * low[1], max(-width * low[1], h - width * high[1]))
    return Placement(width, cx, cy, scale)


def shrink(image: np.ndarray, place: Placement) -> np.ndarray:
    if place.scale >= 1.0:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * place.scale)), max(1, round(h * place.scale))),
                      interpolation=cv2.INTER_AREA)


def _pixel_homography(path: CameraPath, k: float, place: Placement, render: int, row: int = 0) -> np.ndarray:
    """3x3: destination pixel (x, y) of a band starting at `row` -> source pixel, at frame k."""
    # destination pixel centre (x + 0.5, y + row + 0.5) -> u = (x + 0.5) / render - 0.5
    to_view = np.array([[1.0 / render, 0.0, 0.5 / render - 0.5],
                        [0.0, 1.0 / render, (row + 0.5) / render - 0.5], [0.0, 0.0, 1.0]])
    # picture point in viewport widths -> source pixel (OpenCV puts pixel centres at integers)
    to_source = np.array([[place.width, 0.0, place.cx - 0.5], [0.0, place.width, place.cy - 0.5], [0.0, 0.0, 1.0]])
    return to_source @ _view_matrix(path, k) @ to_view


def render_frames(image: np.ndarray, path: CameraPath, size: int, place: Placement, *, exposure: float = 0.0,
                  readout: float = 0.0, border: int = cv2.BORDER_REFLECT101) -> np.ndarray:
    """Frames (T, size, size, C) of `path` over `image` (already shrunk by `place.scale`).

    exposure: how long the shutter stays open, in model-frame intervals (motion blur: the mean of
    SUBFRAMES renders across it; 0 = none). readout: a rolling shutter's top-to-bottom delay in
    model-frame intervals (each band of rows is rendered at its own time; 0 = global shutter)."""
    n, render = len(path.zoom), 2 * size  # render at twice the size, then area-downsample
    channels = image.shape[2]
    times = np.linspace(-exposure / 2, exposure / 2, SUBFRAMES) if exposure > 0 else np.zeros(1)
    bands = ROLLING_BANDS if readout > 0 else 1
    edges = np.linspace(0, render, bands + 1).round().astype(int)
    frames = np.empty((n, size, size, channels), np.uint8)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for t in range(n):
        total = np.zeros((render, render, channels), np.float32)
        for dt in times:
            for b in range(bands):
                top, bottom = edges[b], edges[b + 1]
                delay = readout * ((top + bottom) / 2 / render - 0.5)
                matrix = _pixel_homography(path, t + dt + delay, place, render, row=top)
                band = cv2.warpPerspective(image, matrix, (render, bottom - top), flags=flags, borderMode=border)
                total[top:bottom] += band.reshape(bottom - top, render, channels)
        total /= len(times)
        frames[t] = cv2.resize(total, (size, size), interpolation=cv2.INTER_AREA).reshape(size, size, channels).round()
    return frames


def render_path(image: np.ndarray, path: CameraPath, size: int, rng: np.random.Generator, *,
                exposure: float = 0.0, readout: float = 0.0) -> np.ndarray:
    """Frames (T, size, size, 3) uint8 of the viewport following `path` over `image`, placed at
    a random size and position that keeps it inside the image all the way."""
    place = place_path(image.shape, path, size, rng)
    return render_frames(shrink(image, place), path, size, place, exposure=exposure, readout=readout)


def _parallax_layer(rng: np.random.Generator, path: CameraPath, place: Placement, image_shape: tuple[int, ...],
                    layer_image: np.ndarray, size: int, exposure: float, readout: float) -> np.ndarray:
    """A nearer layer (RGBA frames): a few opaque shapes cut from `layer_image`, moved by the
    camera as something `depth` times nearer than the picture moves when the camera travels:
    its translation and its log zoom scaled by `depth` (a roll or a turn moves every depth
    alike)."""
    h, w = image_shape[:2]
    h, w = max(1, round(h * place.scale)), max(1, round(w * place.scale))
    depth = rng.uniform(1.3, 2.5)
    near = CameraPath(path.offset * depth, path.zoom ** depth, path.angle, path.yaw, path.pitch, path.focal)
    colour = cv2.resize(layer_image, (w, h), interpolation=cv2.INTER_AREA)
    alpha = np.zeros((h, w), np.uint8)
    # shapes around the view's centre, where the camera looks: posts, branches, leaves, furniture
    cx, cy, r = place.cx, place.cy, place.width / 2
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.integers(0, 3)
        x, y = cx + rng.uniform(-1.2, 1.2) * r, cy + rng.uniform(-1.2, 1.2) * r
        if kind == 0:  # a post or a trunk: a tall band
            half = rng.uniform(0.05, 0.2) * r
            cv2.rectangle(alpha, (int(x - half), 0), (int(x + half), h), 255, -1)
        elif kind == 1:  # a blob
            axes = (max(1, int(rng.uniform(0.15, 0.45) * r)), max(1, int(rng.uniform(0.15, 0.45) * r)))
            cv2.ellipse(alpha, (int(x), int(y)), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA)
        else:  # a branch: a thick line across
            angle = rng.uniform(0, np.pi)
            dx, dy = np.cos(angle) * 3 * r, np.sin(angle) * 3 * r
            cv2.line(alpha, (int(x - dx), int(y - dy)), (int(x + dx), int(y + dy)), 255,
                     max(1, int(rng.uniform(0.05, 0.2) * r)), cv2.LINE_AA)
    rgba = np.dstack([colour, alpha])
    return render_frames(rgba, near, size, place, exposure=exposure, readout=readout, border=cv2.BORDER_CONSTANT)


# -- what happens between the lens and the file ------------------------------------------------
def _moving_objects(rng: np.random.Generator, frames: np.ndarray, texture: Callable[[], np.ndarray],
                    count: int) -> None:
    """`count` things moving on their own, independent of the camera: people walking across,
    objects that come nearer or go away (grow or shrink), turn, or wave on the spot."""
    n, size = frames.shape[0], frames.shape[1]
    for _ in range(count):
        kind = rng.integers(0, 3)
        patch = texture()
        ph, pw = patch.shape[:2]
        mask = np.zeros((ph, pw), np.uint8)
        if kind == 0:  # a person: a head over a body
            cv2.ellipse(mask, (pw // 2, ph // 5), (pw // 9, ph // 9), 0, 0, 360, 255, -1, cv2.LINE_AA)
            cv2.ellipse(mask, (pw // 2, ph * 3 // 5), (pw // 5, ph * 3 // 10), 0, 0, 360, 255, -1, cv2.LINE_AA)
        elif kind == 1:  # a blob
            cv2.ellipse(mask, (pw // 2, ph // 2), (pw // 2 - 1, int(ph / 2 * rng.uniform(0.4, 0.95))), 0, 0, 360, 255,
                        -1, cv2.LINE_AA)
        else:  # a polygon
            pts = rng.uniform(0.1, 0.9, size=(int(rng.integers(3, 7)), 2)) * (pw, ph)
            cv2.fillConvexPoly(mask, cv2.convexHull(pts.astype(np.int32)), 255, cv2.LINE_AA)
        height = rng.uniform(0.15, 0.45) * size  # on screen, at the start
        start = rng.uniform(0.1, 0.9, 2) * size
        t = np.arange(n) / max(n - 1, 1)
        motion = rng.integers(0, 3)
        if motion == 0:  # across the frame, a little up and down as people walk
            velocity = rng.uniform(-0.8, 0.8, 2) * size * (1.0, 0.3)
            centre = start + np.outer(t, velocity)
            centre[:, 1] += rng.uniform(0, 0.02) * size * np.sin(2 * np.pi * rng.uniform(1, 3) * t)
        elif motion == 1:  # waving or swaying on the spot
            centre = start + np.outer(np.sin(2 * np.pi * rng.uniform(0.5, 3) * t), rng.uniform(-0.1, 0.1, 2) * size)
        else:  # a slow drift
            centre = start + np.outer(t, rng.uniform(-0.2, 0.2, 2) * size)
        growth = _log_uniform(rng, 0.6, 1.6) ** t if rng.random() < 0.4 else np.ones(n)  # nearer or away
        spin = rng.uniform(-60, 60) * t if rng.random() < 0.3 else np.zeros(n)
        rgba = np.dstack([patch, mask])
        for k in range(n):
            scale = height * growth[k] / ph
            matrix = cv2.getRotationMatrix2D((pw / 2, ph / 2), float(spin[k]), float(scale))
            matrix[:, 2] += centre[k] - (pw / 2, ph / 2)
            layer = cv2.warpAffine(rgba, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            alpha = layer[..., 3:].astype(np.float32) / 255.0
            frames[k] = (frames[k] * (1 - alpha) + layer[..., :3] * alpha).round().astype(np.uint8)


def _composite(frames: np.ndarray, layer: np.ndarray) -> np.ndarray:
    alpha = layer[..., 3:].astype(np.float32) / 255.0
    return (frames * (1 - alpha) + layer[..., :3] * alpha).round().astype(np.uint8)


def h264_available() -> bool:
    """PyAV (a dependency) with its libx264 encoder."""
    try:
        import av
    except ImportError:
        return False
    return "libx264" in av.codecs_available


def h264(frames: np.ndarray, crf: int, fps: int = 15) -> np.ndarray:
    """The clip through libx264 and back (PyAV, in memory), at constant rate factor `crf`
    (higher: fewer bits), as a phone or a streaming site would store it. Small clips are encoded
    at 128 px or more (real footage is compressed at its own size, then scaled down to the
    model's)."""
    import io

    import av

    n, h, w, _ = frames.shape
    scale = max(1, int(np.ceil(128 / min(h, w))))
    eh, ew = h * scale // 2 * 2, w * scale // 2 * 2  # yuv420p wants even sides
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = ew, eh, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        stream.codec_context.thread_count = 1
        for frame in frames:
            big = cv2.resize(frame, (ew, eh), interpolation=cv2.INTER_CUBIC)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(big, format="rgb24")))
        container.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer, mode="r", format="mp4") as container:
        video = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if len(video) < n:  # an encoder that drops frames would shift the motion: keep the clip as it was
        return frames
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in video[:n]])


def degrade(frames: np.ndarray, rng: np.random.Generator,
            texture: Callable[[], np.ndarray] | None = None, objects: float = 0.3) -> np.ndarray:
    """Lighting, colour, moving objects (with probability `objects`), blur, noise and JPEG or
    H.264 compression, each at random. `texture` makes a texture for the objects when wanted."""
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
    if texture is not None and rng.random() < objects:
        _moving_objects(rng, out, texture, int(rng.integers(1, 4)))
    if rng.random() < 0.3:
        sigma = rng.uniform(0.3, 0.8)
        for t in range(n):
            out[t] = cv2.GaussianBlur(out[t], (0, 0), sigma)
    if rng.random() < 0.3:
        noise = rng.normal(0, rng.uniform(1, 4), out.shape)
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    codec = rng.random()
    if codec < H264_SHARE and h264_available():
        out = h264(out, int(rng.integers(*H264_CRF)))
    elif codec >= 1 - JPEG_SHARE:
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


def _natural(rng: np.random.Generator, split: str) -> tuple[np.ndarray, str]:
    """A photograph of the split: one of the Debian wallpapers (when installed) or of
    scikit-image's images, mirrored half the time."""
    papers = wallpaper_names(split)
    if papers and rng.random() < WALLPAPER_SHARE:
        name = papers[int(rng.integers(0, len(papers)))]
        image, source = wallpaper_image(name), f"debian:{name}"
    else:
        names = natural_names(split)
        name = names[int(rng.integers(0, len(names)))]
        image, source = natural_image(name), f"skimage:{name}"
    if rng.random() < 0.5:
        image = image[:, ::-1]
    return image, source


def render_clip(index: int, *, split: str = TRAIN, seed: int = 0, size: int = 64, num_frames: int = 16,
                seconds: float = DEFAULT_SECONDS) -> tuple[np.ndarray, int, dict]:
    """Clip `index` of a split: frames (T, size, size, 3) uint8 RGB spanning `seconds` of video
    (the motion's speed is per second), its label index, and what it was drawn from (image,
    motion parameters, what the lens and the file did) for inspection."""
    rng = clip_rng(seed, split, index)
    label = clip_label(index)
    texture_rng = np.random.default_rng([seed, _SPLIT_CODE[split], index, 1])
    if rng.random() < NATURAL_SHARE:
        image, source = _natural(rng, split)
    else:
        image = procedural_texture(texture_rng)
        source = "procedural"
    name = LABELS[label]
    path = camera_path(name, rng, num_frames, seconds)
    interval = seconds / max(num_frames - 1, 1)  # seconds between model frames
    # a shutter open 1/150 to 1/30 s, a phone's CMOS read out in 10-30 ms: in model-frame intervals
    exposure = rng.uniform(1 / 150, 1 / 30) / interval if rng.random() < BLUR_SHARE else 0.0
    readout = rng.uniform(0.01, 0.03) / interval if rng.random() < ROLLING_SHARE else 0.0
    place = place_path(image.shape, path, size, rng)
    frames = render_frames(shrink(image, place), path, size, place, exposure=exposure, readout=readout)
    parallax = name in PARALLAX_LABELS and path.yaw is None and rng.random() < PARALLAX_SHARE
    if parallax:
        layer_image = _natural(rng, split)[0] if rng.random() < 0.5 else procedural_texture(texture_rng)
        frames = _composite(frames, _parallax_layer(rng, path, place, image.shape, layer_image, size, exposure,
                                                    readout))
    patch = lambda: procedural_texture(texture_rng, 64) if rng.random() < 0.5 else _patch(rng, split)  # noqa: E731
    frames = degrade(frames, rng, texture=patch, objects=STATIC_OBJECTS if name == "static" else OBJECTS)
    meta = {"label": name, "source": source, "offset_end": path.offset[-1].tolist(),
            "zoom_end": float(path.zoom[-1]), "angle_end_deg": float(np.rad2deg(path.angle[-1])),
            "turn_end_deg": [float(np.rad2deg(path.yaw[-1])), float(np.rad2deg(path.pitch[-1]))]
            if path.yaw is not None else [0.0, 0.0],
            "exposure": round(float(exposure), 3), "readout": round(float(readout), 3), "parallax": parallax}
    return frames, label, meta


def _patch(rng: np.random.Generator, split: str) -> np.ndarray:
    """A 64x64 piece of one of the split's photographs: what a moving thing is made of."""
    image = _natural(rng, split)[0]
    h, w = image.shape[:2]
    side = int(min(h, w) * rng.uniform(0.1, 0.4))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    return cv2.resize(np.ascontiguousarray(image[y:y + side, x:x + side]), (64, 64), interpolation=cv2.INTER_AREA)
