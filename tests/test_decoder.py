"""The one decoder (engine/sources.py `FileSource`), which the analysis and the player share:
frame N is the N-th decoded frame, with the same picture and timestamp whether it is reached by
the sequential `frames()` or by `frame_at(N)` after any seek, on every clip in ../shared/media and
on clips made here with ffmpeg (where OpenCV's seeking lands on other frames); damage is read
past and counted; slow frame rates are kept; and the window shows the analysis's frame N as
frame N."""

import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vivit_desktop.engine.analysis import WindowSettings, analyze_source
from vivit_desktop.engine.predictor import Predictor
from vivit_desktop.engine.sources import CameraSource, FileSource, SourceError
from vivit_desktop.model import create_model, save_model

from test_engine import MEDIA, make_clip

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                  reason="needs the ffmpeg command to make clips (apt-get install ffmpeg)")
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".webm", ".mov", ".mpg", ".ts", ".m2v"}
SHARED_CLIPS = sorted(p.name for p in MEDIA.iterdir() if p.suffix in VIDEO_SUFFIXES) if MEDIA.is_dir() else []
SEEKS = 12


def ffmpeg_clip(path: Path, frames: int, codec: list[str], size: str = "176x144", rate="25") -> Path:
    """A testsrc2 clip (every frame differs) encoded as `codec` says."""
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
                    "-frames:v", str(frames), *codec, str(path)], check=True)
    return path


H264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]


def damage_samples(path: Path, samples: list[int]) -> Path:
    """Overwrite the NAL length at the start of these MP4 samples (decoding order): the decoder
    rejects each, and its frame is lost; the frames that referred to it decode with errors."""
    import av

    with av.open(str(path)) as container:
        positions = [packet.pos for packet in container.demux(video=0) if packet.size]
    data = bytearray(path.read_bytes())
    for n in samples:
        data[positions[n]:positions[n] + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    return path


def damage_middle(path: Path, fraction: float = 0.1, seed: int = 7) -> Path:
    """Random bytes over `fraction` of the file from its middle on (as issue 18 did)."""
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    start, length = len(data) // 2, int(len(data) * fraction)
    data[start:start + length] = bytes(rng.randrange(256) for _ in range(length))
    path.write_bytes(bytes(data))
    return path


def digest(image: np.ndarray) -> str:
    return f"{image.shape}:{hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()}"


def sequential(path: Path) -> list[tuple[float, str]]:
    """(timestamp, picture digest) of every frame, decoded in order."""
    with FileSource(path) as source:
        return [(f.timestamp, digest(f.image)) for f in source.frames()]


def check_seeks(path: Path, seeks: int = SEEKS) -> None:
    """Seeded random seeks (forward into what is not decoded yet, back to keyframes once it is,
    the last frame, the first) give the sequential decode's frames, pixel for pixel and
    timestamp for timestamp; reading on after a seek gives the next ones."""
    expected = sequential(path)
    n = len(expected)
    rng = random.Random(path.name)
    half = (seeks - 2) // 2
    targets = [rng.randrange(n) for _ in range(half)] + [n - 1] + [rng.randrange(n) for _ in range(half)] + [0]
    with FileSource(path) as source:
        for target in targets:
            frame = source.frame_at(target)
            assert (frame.index, frame.timestamp, digest(frame.image)) == (target, *expected[target]), \
                f"{path.name}: frame_at({target}) is not the sequential frame {target}"
        start = targets[1]
        after = [(f.index, f.timestamp, digest(f.image)) for _, f in zip(range(3), source.frames(start))]
        assert after == [(i, *expected[i]) for i in range(start, min(n, start + 3))]
        with pytest.raises(IndexError):
            source.frame_at(n)
        assert source.frame_count == n


@pytest.mark.skipif(not SHARED_CLIPS, reason=f"real clips not found at {MEDIA} (set VIVIT_DESKTOP_MEDIA)")
@pytest.mark.parametrize("name", SHARED_CLIPS or ["none"])
def test_seeking_every_shared_clip_gives_the_sequential_frames(name):
    check_seeks(MEDIA / name)


# Containers and codecs where OpenCV's CAP_PROP_POS_FRAMES seeks landed on other frames (issue 15),
# and the awkward cases: open GOPs, packed B-frames in AVI (pts out of order), a damaged sample.
MADE_CLIPS = {
    "mpeg2_elementary.m2v": ["-c:v", "mpeg2video", "-g", "15", "-bf", "2"],
    "mpeg1_program.mpg": ["-c:v", "mpeg1video", "-g", "12", "-bf", "2", "-f", "mpeg"],
    "mpeg2_transport.ts": ["-c:v", "mpeg2video", "-g", "15", "-bf", "2", "-f", "mpegts"],
    "h264_open_gop.mkv": H264 + ["-x264-params", "open-gop=1:keyint=30", "-bf", "3"],
    "mpeg4_bframes.avi": ["-c:v", "mpeg4", "-g", "30", "-bf", "2"],
    "vp8.webm": ["-c:v", "libvpx", "-g", "40"],
    "h264_damaged.mp4": H264 + ["-g", "30"],
}


@needs_ffmpeg
@pytest.mark.parametrize("name", sorted(MADE_CLIPS))
def test_seeking_clips_made_with_ffmpeg_gives_the_sequential_frames(tmp_path, name):
    path = ffmpeg_clip(tmp_path / name, 150, MADE_CLIPS[name])
    if "damaged" in name:
        damage_samples(path, [70])
    check_seeks(path)


def test_the_opencv_fallback_is_exact_too(tmp_path):
    """For what PyAV cannot open, OpenCV decodes forward only: a seek back starts again."""
    path = make_clip(tmp_path / "clip.avi", frames=40)
    with FileSource(path) as source:
        assert source.decoder == "pyav"
    with FileSource(path, decoder="opencv") as source:
        frames = [(f.timestamp, digest(f.image)) for f in source.frames()]
        assert len(frames) == 40 and source.decoder == "opencv"
        for target in (30, 5, 39, 0):
            frame = source.frame_at(target)
            assert (frame.timestamp, digest(frame.image)) == frames[target]


def test_a_folder_or_a_pipe_is_not_a_video_file(tmp_path):
    with pytest.raises(SourceError, match="is a folder"):
        FileSource(tmp_path)
    if hasattr(os, "mkfifo"):  # it was "the file is empty (0 bytes)"
        os.mkfifo(tmp_path / "pipe.mp4")
        with pytest.raises(SourceError, match="not a file but a device, a pipe or a socket"):
            FileSource(tmp_path / "pipe.mp4")


# -- damage --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def predictor():
    model = create_model("vivit_t16x2_fe", labels=["a", "b", "c"], num_frames=8, image_size=32, depth=1,
                         temporal_depth=1, hidden_size=32, num_heads=2, mlp_dim=64)
    return Predictor(model, device="cpu")


@needs_ffmpeg
def test_damage_in_the_middle_is_read_past_to_the_real_end_and_counted(tmp_path, predictor):
    """Issue 18: a 900-frame H.264 with damage in the middle gave 448 frames, 0 skipped, exit 0
    (OpenCV gave up after 8 failed reads). Every MP4 sample is one frame, so what was lost is
    known: frames + skipped = 900, and the last frame is the file's last (at 899/30 s)."""
    path = damage_middle(ffmpeg_clip(tmp_path / "damaged.mp4", 900, H264 + ["-g", "60"], size="160x120", rate=30))
    with FileSource(path) as source:
        times = [f.timestamp for f in source.frames()]
    n = len(times)
    assert source.claimed_frame_count == 900 and 600 < n < 900
    assert source.frames_skipped == 900 - n and source.frame_count == n and source.ended_early is None
    assert times[-1] == pytest.approx(899 / 30) and all(b > a for a, b in zip(times, times[1:]))
    with FileSource(path) as source:
        result = analyze_source(source, predictor, WindowSettings(hop=16, batch_size=16))
    assert result.frame_count == n and result.frames_skipped == 900 - n and result.ended_early == ""
    warnings = result.warnings()
    assert any(f"{900 - n} undecodable" in w for w in warnings) and not any("stopped" in w for w in warnings)


@needs_ffmpeg
def test_a_file_cut_short_says_where_decoding_stopped(tmp_path, predictor):
    """Matroska declares its duration: a file that ends early is reported, in the source, in the
    result's warnings and in its JSON."""
    full = ffmpeg_clip(tmp_path / "full.mkv", 250, H264)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with FileSource(full) as source:
        assert len(list(source.frames())) == 250 and source.ended_early is None
    with FileSource(cut) as source:
        result = analyze_source(source, predictor, WindowSettings(hop=16, batch_size=16))
    assert 50 < result.frame_count < 200
    assert result.ended_early.startswith("decoding stopped before the end of the file")
    assert "10.0 s" in result.ended_early
    assert result.ended_early in result.warnings() and result.to_dict()["ended_early"] == result.ended_early


# -- frame rates -----------------------------------------------------------------------------------

@needs_ffmpeg
@pytest.mark.parametrize("name, rate, fps", [("half.mp4", "1/2", 0.5), ("tenth.mkv", "1/10", 0.1)])
def test_slow_frame_rates_are_real(tmp_path, name, rate, fps):
    """Issue 18: a 0.5 fps video was taken for 30 fps (times 60x too short). Time-lapse and
    surveillance rates down to 0.1 fps are real."""
    with FileSource(ffmpeg_clip(tmp_path / name, 4, H264, size="96x72", rate=rate)) as source:
        times = [f.timestamp for f in source.frames()]
        assert source.fps == pytest.approx(fps)
    assert times == pytest.approx([i / fps for i in range(4)])


class _Capture:
    """A camera that reports `fps` (OpenCV's reading of it)."""

    def __init__(self, fps: float) -> None:
        self.fps = fps

    def isOpened(self):
        return True

    def set(self, prop, value):
        return False

    def get(self, prop):
        import cv2

        return {cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_FRAME_WIDTH: 64, cv2.CAP_PROP_FRAME_HEIGHT: 48}.get(prop, 0)

    def release(self):
        pass


@pytest.mark.parametrize("reported, fps", [(0.5, 0.5), (0.1, 0.1), (0.0, 30.0), (float("nan"), 30.0), (90000.0, 30.0)])
def test_cameras_and_streams_keep_slow_rates_and_fall_back_for_missing_ones(reported, fps):
    camera = CameraSource(0, capture=lambda index: _Capture(reported))
    assert camera.fps == pytest.approx(fps)


# -- the window --------------------------------------------------------------------------------

def _pixels(image) -> np.ndarray:
    """A QImage (RGB888) as an (H, W, 3) array."""
    w, h = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return data.reshape(h, image.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).copy()


@needs_ffmpeg
def test_the_window_shows_the_analysis_frame_n_as_frame_n(qtbot, tmp_path, monkeypatch):
    """A clip with a damaged frame in the middle (so the container's numbering and the decoded
    one differ from there on): played, sought and stepped in the window, the picture on screen
    is always the analysis's frame of the index shown, at the analysis's time. And with Loop
    ticked, Play at the end plays again from the start (issue 16: it stuck on the last frame)."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QSettings

    from vivit_desktop.ui.main_window import MainWindow

    clip = damage_samples(ffmpeg_clip(tmp_path / "clip.mp4", 90, H264 + ["-g", "30"], size="96x72"), [45])
    with FileSource(clip) as source:  # what the analysis reads
        analysed = [(f.timestamp, f.image) for f in source.frames()]
    assert len(analysed) == 89 and source.frames_skipped == 1

    monkeypatch.setenv("VIVIT_DESKTOP_MODELS", str(tmp_path / "user-models"))
    model = create_model("vivit_t16x2_st", labels=["a", "b"], num_frames=8, image_size=32, depth=1,
                         hidden_size=32, num_heads=2, mlp_dim=64)
    weights = save_model(model, tmp_path / "tiny")[0]
    w = MainWindow(model=str(weights), settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                   show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    positions = []

    def check_shown() -> None:
        """The picture on screen is the analysis's frame of the index the window shows."""
        shown = _pixels(w.video.grab_frame())
        same = [i for i, (_, image) in enumerate(analysed) if np.array_equal(image, shown)]
        assert same[:1] == [w.workspace.playhead], f"frame {w.workspace.playhead} on screen is the analysis's frame {same[:1]}"

    try:
        w.open_path(clip)
        qtbot.waitUntil(lambda: w.workspace.reader is not None and w.workspace.info is not None, timeout=10000)
        w.workspace.reader.position_changed.connect(lambda index, t: positions.append((index, t)))
        qtbot.waitUntil(lambda: w.workspace.primary is not None and w.workspace.primary.complete, timeout=60000)
        assert w.workspace.primary.frame_count == len(analysed)
        qtbot.waitUntil(lambda: w.workspace.playhead >= 5 or not w.workspace.playing, timeout=10000)
        if w.workspace.playing:
            w.toggle_play()
        qtbot.waitUntil(lambda: not w.workspace.playing, timeout=5000)
        check_shown()
        for target in (44, 45, 46, 60, 3, 88):
            w.seek(target)
            qtbot.waitUntil(lambda: w.workspace.playhead == target, timeout=5000)
            check_shown()
        w.seek(43)
        qtbot.waitUntil(lambda: w.workspace.playhead == 43, timeout=5000)
        for expected in (44, 45, 46, 47):  # step across the damage
            w.step(1)
            qtbot.waitUntil(lambda: w.workspace.playhead == expected, timeout=5000)
            check_shown()
        w.seek(10_000)  # past the end (a slider range from a container's claim): the last frame
        qtbot.waitUntil(lambda: w.workspace.playhead == 88, timeout=5000)
        check_shown()
        w.transport.loop_box.setChecked(True)
        w.toggle_play()
        qtbot.waitUntil(lambda: w.workspace.playing and 3 <= w.workspace.playhead < 80, timeout=10000)
        decoded = w.workspace.reader.decoded
        qtbot.wait(1000)
        assert 5 < w.workspace.reader.decoded - decoded < 50  # at the clip's 25 fps, not a busy loop (it was 4000/s)
        assert all(t == analysed[i][0] for i, t in positions), "a frame's time differs from the analysis's"
    finally:
        w.shutdown()
