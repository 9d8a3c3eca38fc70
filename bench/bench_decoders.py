"""OpenCV against PyAV for frame-accurate seeking, and sequential decoding speed: why the engine
decodes files with PyAV (engine/sources.py `FileSource`).

    python bench/bench_decoders.py [--seeks 12] [--no-made]

On every clip in ../shared/media (or VIVIT_DESKTOP_MEDIA) and, unless --no-made, on clips made
here with ffmpeg in the containers where OpenCV's seeking was seen to land elsewhere (MPEG-1/2
elementary, program and transport streams) and an H.264 MP4 with one undecodable sample. For
each clip, `--seeks` seeded random targets:
- the truth is the engine's sequential decode (`FileSource.frames()`): frame N is the N-th decoded
  frame, the one the analysis calls N. (OpenCV's RGB pictures equal PyAV's pixel for pixel on
  every clip here, so its frames can be found in that decode.)
- OpenCV: `cap.set(CAP_PROP_POS_FRAMES, N)` then `cap.read()` on one capture; "off by" is the
  largest distance between N and the frame it gave ("?" where its picture is none of the truth's).
- PyAV: the engine's `FileSource.frame_at(N)` on a freshly opened file (its first seeks decode
  forward, building its index), compared pixel for pixel and timestamp for timestamp.
Sequential: frames/s decoding the whole clip to RGB (OpenCV's read + cvtColor, FileSource.frames()),
best of three, each library with its default threads.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402

from vivit_desktop.engine.sources import FileSource, SourceError  # noqa: E402

MEDIA = Path(os.environ.get("VIVIT_DESKTOP_MEDIA", ROOT.parent / "shared" / "media"))
SUFFIXES = {".mp4", ".mkv", ".avi", ".webm", ".mov", ".mpg", ".vob", ".ts", ".m2v"}
MADE = {  # name: ffmpeg output options (300 frames of testsrc2, 352x288, 25 fps)
    "mpeg2_elementary.m2v": ["-c:v", "mpeg2video", "-g", "15", "-bf", "2"],
    "mpeg1_program.mpg": ["-c:v", "mpeg1video", "-g", "12", "-bf", "2", "-f", "mpeg"],
    "mpeg2_program.vob": ["-c:v", "mpeg2video", "-g", "15", "-bf", "2", "-f", "vob"],
    "mpeg2_transport.ts": ["-c:v", "mpeg2video", "-g", "15", "-bf", "2", "-f", "mpegts"],
    # one undecodable sample in the middle: from there the decoded numbering is the container's - 1
    "h264_damaged_sample.mp4": ["-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p"],
}
DAMAGED_SAMPLE = 150


def damage_sample(path: Path, sample: int) -> None:
    """Overwrite the NAL length at the start of an MP4 sample: the decoder rejects it."""
    with av.open(str(path)) as container:
        positions = [packet.pos for packet in container.demux(video=0) if packet.size]
    data = bytearray(path.read_bytes())
    data[positions[sample]:positions[sample] + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))


def digest(image) -> str:
    return hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()


def opencv_count(path: Path) -> int:
    """Frames OpenCV reads in order (it gives up after a run of failed reads)."""
    cap, n = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG), 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def opencv_seeks(path: Path, targets: list[int], truth: list[tuple[float, str]]) -> tuple[int, float, str]:
    """(right, ms per seek, largest miss in frames)."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    first: dict[str, int] = {}
    for i, (_, d) in enumerate(truth):
        first.setdefault(d, i)
    right, misses = 0, []
    started = time.perf_counter()
    for target in targets:
        cap.set(cv2.CAP_PROP_POS_FRAMES, target)
        ok, image = cap.read()
        landed = first.get(digest(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))) if ok else None
        if landed == target:
            right += 1
        else:
            misses.append(abs(landed - target) if landed is not None else None)
    ms = (time.perf_counter() - started) * 1000 / len(targets)
    cap.release()
    worst = "-" if not misses else "?" if None in misses else str(max(misses))
    return right, ms, worst


def pyav_sequential(path: Path) -> list[tuple[float, str]]:
    with FileSource(path, decoder="pyav") as source:
        return [(f.timestamp, digest(f.image)) for f in source.frames()]


def pyav_seeks(path: Path, targets: list[int], truth: list[tuple[float, str]]) -> tuple[int, float]:
    right = 0
    with FileSource(path, decoder="pyav") as source:
        started = time.perf_counter()
        for target in targets:
            frame = source.frame_at(target)
            right += (frame.index, frame.timestamp, digest(frame.image)) == (target, *truth[target])
        ms = (time.perf_counter() - started) * 1000 / len(targets)
    return right, ms


def fps(decode) -> float:
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        n = decode()
        best = max(best, n / (time.perf_counter() - started))
    return best


def opencv_fps(path: Path) -> float:
    def run() -> int:
        cap, n = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG), 0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            n += 1
        cap.release()
        return n
    return fps(run)


def pyav_fps(path: Path) -> float:
    def run() -> int:
        with FileSource(path, decoder="pyav") as source:
            return sum(1 for _ in source.frames())
    return fps(run)


def row(path: Path, seeks: int, label: str) -> str:
    truth = pyav_sequential(path)
    n = len(truth)
    rng = random.Random(path.name)
    targets = [rng.randrange(n) for _ in range(seeks)]
    right, ms = pyav_seeks(path, targets, truth)
    cv_n = opencv_count(path)
    if cv_n:
        cv_right, cv_ms, worst = opencv_seeks(path, targets, truth)
        cv_cells = [f"{cv_right}/{len(targets)}", f"{cv_ms:.1f}", worst, f"{opencv_fps(path):.0f}"]
    else:
        cv_cells = ["cannot decode", "-", "-", "-"]
    return (f"| {label} | {n} | {cv_n} | {cv_cells[0]} | {cv_cells[1]} | {cv_cells[2]} | {right}/{len(targets)} | "
            f"{ms:.1f} | {cv_cells[3]} | {pyav_fps(path):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeks", type=int, default=12)
    parser.add_argument("--no-made", action="store_true", help="only the clips in the media folder")
    args = parser.parse_args()
    print(f"OpenCV {cv2.__version__}, PyAV {av.__version__}; {args.seeks} seeded random seeks per clip\n")
    print("| clip | frames | OpenCV reads | OpenCV seeks right | ms/seek | off by up to | PyAV `frame_at` right | "
          "ms/seek | OpenCV frames/s | PyAV frames/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    clips = [(p, p.name) for p in sorted(MEDIA.iterdir()) if p.suffix in SUFFIXES] if MEDIA.is_dir() else []
    with tempfile.TemporaryDirectory() as folder:
        if not args.no_made and shutil.which("ffmpeg"):
            for name, options in MADE.items():
                path = Path(folder) / name
                subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                                "testsrc2=size=352x288:rate=25", "-frames:v", "300", *options, str(path)], check=True)
                if "damaged" in name:
                    damage_sample(path, DAMAGED_SAMPLE)
                clips.append((path, f"{name} (made)"))
        for path, label in clips:
            try:
                print(row(path, args.seeks, label), flush=True)
            except SourceError as e:
                print(f"| {label} | {e} |", flush=True)


if __name__ == "__main__":
    main()
