"""The sample clip the window opens by default: one camera moving over a held-out photograph
through every camera motion the shipped models know, each lasting about two of their windows
(2 s for windows of 16 frames one every 2 at 30 fps; `--frame-stride 4` makes 4 s stretches
for 2 s windows, each moving the camera as far). Rebuild it with

    python -m vivit_desktop.train.sample -o resources/sample.mp4

The motions, in order, are written to SAMPLE.json beside it (frame ranges and labels), so a
test can check the shipped model's predictions against what the camera really did.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..engine.annotate import open_mp4_writer
from ..fileio import atomic_path, atomic_write_text
from . import generator

FPS = 30.0
FRAME_STRIDE = 2  # the shipped models' (16 frames, one every 2 at 30 fps: a window spans 1 s)
ORDER = ("static", "pan right", "pan left", "tilt down", "tilt up", "zoom in", "zoom out", "rotate clockwise",
         "rotate counter-clockwise", "shake", "static")
IMAGE = "coffee"  # held out: never seen in training
# The motion ranges the generator had when the sample clip was made (it has since drawn slower
# zooms and rolls): kept here so the sample, and the self-test that reads it, stay as they are.
SAMPLE_PAN_RANGE, SAMPLE_ZOOM_RANGE, SAMPLE_ROLL_RANGE = (0.3, 1.0), (1.8, 3.5), (25.0, 100.0)


def window_seconds(frame_stride: int) -> float:
    """What one of the models' windows covers: 16 frames, one every `frame_stride`, at FPS."""
    return 16 * frame_stride / FPS


def seconds_per_motion(frame_stride: int) -> float:
    """How long each motion lasts: about two of the models' windows, so the middle of a stretch
    is read by windows that see only its motion."""
    return float(round(2 * window_seconds(frame_stride)))


def sample_path(seed: int = 0, frame_stride: int = FRAME_STRIDE) -> tuple[generator.CameraPath, list[dict]]:
    """The whole camera path, frame by frame, and the motion of each stretch. Each stretch moves
    the camera as far as the last did whatever `frame_stride` is: a longer window, a slower motion."""
    rng = np.random.default_rng(seed)
    seconds = seconds_per_motion(frame_stride)
    n = int(round(seconds * FPS))
    per_window = seconds / window_seconds(frame_stride)  # a stretch lasts this many training windows
    offsets, zooms, angles, stretches = [], [], [], []
    offset, zoom, angle = np.zeros(2), 1.0, 0.0
    mid = lambda r: (r[0] + r[1]) / 2  # noqa: E731 - the middle of a range
    t = np.linspace(0, 1, n + 1)[1:]
    ease = t * t * (3 - 2 * t)
    for k, label in enumerate(ORDER):
        step_offset, step_zoom, step_angle = np.zeros((n, 2)), np.ones(n), np.zeros(n)
        if label.startswith(("pan", "tilt")):
            axis = 0 if label.startswith("pan") else 1
            sign = -1.0 if label in ("pan left", "tilt up") else 1.0
            # half the middle speed: the path must stay inside the photograph
            step_offset[:, axis] = sign * 0.5 * mid(SAMPLE_PAN_RANGE) * per_window * ease * zoom
        elif label.startswith("zoom"):
            if label == "zoom in":
                step_zoom = (mid(SAMPLE_ZOOM_RANGE) ** (0.6 * per_window)) ** (-ease)
            else:  # zoom out returns to where zoom in started
                step_zoom = (zooms[-1][0] / zoom) ** ease
        elif label.startswith("rotate"):
            sign = 1.0 if label == "rotate clockwise" else -1.0
            step_angle = sign * np.deg2rad(0.6 * mid(SAMPLE_ROLL_RANGE)) * per_window * ease
        elif label == "shake":
            amplitude = 0.06 * zoom
            # 2-7 Hz at the video's rate; the 1 s-window sample drew it at 15 frames a second,
            # twice as fast, and keeps that so it is rebuilt exactly
            rate = 15.0 if frame_stride == 2 else FPS
            step_offset = np.stack([generator._tremor(rng, n, amplitude, rate),
                                    generator._tremor(rng, n, amplitude, rate)], 1)
        offsets.append(offset + step_offset)
        zooms.append(zoom * step_zoom)
        angles.append(angle + step_angle)
        start = k * n
        stretches.append({"label": label, "start_frame": start, "end_frame": start + n - 1,
                          "start_time": start / FPS, "end_time": (start + n) / FPS})
        offset, zoom, angle = offsets[-1][-1].copy(), float(zooms[-1][-1]), float(angles[-1][-1])
        if label == "shake":
            offset = offsets[-1][0].copy()
    path = generator.CameraPath(np.concatenate(offsets), np.concatenate(zooms), np.concatenate(angles))
    return path, stretches


def make_sample(out: Path, size: int = 360, seed: int = 0, overwrite: bool = False,
                frame_stride: int = FRAME_STRIDE) -> Path:
    path, stretches = sample_path(seed, frame_stride)
    image = generator.natural_image(IMAGE)
    frames = generator.render_path(image, path, size, np.random.default_rng(seed))
    import cv2

    with atomic_path(out, overwrite) as tmp:
        writer = open_mp4_writer(tmp, out, FPS, (size, size))
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    atomic_write_text(out.with_suffix(".json"), json.dumps({"image": f"skimage:{IMAGE}", "fps": FPS, "seed": seed,
                                                            "motions": stretches}, indent=2) + "\n",
                      overwrite=overwrite)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vivit_desktop.train.sample", description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("resources/sample.mp4"))
    parser.add_argument("--size", type=int, default=360)
    parser.add_argument("--frame-stride", type=int, default=FRAME_STRIDE,
                        help=f"the models' frame stride: each motion lasts about two windows (default {FRAME_STRIDE})")
    parser.add_argument("--force", action="store_true", help="replace an existing sample")
    args = parser.parse_args(argv)
    try:
        print(make_sample(args.out, args.size, overwrite=args.force, frame_stride=args.frame_stride))
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
