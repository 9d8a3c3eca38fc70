"""The engine: sources (clips made here with OpenCV, and the real clips in ../shared/media when
present), the one window-sampling function, preprocessing, offline analysis, exports, CLI."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vivit_desktop.engine.analysis import WindowSettings, analyze_source
from vivit_desktop.engine.predictor import Predictor
from vivit_desktop.engine.preprocess import Preprocessor
from vivit_desktop.engine.sources import FileSource, Frame, ImageFolderSource, LoopingSource, SourceError, VideoSource
from vivit_desktop.engine.windows import ClipSpec, centred_end_time, sample_window
from vivit_desktop.model import ModelCard, create_model, save_model

MEDIA = Path(os.environ.get("VIVIT_DESKTOP_MEDIA", Path(__file__).resolve().parents[2] / "shared" / "media"))
needs_media = pytest.mark.skipif(not MEDIA.is_dir(), reason=f"real clips not found at {MEDIA} "
                                 "(set VIVIT_DESKTOP_MEDIA to the shared/media folder)")


def make_clip(path: Path, frames: int = 30, size=(48, 64), fourcc: str = "MJPG", fps: float = 25.0,
              color: bool = True) -> Path:
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h), color)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    for i in range(frames):
        image = np.full((h, w, 3), 0, np.uint8)
        cv2.rectangle(image, (i % w, 10), (i % w + 10, 30), (255, 128, 0), -1)  # a moving box
        writer.write(image if color else image[:, :, 0])
    writer.release()
    return path


def make_vfr_clip(path: Path) -> Path:
    """30 frames: 10 of them 0.1 s apart, then 20 a second apart (the last at 20 s); the
    container says 10 fps (as a file whose header lies, or a phone's recording, has). Needs ffmpeg."""
    # the game of life: every frame differs from the one before, so a frame held is told apart
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "life=size=96x72:rate=10:ratio=0.5:mold=0",
                    "-frames:v", "30", "-vf", "setpts='if(lt(N,10),N/10/TB,(1+(N-10))/TB)'", "-fps_mode", "passthrough", "-c:v", "ffv1",
                    str(path)], check=True)
    return path


# -- sources ------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix, fourcc", [(".avi", "MJPG"), (".mp4", "mp4v"), (".avi", "XVID")])
def test_file_source_counts_frames_and_times_them(tmp_path, suffix, fourcc):
    path = make_clip(tmp_path / f"clip{suffix}", frames=30, fourcc=fourcc)
    with FileSource(path) as source:
        frames = list(source.frames())
    assert len(frames) == source.frames_read == 30
    assert [f.index for f in frames] == list(range(30))
    times = [f.timestamp for f in frames]
    assert times[0] == 0.0 and all(b > a for a, b in zip(times, times[1:]))
    assert times[-1] == pytest.approx(29 / 25, abs=0.05)
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    # RGB, not OpenCV's BGR: the box was drawn as (B, G, R) = (255, 128, 0)
    assert tuple(int(v) for v in frames[0].image[20, 5]) == pytest.approx((0, 128, 255), abs=12)


def test_grayscale_and_odd_sized_videos_become_rgb(tmp_path):
    path = make_clip(tmp_path / "gray.avi", frames=5, size=(37, 53), color=False)
    frames = list(FileSource(path).frames())
    h, w, c = frames[0].image.shape  # the MJPEG encoder may round odd sizes down to even
    assert len(frames) == 5 and c == 3 and h in (36, 37) and w in (52, 53)
    # and the model input still comes out square
    card = create_model("vivit_t16x2_st", num_frames=4, image_size=32, num_classes=2).card
    assert Preprocessor(card)(frames[0].image).shape == (3, 32, 32)


@pytest.mark.parametrize("content, message", [
    (None, "no such file"), (b"", "empty"), (b"this is not a video\n" * 50, "not a video")])
def test_bad_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        list(FileSource(path).frames())


def test_truncated_mp4_is_an_error_not_a_crash(tmp_path):
    path = make_clip(tmp_path / "whole.mp4", frames=40, fourcc="mp4v")
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # mp4v writes the index (moov) at the end: it is gone
    with pytest.raises(SourceError, match="cut.mp4"):
        list(FileSource(cut).frames())


def test_image_folder_and_looping(tmp_path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((20, 30, 3), i * 60, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    frames = list(ImageFolderSource(tmp_path, fps=10).frames())
    assert [f.index for f in frames] == [0, 1, 2, 3] and frames[3].timestamp == pytest.approx(0.3)
    assert frames[2].image[0, 0, 0] == 120
    looped = list(LoopingSource(lambda: ImageFolderSource(tmp_path, fps=10), max_loops=3).frames())
    assert [f.index for f in looped] == list(range(12))
    times = [f.timestamp for f in looped]
    assert all(b > a for a, b in zip(times, times[1:]))
    with pytest.raises(SourceError, match="holds no images"):
        ImageFolderSource(_empty(tmp_path))


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


@needs_media
def test_container_frame_count_lies_and_we_count(tmp_path):
    source = FileSource(MEDIA / "tree_cinepak_framecount_lies.avi")
    frames = list(source.frames())
    assert source.claimed_frame_count == 444 and len(frames) == 68


@needs_media
def test_av1_decodes_and_a_codec_the_decoder_lacks_says_what_to_do():
    """PyAV decodes AV1 (the clip's name is from when OpenCV was the decoder); the OpenCV
    fallback still cannot, and says what to do."""
    with FileSource(MEDIA / "testsrc2_av1_undecodable.mkv") as source:
        frames = list(source.frames())
    assert len(frames) == 10 and source.codec == "av1" and frames[0].image.shape == (120, 160, 3)
    assert [f.timestamp for f in frames] == pytest.approx([i / 10 for i in range(10)])
    with pytest.raises(SourceError, match="no frame could be decoded.*AV01.*ffmpeg"):
        list(FileSource(MEDIA / "testsrc2_av1_undecodable.mkv", decoder="opencv").frames())


@needs_media
@pytest.mark.parametrize("name, count", [("arm_wrestling.mp4", 280), ("eye_makeup.avi", 164),
                                         ("cellauto_vp9.webm", 100), ("testsrc_hevc.mp4", 120)])
def test_real_clips_decode_with_increasing_times(name, count):
    frames = list(FileSource(MEDIA / name).frames())
    times = [f.timestamp for f in frames]
    assert len(frames) == count and times[0] == 0 and all(b > a for a, b in zip(times, times[1:]))


# -- the one sampling function --------------------------------------------------------------------

def test_windows_sample_every_frame_stride_frames_at_the_sources_rate():
    times = [i / 30 for i in range(100)]
    spec = ClipSpec(num_frames=4, frame_stride=2)
    assert sample_window(times, times[50], spec, 30.0) == [44, 46, 48, 50]


def test_clip_spec_fps_resamples_other_frame_rates():
    """A model trained on clips sampled every 2 frames at 30 fps sees the same seconds in a
    60 fps video: every 4th frame."""
    spec = ClipSpec(num_frames=4, frame_stride=2, fps=30.0)
    times60 = [i / 60 for i in range(200)]
    assert sample_window(times60, times60[100], spec, 60.0) == [88, 92, 96, 100]


def test_edges_repeat_the_first_and_last_frame():
    times = [i / 10 for i in range(5)]
    spec = ClipSpec(num_frames=4, frame_stride=1)
    assert sample_window(times, 0.1, spec, 10.0) == [0, 0, 0, 1]
    assert sample_window(times, centred_end_time(0.4, spec, 10.0), spec, 10.0) == [3, 4, 4, 4]


def test_variable_frame_rate_picks_the_nearest_frame_in_time():
    times = [0.0, 0.1, 0.15, 0.5, 0.55, 1.0]
    spec = ClipSpec(num_frames=3, frame_stride=1, fps=4.0)  # targets 0.25 s apart
    assert sample_window(times, 1.0, spec, 30.0) == [3, 4, 5]  # 0.5, 0.75 -> 0.55, 1.0


def test_live_and_offline_windows_agree_on_the_same_frames():
    """Live cuts the window ending at the newest frame from a buffer holding only recent frames;
    offline cuts it from the whole video. Same end time, same frames."""
    times = [i / 25 for i in range(300)]
    spec = ClipSpec(num_frames=8, frame_stride=2)
    end = times[200]
    offline = sample_window(times, end, spec, 25.0)
    recent = times[170:201]  # what a live ring buffer holds when frame 200 arrives
    live = [170 + i for i in sample_window(recent, end, spec, 25.0)]
    assert live == offline


# -- preprocessing -------------------------------------------------------------------------------

def test_preprocessing_resizes_crops_and_normalises_as_the_card_says():
    card = ModelCard(arch=create_model("vivit_t16x2_st", num_frames=4, image_size=32, num_classes=2).config,
                     resize_shorter=40, value_scale=1 / 127.5, value_offset=-1.0, mean=(0.5, 0.5, 0.5),
                     std=(0.5, 0.5, 0.5))
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 100:] = 255  # right half white
    out = Preprocessor(card)(image)
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
    # 40 x 80 after resizing, centre crop x 24..56: left half black (-3), right half white (1)
    np.testing.assert_allclose(out[:, :, 0], -3.0, atol=1e-5)
    np.testing.assert_allclose(out[:, :, -1], 1.0, atol=1e-5)


# -- offline analysis ----------------------------------------------------------------------------

class SyntheticSource(VideoSource):
    def __init__(self, n: int, fps: float = 25.0, size=(36, 48)):
        super().__init__()
        self.n, self.fps, self.name, self.size = n, fps, f"synthetic-{n}", size

    def frames(self):
        rng = np.random.default_rng(self.n)
        for i in range(self.n):
            self.frames_read += 1
            yield Frame(i, i / self.fps, rng.integers(0, 255, (*self.size, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def predictor():
    model = create_model("vivit_t16x2_fe", labels=["a", "b", "c"], num_frames=8, image_size=32, depth=2,
                         temporal_depth=1)
    return Predictor(model, device="cpu")


def test_a_slow_video_gets_a_label_on_every_frame(predictor):
    """1 fps against a model that samples at 30 fps: a window spans one source frame, so the hop
    shrinks to 1 and every frame is covered (it left 7 of every 8 frames unlabelled)."""
    model = create_model("vivit_t16x2_fe", labels=["a", "b", "c"], num_frames=8, image_size=32, depth=1,
                         temporal_depth=1)
    model.card = model.card.replace(fps=30.0)
    result = analyze_source(SyntheticSource(20, fps=1.0), Predictor(model, device="cpu"), WindowSettings(hop=8))
    assert len(result.windows) == 20 and result.uncovered_frames() == 0
    assert all(label >= 0 for label in result.frame_labels())


def test_windows_every_hop_frames_centred_and_averaged_per_frame(predictor):
    result = analyze_source(SyntheticSource(50), predictor, WindowSettings(hop=10, batch_size=3))
    # ... and one centred on the last frame, which the window at 40 (frames 34-48) leaves uncovered
    assert [w.centre_frame for w in result.windows] == [0, 10, 20, 30, 40, 49]
    assert not np.isnan(result.frame_probs()).any() and result.warnings() == []
    w = result.windows[2]
    assert w.frames == (14, 16, 18, 20, 22, 24, 26, 28)  # 8 frames, stride 2, around frame 20
    np.testing.assert_allclose(w.probs.sum(), 1, atol=1e-5)
    np.testing.assert_allclose(w.attention.sum(), 1, atol=1e-5)
    probs = result.frame_probs()
    covering = [x for x in result.windows if x.start_frame <= 22 <= x.end_frame]
    np.testing.assert_allclose(probs[22], np.mean([x.probs for x in covering], axis=0), atol=1e-6)


def test_batching_does_not_change_results(predictor):
    a = analyze_source(SyntheticSource(40), predictor, WindowSettings(hop=4, batch_size=1))
    b = analyze_source(SyntheticSource(40), predictor, WindowSettings(hop=4, batch_size=7))
    np.testing.assert_allclose(np.stack([w.probs for w in a.windows]), np.stack([w.probs for w in b.windows]),
                               atol=1e-5)


def test_memory_does_not_grow_with_video_length(predictor):
    short = analyze_source(SyntheticSource(200), predictor, WindowSettings(hop=8))
    long = analyze_source(SyntheticSource(1600), predictor, WindowSettings(hop=8))
    assert long.peak_buffered_frames == short.peak_buffered_frames < 40
    assert len(long.windows) == 200


def test_exports_json_and_csv_atomically_without_overwriting(tmp_path, predictor):
    result = analyze_source(SyntheticSource(30), predictor, WindowSettings(hop=8))
    result.model_sha256 = "abc"
    [json_path] = result.write_json(tmp_path / "r.json")
    data = json.loads(json_path.read_text())
    assert data["schema"] == "vivit-desktop/analysis" and data["model"]["sha256"] == "abc"
    assert data["settings"]["hop"] == 8 and len(data["frames"]) == 30 and len(data["windows"]) == 4
    assert data["segments"][0]["start_frame"] == 0 and data["segments"][-1]["end_frame"] == 29
    paths = result.write_csv(tmp_path / "r.csv")
    assert [p.name for p in paths] == ["r.csv", "r.windows.csv", "r.segments.csv"]
    rows = list(csv.DictReader(line for line in paths[0].read_text().splitlines() if not line.startswith("#")))
    assert len(rows) == 30 and set(rows[0]) >= {"frame", "label", "p_a", "p_b", "p_c"}
    before = json_path.read_text()
    with pytest.raises(FileExistsError):
        result.write_json(json_path)
    assert json_path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.json", "r.segments.csv", "r.windows.csv"]


def test_cli_analyze_keeps_going_past_bad_inputs(tmp_path):
    model = create_model("vivit_t16x2_st", labels=["x", "y"], num_frames=8, image_size=32, depth=1)
    weights, _ = save_model(model, tmp_path / "m")
    good = make_clip(tmp_path / "good.avi", frames=20)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "vivit_desktop", "analyze", str(good), str(empty),
                           str(tmp_path / "missing.mp4"), "--model", str(weights), "--out", str(out),
                           "--no-progress"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "empty" in errors[0] and "no such file" in errors[1]
    assert "Traceback" not in done.stderr
    assert json.loads((out / "good.json").read_text())["frame_count"] == 20
    assert not (out / "empty.json").exists()
    assert "20 frames" in done.stdout and "real time" in done.stdout


def test_model2_reuses_tubelets_and_gives_the_uncached_probabilities():
    """Hop = one tubelet (frame_stride 2 x tubelet 2 = 4 frames): every window after the first
    costs one new spatial pass, and the probabilities and attention equal the uncached path."""
    model = create_model("vivit_t16x2_fe", labels=["a", "b", "c"], num_frames=8, image_size=32, depth=2,
                         temporal_depth=1)
    cached, plain = Predictor(model, device="cpu"), Predictor(model, device="cpu", reuse=False)
    settings = WindowSettings(hop=4, batch_size=3)
    a = analyze_source(SyntheticSource(120), cached, settings)
    b = analyze_source(SyntheticSource(120), plain, settings)
    np.testing.assert_allclose(np.stack([w.probs for w in a.windows]), np.stack([w.probs for w in b.windows]),
                               atol=1e-5)
    np.testing.assert_allclose(np.stack([w.attention for w in a.windows]),
                               np.stack([w.attention for w in b.windows]), atol=1e-5)
    nt = model.config.temporal_tokens
    assert plain.spatial_passes == nt * len(b.windows) == 120
    # the first window's tubelets at the video's start repeat frame 0; after that one new tubelet
    # per window, except the last windows that run past the end (their last frame repeats)
    assert cached.spatial_passes < plain.spatial_passes / 2
    assert cached.spatial_passes <= nt + len(a.windows) + 2


def test_analysis_reports_windows_as_they_finish_and_can_be_cancelled(predictor):
    from vivit_desktop import cancel
    from vivit_desktop.engine.analysis import Cancelled

    batches = []
    analyze_source(SyntheticSource(60), predictor, WindowSettings(hop=5, batch_size=4), on_windows=batches.append)
    assert [len(b) for b in batches] == [4, 4, 4] and [w.index for b in batches for w in b] == list(range(12))
    seen = []
    token = cancel.CancelToken()

    def tick(n):
        seen.append(n)
        if len(seen) >= 100:
            token.cancel()

    with pytest.raises(Cancelled) as stopped:
        analyze_source(SyntheticSource(600), predictor, WindowSettings(hop=5), progress=tick, cancel=token)
    assert stopped.value.partial.frame_count == 100 and len(stopped.value.partial.windows) < 20
    assert isinstance(stopped.value, cancel.Cancelled)  # one Cancelled for every workflow


def test_variable_frame_rate_sparse_stretches_still_get_windows(predictor):
    """Frames 20..39 come 1 s apart (the tree AVI does this): counting frames alone would leave
    most of them covered by no window. The hop also runs on time, so every frame is labelled,
    while the dense stretches keep one window every `hop` frames."""

    class VFR(SyntheticSource):
        def frames(self):
            t = 0.0
            for frame in super().frames():
                yield Frame(frame.index, t, frame.image)
                t += 1.0 if 20 <= frame.index < 40 else 1 / 25

    result = analyze_source(VFR(60), predictor, WindowSettings(hop=8))
    centres = [w.centre_frame for w in result.windows]
    assert centres[:3] == [0, 8, 16] and centres[-2:] == [48, 56]
    assert set(range(21, 40)) <= set(centres)  # one per second where frames are a second apart
    assert not np.isnan(result.frame_probs()[:, 0]).any()


def test_variable_frame_rate_times_are_the_decoders_in_every_export(predictor, tmp_path):
    """A file whose frames are not N / fps apart (the tree AVI's header says 444 frames at 15 fps,
    it holds 68 spread over 29.6 s): every time written is the frame's own timestamp, the duration
    runs to the last frame's, and they survive the JSON round trip (the sidecar cache)."""
    stamps = [i / 25 if i < 20 else 20 / 25 + (i - 20) * 1.0 for i in range(30)]

    class VFR(SyntheticSource):
        def frames(self):
            for frame, t in zip(super().frames(), stamps):
                yield Frame(frame.index, t, frame.image)

    from vivit_desktop.engine.results import AnalysisResult

    told = []
    result = analyze_source(VFR(30), predictor, WindowSettings(hop=8), on_times=told.extend)
    assert told == stamps  # given as decoded, for a player to place its curves
    assert result.duration == pytest.approx(stamps[-1] + 1 / 25)
    data = json.loads(result.to_json())
    assert [row["time"] for row in data["frames"]] == pytest.approx(stamps)
    assert data["segments"][-1]["end_time"] == pytest.approx(stamps[-1] + 1 / 25)
    again = AnalysisResult.from_dict(json.loads(result.to_json(per_frame=False)), result.card)
    assert again.timebase.time(np.arange(30)) == pytest.approx(stamps) and again.duration == result.duration
    assert again.timebase.frame(5.5) == 24  # the frame on screen then: shown at 4.8 s, held a second
    # a constant-rate video stores no times: frame N is at N / fps
    plain = analyze_source(SyntheticSource(30), predictor, WindowSettings(hop=8))
    assert "frame_times" not in json.loads(plain.to_json()) and plain.timebase.constant


def test_timebase_maps_both_ways():
    from vivit_desktop.engine.timebase import Timebase

    constant = Timebase.from_times(30.0, [i / 30 + 0.001 for i in range(10)])  # jitter is not variable rate
    assert constant.constant and constant.time(15) == 0.5 and constant.frame(0.49) == 15
    vfr = Timebase.from_times(10.0, [0.0, 0.1, 5.0, 5.1])
    assert not vfr.constant
    assert [vfr.frame(t) for t in (0.0, 0.12, 2.0, 4.96, 5.1, 5.3)] == [0, 1, 1, 2, 3, 5]
    assert vfr.time(4) == pytest.approx(5.2) and list(vfr.time(np.array([1, 2]))) == [0.1, 5.0]
    # the frame on screen at a time: the last shown at or before it
    assert [vfr.shown_at(t) for t in (0.0, 0.09, 0.1, 4.99, 5.0, 5.25)] == [0, 0, 1, 1, 2, 4]
    assert list(constant.shown_at(np.array([0.0, 0.0333, 0.034, 1.0]))) == [0, 0, 1, 30]


@pytest.mark.skipif(__import__("shutil").which("ffmpeg") is None, reason="needs the ffmpeg command")
def test_rotated_phone_video_comes_upright(tmp_path):
    """A phone video stores landscape pixels with a 90° rotation tag: frames must come rotated."""
    plain, rotated = tmp_path / "plain.mp4", tmp_path / "rotated.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-t", "1",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(plain)], check=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                    str(rotated)], check=True)
    with FileSource(plain) as a, FileSource(rotated) as b:
        upright, turned = next(a.frames()).image, next(b.frames()).image
    assert upright.shape == (90, 160, 3) and turned.shape == (160, 90, 3)
    assert min(np.abs(turned.astype(int) - np.rot90(upright, k).astype(int)).mean() for k in (1, -1)) < 8


@pytest.mark.skipif(__import__("shutil").which("ffmpeg") is None, reason="needs the ffmpeg command")
def test_the_player_s_pictures_come_scaled_to_the_view_in_the_decoder(tmp_path):
    """The player asks for pictures no larger than its view (FileSource.fit): they come scaled
    in the decoder's colour conversion, look like the full picture scaled, keep their aspect and
    a phone's rotation; a view larger than the picture leaves it exactly as it was."""
    plain, rotated = tmp_path / "plain.mp4", tmp_path / "rotated.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "1",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(plain)], check=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                    str(rotated)], check=True)
    with FileSource(plain) as source:
        full = source.frame_at(3).image
        source.fit = (160, 160)
        small = source.frame_at(4).image
        again = source.frame_at(3).image
        source.fit = (1000, 1000)
        assert np.array_equal(source.frame_at(3).image, full)
    assert small.shape == (90, 160, 3) and again.shape == (90, 160, 3)
    expected = cv2.resize(full, (160, 90), interpolation=cv2.INTER_AREA)
    assert np.abs(again.astype(int) - expected.astype(int)).mean() < 4
    with FileSource(rotated) as source:
        source.fit = (90, 200)  # a tall view: the upright picture is 180 wide, 320 high
        turned = source.frame_at(3).image
    assert turned.shape == (160, 90, 3)
    assert min(np.abs(turned.astype(int) - np.rot90(expected, k).astype(int)).mean() for k in (1, -1)) < 8


def test_per_frame_means_agree_with_a_window_by_window_computation():
    """frame_probs and frame_attention are computed in one pass over every window (a redraw of a
    long video's results); they must equal the plain loop over windows, repeats and ties included."""
    from vivit_desktop.engine.results import AnalysisResult, WindowResult

    rng = np.random.default_rng(0)
    n, t, classes = 97, 8, 4
    windows = []
    for i, centre in enumerate(range(0, n + 6, 5)):  # the last windows run past the end
        frames = np.clip(np.arange(t) * 2 + centre - t, 0, n - 1)  # stride 2, repeats at both ends
        probs = rng.dirichlet(np.ones(classes))
        windows.append(WindowResult(i, min(centre, n - 1), tuple(int(f) for f in frames), probs,
                                    rng.dirichlet(np.ones(t)), 0.0))
    windows = windows[:8] + windows[12:]  # a gap: frames no window covers
    card = create_model("vivit_t16x2_fe", labels=list("abcd"), num_frames=t, image_size=32, depth=1).card
    result = AnalysisResult(source="x", fps=25.0, frame_count=n, frames_skipped=0, claimed_frame_count=None,
                            card=card, hop=5, windows=windows, seconds=0.0)
    total, count, attention = np.zeros((n, classes)), np.zeros(n), np.zeros(n)
    for w in windows:
        span = np.arange(w.start_frame, min(w.end_frame, n - 1) + 1)
        total[span] += w.probs
        count[span] += 1
        sampled = np.asarray(w.frames)
        for f in span:
            nearest = sampled[np.argmin(np.abs(sampled - f))]  # argmin: the earlier on a tie
            attention[f] += np.asarray(w.attention)[sampled == nearest].sum()
    covered = count > 0
    assert not covered.all()  # the gap is there
    np.testing.assert_allclose(result.frame_probs()[covered], total[covered] / count[covered, None], atol=1e-12)
    np.testing.assert_allclose(result.frame_attention()[covered], attention[covered] / count[covered], atol=1e-12)
    assert np.isnan(result.frame_probs()[~covered]).all() and np.isnan(result.frame_attention()[~covered]).all()


def test_the_per_frame_attention_track_has_no_comb_and_no_zeros_for_unanalysed_frames(predictor):
    """Stride 2: the frame between two samples takes its nearest sample's weight (it was 0)."""
    result = analyze_source(SyntheticSource(50), predictor, WindowSettings(hop=10, batch_size=3))
    attention = result.frame_attention()
    assert np.isfinite(attention).all() and (attention > 0).all()
    alone = [x for x in result.windows if x.start_frame <= 15 <= x.end_frame]
    expected = np.mean([x.attention[list(x.frames).index(max(f for f in x.frames if f <= 15))] for x in alone])
    assert attention[15] == pytest.approx(expected)  # 15 lies between 14 and 16: the earlier sample, on a tie
    partial = analyze_source(SyntheticSource(50), predictor, WindowSettings(hop=10, batch_size=3))
    partial.windows = partial.windows[:2]  # analysed up to about frame 18 so far
    track = partial.frame_attention()
    assert np.isnan(track[30:]).all() and np.isfinite(track[:10]).all()
    row = partial.to_dict()["frames"][40]
    assert row["attention"] is None  # strict JSON: null, not NaN


def test_per_frame_means_continued_from_an_earlier_result_equal_the_whole_sum():
    """While a file is analysed the window rebuilds its result as windows arrive, and each
    result sums its per-frame probabilities from where the previous one's windows ended
    (`continue_from`): it must equal summing every window again, NaN (not analysed) included,
    whichever batch sizes, overlaps and edge windows come; a result that is not a continuation
    (other windows, another length) is summed whole."""
    from vivit_desktop.engine.results import AnalysisResult, WindowResult

    rng = np.random.default_rng(3)
    n, t, classes = 400, 16, 7
    card = create_model("vivit_t16x2_fe", labels=[f"c{i}" for i in range(classes)], num_frames=t, image_size=32,
                        depth=1).card
    windows = []
    for i, centre in enumerate(range(-6, n + 10, 5)):  # windows hanging over both ends too
        frames = tuple(int(f) for f in np.clip(np.arange(t) * 2 + centre - t, 0, n - 1))
        windows.append(WindowResult(i, centre, frames, rng.dirichlet(np.ones(classes)),
                                    rng.dirichlet(np.ones(t)), 0.01))

    def result(upto, previous=None, frames=n):
        made = AnalysisResult(source="x", fps=30.0, frame_count=frames, frames_skipped=0, claimed_frame_count=frames,
                              card=card, hop=5, windows=list(windows[:upto]), seconds=0.0)
        return made.continue_from(previous)

    previous = None
    upto = 0
    for i, batch in enumerate((1, 3, 8, 2, 17, 1, 30, 40, 100)):
        upto = min(upto + batch, len(windows))
        continued = result(upto, previous)
        if i % 3 == 1:  # built and never drawn (the window rebuilds more often than it draws)
            previous = continued
            continue
        whole = result(upto)
        got, expected = continued.frame_probs(), whole.frame_probs()
        assert np.array_equal(np.isnan(got), np.isnan(expected)), upto
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        previous = continued
    # results built and never drawn, one after another without end, chain only so far
    head = result(len(windows), previous)
    for _ in range(3 * AnalysisResult.CHAIN):
        head = result(len(windows), head)
    hops = 0
    while head is not None and head._frame_probs is None:
        head, hops = head.__dict__.get("_previous"), hops + 1
    assert hops <= AnalysisResult.CHAIN + 1
    # not a continuation: another video length, or windows that are not the earlier ones
    other = result(len(windows), previous, frames=n - 50)
    np.testing.assert_allclose(other.frame_probs(), result(len(windows), frames=n - 50).frame_probs())
    shuffled = AnalysisResult(source="x", fps=30.0, frame_count=n, frames_skipped=0, claimed_frame_count=n, card=card,
                              hop=5, windows=windows[::-1], seconds=0.0).continue_from(previous)
    np.testing.assert_allclose(shuffled.frame_probs(), result(len(windows)).frame_probs())
