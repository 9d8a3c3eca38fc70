"""OpenCV against PyAV on the real clips: frames decoded, whether timestamps increase, and decode
speed (frames/s, RGB out, one thread each). Why the engine decodes with OpenCV.

    pip install av  # PyAV is not a dependency of the program; only this benchmark uses it
    python bench/bench_decoders.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402

from vivit_desktop.engine.sources import FileSource, SourceError  # noqa: E402

MEDIA = Path(os.environ.get("VIVIT_DESKTOP_MEDIA", ROOT.parent / "shared" / "media"))


def with_opencv(path: Path):
    cv2.setNumThreads(1)
    started = time.perf_counter()
    try:
        with FileSource(path) as source:
            times = [f.timestamp for f in source.frames()]
    except SourceError as e:
        return 0, False, 0.0, str(e).split(": ", 1)[1][:40]
    seconds = time.perf_counter() - started
    return len(times), all(b > a for a, b in zip(times, times[1:])), len(times) / seconds, ""


def with_pyav(path: Path):
    started = time.perf_counter()
    times = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_count = 1
            for frame in container.decode(stream):
                frame.to_ndarray(format="rgb24")
                times.append(float(frame.time) if frame.time is not None else None)
    except av.error.FFmpegError as e:
        return len(times), False, 0.0, type(e).__name__
    seconds = time.perf_counter() - started
    ok = None not in times and all(b > a for a, b in zip(times, times[1:]))
    return len(times), ok, len(times) / seconds if seconds else 0.0, ""


def main() -> None:
    print(f"OpenCV {cv2.__version__}, PyAV {av.__version__}\n")
    print("| clip | OpenCV frames | times increase | frames/s | PyAV frames | times increase | frames/s |")
    print("|---|---:|---|---:|---:|---|---:|")
    for path in sorted(MEDIA.iterdir()):
        if path.suffix not in (".mp4", ".mkv", ".avi", ".webm"):
            continue
        a, b = with_opencv(path), with_pyav(path)
        cells = []
        for n, ok, fps, err in (a, b):
            cells += [str(n), "yes" if ok else ("-" if not n else "no"), f"{fps:.0f}" if n else (err or "-")]
        print(f"| {path.name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
