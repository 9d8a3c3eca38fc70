"""The sidecar cache, the annotated video and the analyze command's post-processing flags."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from vivit_desktop.engine.analysis import WindowSettings, analyze_source
from vivit_desktop.engine.annotate import write_annotated
from vivit_desktop.engine.cache import ResultCache
from vivit_desktop.engine.predictor import Predictor
from vivit_desktop.engine.sources import FileSource, ImageFolderSource
from vivit_desktop.model import create_model, save_model

from test_engine import make_clip, make_vfr_clip


@pytest.fixture(scope="module")
def model():
    return create_model("vivit_t16x2_st", labels=["left", "right", "still"], num_frames=8, image_size=32, depth=1)


def analyse(path, model, hop=4):
    with FileSource(path) as source:
        result = analyze_source(source, Predictor(model, device="cpu"), WindowSettings(hop=hop))
    result.video_sha256, result.model_sha256 = "v" * 64, "m" * 64
    return result


def test_cache_gives_back_the_same_results_keyed_by_video_model_and_hop(tmp_path, model):
    result = analyse(make_clip(tmp_path / "a.avi", frames=40), model)
    cache = ResultCache(tmp_path / "cache")
    assert cache.store(result) is not None
    back = cache.load("v" * 64, "m" * 64, model.card, 4)
    assert back is not None and len(back.windows) == len(result.windows) and back.frame_count == 40
    np.testing.assert_allclose(back.frame_probs(), result.frame_probs(), atol=1e-5)
    pairs = list(zip(back.segments(), result.segments(), strict=True))
    assert all(a["label"] == b["label"] and a["end_frame"] == b["end_frame"] for a, b in pairs)
    assert all(abs(a["confidence"] - b["confidence"]) < 1e-5 for a, b in pairs)
    assert cache.load("v" * 64, "m" * 64, model.card, 8) is None  # other hop
    assert cache.load("w" * 64, "m" * 64, model.card, 4) is None  # other video
    assert cache.load("v" * 64, "n" * 64, model.card, 4) is None  # other model
    assert cache.load("v" * 64, "m" * 64, model.card, 4, "int8") is None  # other precision
    result.precision = "int8"
    cache.store(result)
    assert cache.load("v" * 64, "m" * 64, model.card, 4, "int8").precision == "int8"
    assert cache.load("v" * 64, "m" * 64, model.card, 4).precision == "float32"  # both kept
    result.model_sha256 = "random-weights"
    assert cache.store(result) is None  # random weights are never cached


def test_a_damaged_cache_file_is_ignored(tmp_path, model):
    result = analyse(make_clip(tmp_path / "a.avi", frames=20), model)
    cache = ResultCache(tmp_path / "cache")
    path = cache.store(result)
    path.write_text('{"schema": "vivit-desktop/analysis", "truncated')
    assert cache.load("v" * 64, "m" * 64, model.card, 4) is None


def odd_sized_frames(folder, n=24, size=(121, 161)):
    folder.mkdir()
    for i in range(n):
        image = np.full((*size, 3), 90, np.uint8)
        cv2.circle(image, (20 + 4 * i, 60), 12, (255, 255, 255), -1)
        cv2.imwrite(str(folder / f"{i:04d}.png"), image)
    return folder


def test_annotated_video_has_every_frame_and_the_overlay(tmp_path, model):
    frames_dir = odd_sized_frames(tmp_path / "frames")  # odd sizes: padded, never scaled
    with ImageFolderSource(frames_dir) as source:
        result = analyze_source(source, Predictor(model, device="cpu"), WindowSettings(hop=4))
    out = tmp_path / "annotated.mp4"
    with ImageFolderSource(frames_dir) as source:
        write_annotated(result, source, out)
    with FileSource(out) as back:
        frames = list(back.frames())
    assert len(frames) == 24 and frames[0].image.shape[:2] == (122, 162)
    panel = frames[0].image[:20, :60].astype(int)
    assert abs(panel.mean() - 90) > 20  # the overlay panel darkens the grey there
    assert abs(frames[0].image[100:120, 100:160].astype(int).mean() - 90) < 8  # the rest is the video
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.mp4", "frames"]  # no temp file left
    with ImageFolderSource(frames_dir) as source, pytest.raises(FileExistsError):
        write_annotated(result, source, out)


@pytest.mark.skipif(__import__("shutil").which("ffmpeg") is None, reason="needs the ffmpeg command")
def test_the_annotated_video_of_a_variable_rate_file_keeps_its_timing(tmp_path, model):
    """Frames held a second each are written for a second each: the annotated video lasts as
    long as the original (20.1 s at its 10 fps), not 30 frames ÷ 10 fps = 3 s."""
    video = make_vfr_clip(tmp_path / "vfr.mkv")
    result = analyse(video, model)
    assert result.duration == pytest.approx(20.1)
    # 30 frames where duration × rate says 201: all there, as their timestamps show, so no "stopped" warning
    assert result.claimed_frame_count > 30 and not any("stopped" in w for w in result.warnings())
    out = tmp_path / "annotated.mp4"
    with FileSource(video) as source:
        write_annotated(result, source, out)
    with FileSource(out) as back:
        frames = list(back.frames())
    assert len(frames) == 201 and frames[-1].timestamp == pytest.approx(20.0, abs=0.01)
    # frame 25 is on screen from 16 s to 17 s: written ten times over, and another before and after

    def differ(a, b):
        return np.abs(frames[a].image.astype(int) - frames[b].image.astype(int)).mean()

    assert differ(161, 169) < 2 and differ(159, 161) > 5 and differ(169, 171) > 5


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vivit_desktop", *map(str, args)], capture_output=True, text=True,
                          timeout=180, env={**os.environ, **(env or {})})


def test_cli_caches_post_processes_and_annotates(tmp_path, model):
    weights, _ = save_model(model, tmp_path / "m")
    video = make_clip(tmp_path / "clip.avi", frames=30)
    first = run_cli("analyze", video, "--model", weights, "--no-progress", "--out", tmp_path / "r.json",
                    "--annotated", tmp_path / "r.mp4")
    assert first.returncode == 0, first.stderr
    assert "from the cache" not in first.stdout and (tmp_path / "r.mp4").stat().st_size > 0
    again = run_cli("analyze", video, "--model", weights, "--no-progress", "--out", tmp_path / "s.csv",
                    "--smooth", "mean:5", "--hysteresis", "3", "--threshold", "0.2", "--threshold", "left=0.9",
                    "--min-bout", "0.2")
    assert again.returncode == 0, again.stderr
    assert "from the cache" in again.stdout
    header = (tmp_path / "s.csv").read_text().splitlines()[2]
    assert '"hysteresis": 3' in header and '"left": 0.9' in header
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["settings"]["post"]["smoothing"] == "none" and len(data["frames"]) == 30


def test_cli_annotated_video_with_the_heatmap_differs_where_the_model_looked(tmp_path, model):
    from vivit_desktop.engine.sources import open_source

    weights, _ = save_model(model, tmp_path / "m")
    video = make_clip(tmp_path / "clip.avi", frames=30)
    for name, flags in (("plain", []), ("heat", ["--heatmap", "0.8"])):
        done = run_cli("analyze", video, "--model", weights, "--no-progress", "--annotated", tmp_path / f"{name}.mp4",
                       *flags)
        assert done.returncode == 0, done.stderr
    with open_source(tmp_path / "plain.mp4") as a, open_source(tmp_path / "heat.mp4") as b:
        plain, heat = next(iter(a.frames())).image.astype(int), next(iter(b.frames())).image.astype(int)
    assert np.abs(plain - heat).mean() > 5  # the map is drawn over the picture
    bad = run_cli("analyze", video, "--model", weights, "--no-progress", "--heatmap", "1.5")
    assert bad.returncode == 2 and "from 0.0 to 1.0" in bad.stderr


@pytest.mark.parametrize("flags, message", [
    (["--smooth", "gauss"], "mean:FRAMES"), (["--threshold", "jump=0.5"], "unknown label"),
    (["--threshold", "high"], "give a probability"), (["--annotated", "x.avi"], ".mp4")])
def test_cli_rejects_bad_post_processing_flags(tmp_path, model, flags, message):
    weights, _ = save_model(model, tmp_path / "m")
    video = make_clip(tmp_path / "clip.avi", frames=10)
    done = run_cli("analyze", video, "--model", weights, "--no-progress", *flags)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_cli_analyses_a_folder_of_images_and_names_an_empty_folder(tmp_path, model):
    weights, _ = save_model(model, tmp_path / "m")
    frames = odd_sized_frames(tmp_path / "frames", n=12)
    (tmp_path / "empty").mkdir()
    done = run_cli("analyze", frames, tmp_path / "empty", "--model", weights, "--no-progress", "--out", tmp_path / "out")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'empty'}: the folder holds no videos and no images"]
    assert json.loads((tmp_path / "out" / "frames.json").read_text())["frame_count"] == 12


def test_atomic_writes_give_files_the_usual_permissions(tmp_path):
    """Exports go through a private temporary file; the user's file must not stay private (0600)."""
    import os

    from vivit_desktop.fileio import atomic_write_text

    path = atomic_write_text(tmp_path / "out.json", "{}")
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
