"""The shipped camera-motion models on real footage: a per-class benchmark.

1. Made clips: a still frame of every real clip in ../shared/media and of the sample clip
   (resources/sample.mp4) is moved by a virtual camera into each camera motion at speeds a real
   camera moves at, then encoded with ffmpeg's libx264 (CRF 23, yuv420p) as a phone or camera
   would. Their label is known by construction. Every clip lasts 3 s (longer than any shipped
   model's window); zooms and rolls come at three speeds each:

       zoom  slow 1.2x (a slow zoom lens) | medium 1.6x | fast 2.5x (a push-in), over 3 s
       roll  slow 5 deg | medium 20 deg | fast 90 deg, over 3 s

   Pans and tilts cross one view width in 3 s (about 20 deg/s with a 60 deg lens), shake is a
   hand's tremor of up to 5.5 % of the view, static holds still.
2. The real clips themselves, analysed whole; their camera motion is labelled by looking (in
   REAL_LABELS below) and compared with each model's leading label.

A clip counts as right when the label most windows give (over the windows that do not touch
either end) is its label. The recipe is not tuned on this: it is a check, not a training set.

    python scripts/real_footage_check.py [--model NAME_OR_PATH ...] [--media ../shared/media]
                                         [--markdown] [--verbose]

With no --model, every shipped model. Prints a per-class table (one column per model) and, with
--verbose, one line per clip; writes nothing but temporary files.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FPS = 30
OUT_W, OUT_H = 320, 240  # encoded frame, px: 4:3, as the real-footage issue's clips (the app crops the centre)
SHORT = 720  # the still's shorter side after resizing, px
VIEW = 360  # the view's width over the resized still at zoom 1, px (its height is 3/4 of it)
CRF = 23

# The real clips in ../shared/media (camera footage; the synthetic test patterns and the
# undecodable AV1 file are left out), and the sample clip; a still at 1 s of each.
MEDIA_CLIPS = ("arm_wrestling.mp4", "bikes.mp4", "carphone.mp4", "eye_makeup.avi", "flipping_pancake.mkv",
               "tree_cinepak_framecount_lies.avi")
SAMPLE = ROOT / "resources" / "sample.mp4"

# The real clips' camera, labelled by looking at them: the labels a viewer would accept. bikes.mp4
# is a montage of shots (cuts between walls, traffic, a street), so it has no one label and is
# left out; arm_wrestling.mp4 is hand-held with drifting pans both ways, listed for what it shows.
REAL_LABELS = {
    "eye_makeup.avi": ("static",),  # a camera on a stand; the hand and brush move
    "carphone.mp4": ("static", "shake"),  # hand-held in a car: small trembling
    "flipping_pancake.mkv": ("static", "shake"),  # hand-held, steady until the last second
    "arm_wrestling.mp4": ("static", "shake", "pan left", "pan right"),
}


@dataclass(frozen=True)
class Motion:
    """One made clip's camera: label, a speed name, seconds, and the motion over those seconds
    (pans and tilts in view widths, zooms as a factor, rolls in degrees)."""

    label: str
    speed: str
    seconds: float
    amount: float = 0.0


SECONDS = 3.0  # every made clip: longer than one window of every shipped model (2 s at stride 4)
MOTIONS = (
    Motion("static", "", SECONDS),
    *(Motion(label, "", SECONDS, 1.0) for label in ("pan left", "pan right", "tilt up", "tilt down")),
    *(Motion(label, speed, SECONDS, amount) for label in ("zoom in", "zoom out")
      for speed, amount in (("slow", 1.2), ("medium", 1.6), ("fast", 2.5))),
    *(Motion(label, speed, SECONDS, amount) for label in ("rotate clockwise", "rotate counter-clockwise")
      for speed, amount in (("slow", 5.0), ("medium", 20.0), ("fast", 90.0))),
    Motion("shake", "", SECONDS, 0.055),
)


def camera(motion: Motion, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: the view's centre offset (n, 2) in view widths, its zoom (n,) as a factor of
    the view width (below 1 = narrower), its angle (n,) in radians, positive = the camera rolled
    clockwise (the generator's convention: vivit_desktop/train/generator.py)."""
    p = np.arange(n) / max(n - 1, 1)
    offset, zoom, angle = np.zeros((n, 2)), np.ones(n), np.zeros(n)
    label = motion.label
    if label.startswith(("pan", "tilt")):
        axis = 0 if label.startswith("pan") else 1
        sign = -1.0 if label in ("pan left", "tilt up") else 1.0
        offset[:, axis] = sign * motion.amount * (p - 0.5)
    elif label == "zoom in":  # constant rate on a log scale, as a zoom lens or a dolly in
        zoom = motion.amount ** (-p)
    elif label == "zoom out":
        zoom = motion.amount ** (p - 1.0)
    elif label.startswith("rotate"):
        sign = 1.0 if label == "rotate clockwise" else -1.0
        angle = sign * np.deg2rad(motion.amount) * (p - 0.5)
    elif label == "shake":  # the old check's tremor: two sinusoids per axis, per frame number
        k = np.arange(n)
        offset[:, 0] = motion.amount * (25 * np.sin(k * 2.1) + 15 * np.sin(k * 3.7)) / 40
        offset[:, 1] = motion.amount * (25 * np.cos(k * 1.7) + 15 * np.sin(k * 2.9)) / 40
    return offset, zoom, angle


def render(image: np.ndarray, motion: Motion) -> np.ndarray:
    """Frames (n, OUT_H, OUT_W, 3) uint8 of `motion` over `image` (its shorter side SHORT px),
    the view centred on the image at its middle frame."""
    n = int(round(motion.seconds * FPS))
    offset, zoom, angle = camera(motion, n)
    h, w = image.shape[:2]
    bw, bh = 2 * OUT_W, 2 * OUT_H  # render at twice the size, then area-downsample
    frames = np.empty((n, OUT_H, OUT_W, 3), np.uint8)
    for t in range(n):
        z = zoom[t] * VIEW / bw
        cos, sin = np.cos(angle[t]) * z, np.sin(angle[t]) * z
        cx, cy = w / 2 + VIEW * offset[t, 0], h / 2 + VIEW * offset[t, 1]
        # destination pixel centre (x + 0.5, y + 0.5) -> source point centre + R * (x + 0.5 - bw / 2, ...)
        ox = cx - 0.5 + cos * (0.5 - bw / 2) - sin * (0.5 - bh / 2)
        oy = cy - 0.5 + sin * (0.5 - bw / 2) + cos * (0.5 - bh / 2)
        matrix = np.array([[cos, -sin, ox], [sin, cos, oy]])
        frame = cv2.warpAffine(image, matrix, (bw, bh), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT101)
        frames[t] = cv2.resize(frame, (OUT_W, OUT_H), interpolation=cv2.INTER_AREA)
    return frames


def still(video: Path, out: Path) -> np.ndarray:
    """The frame at 1 s of `video`, RGB, resized so its shorter side is SHORT px."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "1", "-i", str(video), "-frames:v", "1", str(out)],
                   check=True)
    image = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    scale = SHORT / min(h, w)
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)


def encode(frames: np.ndarray, out: Path) -> Path:
    """H.264 at CRF 23 through ffmpeg, as a camera or phone would write it."""
    n, h, w, _ = frames.shape
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                    "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-crf", str(CRF), "-pix_fmt", "yuv420p",
                    str(out)], input=frames.tobytes(), check=True)
    return out


def read_frames(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame of `path` (RGB) and its frame rate; frames are counted while decoding."""
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or FPS
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames, fps


def analyse(path: Path, model, hop: int = 4, batch: int = 8) -> tuple[str, float, Counter]:
    """The leading label over every window that fits inside the clip (a window every `hop`
    frames, sampled as the app samples it: the card's frames, stride and frame rate, the
    nearest decoded frame to each time), its share, and all votes. The app's own preprocessing
    and window sampling (engine.preprocess, engine.windows); the forward pass is the model's."""
    import torch

    from vivit_desktop.engine.preprocess import Preprocessor
    from vivit_desktop.engine.windows import ClipSpec, sample_window

    card = model.card
    spec = ClipSpec.from_card(card)
    frames, fps = read_frames(path)
    prep = Preprocessor(card)
    inputs = np.stack([prep(frame) for frame in frames])  # each frame once: (n, 3, S, S)
    times = [i / fps for i in range(len(frames))]
    span = spec.span(fps)
    ends = [times[i] for i in range(0, len(times), hop) if times[i] - span >= -1e-9] or [times[-1]]
    votes: Counter = Counter()
    with torch.inference_mode():
        for start in range(0, len(ends), batch):
            clips = np.stack([inputs[sample_window(times, end, spec, fps)] for end in ends[start:start + batch]])
            logits = model(torch.from_numpy(clips))
            votes.update(card.labels[int(i)] for i in logits.argmax(-1))
    label, count = votes.most_common(1)[0]
    return label, count / sum(votes.values()), votes


def make_clips(media: Path, folder: Path, reuse: bool = False) -> list[tuple[str, Motion, Path]]:
    """(source name, motion, clip path) for every source still and motion (`reuse`: keep the
    clips already in `folder`, made by an earlier run of this script)."""
    sources = [media / name for name in MEDIA_CLIPS if (media / name).exists()]
    if SAMPLE.exists():
        sources.append(SAMPLE)
    clips = []
    for video in sources:
        image = None
        for motion in MOTIONS:
            tag = f"{motion.label}{' ' + motion.speed if motion.speed else ''}".replace(" ", "_")
            path = folder / f"{video.stem}-{tag}.mp4"
            if not (reuse and path.is_file()):
                image = still(video, folder / f"{video.stem}.png") if image is None else image
                encode(render(image, motion), path)
            clips.append((video.stem, motion, path))
    return clips


def row_name(motion: Motion) -> str:
    return f"{motion.label} ({motion.speed})" if motion.speed else motion.label


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=None,
                        help="a model name or checkpoint path (repeat for several); default: every shipped model")
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--verbose", action="store_true", help="one line per clip")
    parser.add_argument("--keep", type=Path, default=None, help="write the made clips to this folder")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: use the clips an earlier run left there instead of making them again")
    args = parser.parse_args()
    from vivit_desktop import catalog

    specs = args.model or [entry.name for entry in catalog.checkpoints() if entry.shipped and entry.usable]
    folder = args.keep or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    clips = make_clips(args.media, folder, reuse=args.reuse and args.keep is not None)
    sources = sorted({source for source, _, _ in clips})
    print(f"{len(clips)} made clips over {len(sources)} stills ({', '.join(sources)}), "
          f"{len(MOTIONS)} motions each; H.264 CRF {CRF}, {OUT_W}x{OUT_H}, {FPS} fps")
    columns: dict[str, dict[str, tuple[int, int]]] = {}
    class_totals: dict[str, dict[str, tuple[int, int]]] = {}
    real_rows: dict[str, dict[str, str]] = defaultdict(dict)
    for spec in specs:
        model, _, description = catalog.load(spec)
        model.eval()
        predictor = model
        name = Path(spec).stem if str(spec).endswith(".safetensors") else str(spec)
        print(f"model {name}: {description}")
        rows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        classes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        confusions: Counter = Counter()
        for source, motion, path in clips:
            guess, share, _ = analyse(path, predictor)
            ok = guess == motion.label
            for table, key in ((rows, row_name(motion)), (classes, motion.label)):
                table[key][0] += ok
                table[key][1] += 1
            if not ok:
                confusions[(row_name(motion), guess)] += 1
            if args.verbose:
                print(f"  made {source:<32} {row_name(motion):<34} -> {guess:<25} ({share:.0%} of windows)"
                      f"{'' if ok else '   WRONG'}")
        right = sum(r for r, _ in rows.values())
        print(f"  made clips: {right}/{len(clips)} right ({right / max(len(clips), 1):.0%})")
        if confusions:
            print("  misread (truth -> guess): " + ", ".join(f"{a} -> {b} x{n}" for (a, b), n in confusions.most_common()))
        for clip_name, accepted in REAL_LABELS.items():
            path = args.media / clip_name
            if path.exists():
                guess, share, votes = analyse(path, predictor)
                n = sum(votes.values())
                spread = ", ".join(f"{label} {count / n:.0%}" for label, count in votes.most_common(3))
                verdict = "ok" if guess in accepted else "WRONG"
                real_rows[f"{clip_name} (looks {'/'.join(accepted)})"][name] = f"{verdict}: {spread}"
                print(f"  real {clip_name:<22} looks {'/'.join(accepted):<35} -> {spread}   {verdict}")
        columns[name] = {key: tuple(value) for key, value in rows.items()}
        class_totals[name] = {key: tuple(value) for key, value in classes.items()}
    print_table(columns, class_totals, real_rows, markdown=args.markdown)
    return 0


def print_table(columns, class_totals, real_rows, markdown: bool) -> None:
    names = list(columns)
    order = [row_name(m) for m in MOTIONS]
    labels = list(dict.fromkeys(m.label for m in MOTIONS))

    def cell(pair: tuple[int, int]) -> str:
        return f"{pair[0]}/{pair[1]}" + (f" ({pair[0] / pair[1]:.0%})" if markdown else "")

    lines = [["made clip (per speed)", *names]]
    lines += [[row, *(cell(columns[n][row]) for n in names)] for row in order]
    lines.append(["**per class**" if markdown else "per class", *("" for _ in names)])
    lines += [[label, *(cell(class_totals[n][label]) for n in names)] for label in labels]
    totals = {n: (sum(r for r, _ in columns[n].values()), sum(t for _, t in columns[n].values())) for n in names}
    lines.append(["all made clips", *(cell(totals[n]) for n in names)])
    worst = {n: min(class_totals[n].values(), key=lambda p: p[0] / p[1]) for n in names}
    lines.append(["worst class", *(f"{w[0] / w[1]:.0%}" for w in worst.values())])
    lines += [[row, *(real_rows[row].get(n, "") for n in names)] for row in real_rows]
    if markdown:
        print("| " + " | ".join(lines[0]) + " |")
        print("|" + "---|" * len(lines[0]))
        for line in lines[1:]:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        for line in lines:
            print("  ".join(text.ljust(width) for text, width in zip(line, widths)))


if __name__ == "__main__":
    sys.exit(main())
