"""Live sources (a camera through the same interface, network streams served by a process on
127.0.0.1) and the live runner: causal windows, latest wins, latency."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vivit_desktop.cancel import CancelToken
from vivit_desktop.engine.live import LiveRunner
from vivit_desktop.engine.predictor import Predictor
from vivit_desktop.engine.sources import CameraSource, Frame, SourceError, StreamSource, open_source, paced
from vivit_desktop.model import create_model

SERVER = Path(__file__).with_name("stream_server.py")


class Server:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(SERVER), *args], stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def url(self, path: str = "mjpeg") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


@pytest.fixture
def server(request):
    servers = []

    def start(*args: str) -> Server:
        servers.append(Server(*args))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def bar_position(frame: Frame) -> int:
    """The stream server draws a bright bar at x = frame number mod width."""
    return int(np.argmax(frame.image[:, :, 0].mean(axis=0) > 150))


# -- network streams -----------------------------------------------------------------------------

def test_mjpeg_stream_yields_frames_in_order_with_live_times(server):
    s = server("--fps", "50")
    with open_source(s.url()) as source:
        assert isinstance(source, StreamSource) and source.is_live
        frames = [f for f, _ in zip(source.frames(), range(20))]
    assert [f.index for f in frames] == list(range(20))
    assert all(b.timestamp > a.timestamp for a, b in zip(frames, frames[1:]))
    assert frames[0].image.shape == (64, 96, 3)
    positions = [bar_position(f) for f in frames]
    assert positions == sorted(positions) and len(set(positions)) == 20  # each frame once, none lost


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command to make an MPEG-TS clip")
def test_mpeg_ts_over_http(server, tmp_path):
    ts = tmp_path / "clip.ts"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=80x60:rate=25", "-t", "2",
                    "-c:v", "mpeg2video", "-f", "mpegts", str(ts)], check=True)
    s = server("--ts", str(ts))
    with StreamSource(s.url("ts"), reconnect_s=0.5) as source:
        frames = [f for f, _ in zip(source.frames(), range(30))]
    assert len(frames) == 30 and frames[-1].image.shape == (60, 80, 3)


def test_a_dropped_stream_reconnects_and_keeps_counting(server):
    s = server("--fps", "50", "--frames", "15")  # every connection closes after 15 frames
    with StreamSource(s.url(), reconnect_s=5) as source:
        frames = [f for f, _ in zip(source.frames(), range(40))]
        assert source.reconnects >= 2
    assert [f.index for f in frames] == list(range(40))
    positions = [bar_position(f) for f in frames]
    assert positions == sorted(positions)  # frames after the reconnection are the server's newer ones


def test_a_stream_that_dies_ends_with_a_clear_error(server):
    s = server("--fps", "50", "--exit-after", "10")
    got = []
    with StreamSource(s.url(), timeout_s=1, reconnect_s=1) as source:
        with pytest.raises(SourceError, match=r"dropped after \d+ frames and did not come back within 1 s") as e:
            for frame in source.frames():
                got.append(frame)
    assert 8 <= len(got) <= 10 and f"after {len(got)} frames" in str(e.value)


@pytest.mark.parametrize("silent", [True, False])
def test_a_stream_that_never_connects_is_named(server, silent):
    """A server that answers nothing readable and a port nobody listens on get different causes."""
    url = server("--silent").url() if silent else "http://127.0.0.1:9/nothing-listens"
    started = time.monotonic()
    cause = "accepts connections but did not send a video stream" if silent else "connection refused"
    with pytest.raises(SourceError, match=cause):
        StreamSource(url, timeout_s=1)
    assert time.monotonic() - started < 5


def test_a_server_that_sends_garbage_is_not_called_unreachable():
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        for _ in range(4):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"\x00\xff garbage, not a video \x13\x37" * 50)

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(SourceError, match="accepts connections but did not send a video stream"):
            StreamSource(f"http://127.0.0.1:{port}/video", timeout_s=1)
    finally:
        listener.close()


def test_passwords_stay_out_of_messages():
    with pytest.raises(SourceError) as caught:
        StreamSource("rtsp://admin:hunter2@127.0.0.1:9/live", timeout_s=1)
    assert "hunter2" not in str(caught.value) and "admin:***@" in str(caught.value)


# -- cameras -------------------------------------------------------------------------------------

class FakeCamera:
    """A webcam through VideoCapture's interface: only 640x480 or 320x240, at most 30 fps, and
    frames go stale in a driver queue unless the buffer is one frame."""

    def __init__(self, index: int, fail_after: int | None = None) -> None:
        self.props = {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480, cv2.CAP_PROP_FPS: 30.0,
                      cv2.CAP_PROP_BUFFERSIZE: 4}
        self.reads, self.fail_after, self.released = 0, fail_after, False

    def isOpened(self):
        return True

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            value = 320 if value <= 320 else 640
        elif prop == cv2.CAP_PROP_FRAME_HEIGHT:
            value = 240 if value <= 240 else 480
        elif prop == cv2.CAP_PROP_FPS:
            value = min(value, 30.0)
        self.props[prop] = value
        return True

    def get(self, prop):
        return self.props.get(prop, 0.0)

    def read(self):
        if self.fail_after is not None and self.reads >= self.fail_after:
            return False, None
        self.reads += 1
        h, w = int(self.props[cv2.CAP_PROP_FRAME_HEIGHT]), int(self.props[cv2.CAP_PROP_FRAME_WIDTH])
        return True, np.full((h, w, 3), self.reads % 256, np.uint8)

    def release(self):
        self.released = True


def test_camera_asks_for_a_buffer_of_one_and_reports_what_it_got():
    cameras = []

    def capture(index):
        cameras.append(FakeCamera(index))
        return cameras[-1]

    with CameraSource(2, width=320, height=240, fps=60, capture=capture) as camera:
        assert cameras[0].props[cv2.CAP_PROP_BUFFERSIZE] == 1 and camera.buffer_of_one
        assert camera.size == (320, 240) and camera.fps == 30.0  # 60 fps asked, 30 given
        frames = [f for f, _ in zip(camera.frames(), range(5))]
    assert [f.index for f in frames] == list(range(5)) and frames[0].image.shape == (240, 320, 3)
    assert cameras[0].released


def test_an_unplugged_camera_ends_with_a_clear_error():
    with CameraSource(0, capture=lambda i: FakeCamera(i, fail_after=3), stall_s=0.2) as camera:
        got = []
        with pytest.raises(SourceError, match="camera 0 stopped delivering frames after 3"):
            for frame in camera.frames():
                got.append(frame)
    assert len(got) == 3


def test_a_camera_that_does_not_exist_is_named():
    with pytest.raises(SourceError, match="camera 57 could not be opened"):
        open_source("57")


# -- the live runner -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model():
    return create_model("vivit_t16x2_st", labels=["a", "b"], num_frames=8, image_size=32, depth=1)


def synthetic_frames(n: int, fps: float = 25.0):
    rng = np.random.default_rng(0)
    for i in range(n):
        yield Frame(i, i / fps, rng.integers(0, 255, (36, 48, 3), dtype=np.uint8))


def test_live_windows_are_causal_and_cover_the_newest_frame(model):
    results = []
    with LiveRunner(Predictor(model, device="cpu"), fps=25.0, hop=5, on_result=results.append) as runner:
        for frame in synthetic_frames(60):
            runner.push(frame)
            assert runner.wait_idle(10)  # slow reader: every window runs
    # the first window waits for a full span: 8 frames every 2 = frames 0..14
    assert [r.window.frames for r in results[:2]] == [tuple(range(0, 15, 2)), tuple(range(5, 20, 2))]
    assert all(r.window.frames[-1] == r.window.centre_frame for r in results)
    assert runner.dropped == 0 and len(results) == runner.submitted == len(range(14, 60, 5))
    assert all(r.latency_s >= r.compute_s > 0 for r in results)
    assert runner.peak_buffered_frames <= 20  # a window's span, not the stream's length


class SlowPredictor(Predictor):
    def predict(self, clips, frames=None, source=None):
        time.sleep(0.15)
        return super().predict(clips, frames, source)


def test_latest_wins_when_the_worker_is_busy(model):
    """Frames come faster than the model: waiting windows are replaced by newer ones, never
    queued, and each result is about a recent frame."""
    results = []
    runner = LiveRunner(SlowPredictor(model, device="cpu"), fps=25.0, hop=1, on_result=results.append)
    for frame in synthetic_frames(100):
        runner.push(frame)
        time.sleep(0.005)
    runner.stop(finish=True)
    assert runner.dropped > 40 and runner.completed + runner.dropped == runner.submitted
    assert len(results) < 15
    assert results[-1].window.frames[-1] == 99  # the newest window always runs in the end
    seqs = [r.window.index for r in results]
    assert seqs == sorted(seqs) and seqs[-1] == runner.submitted - 1  # never an older window after a newer


def test_live_and_offline_predict_the_same_for_the_same_window(model):
    """One sampler for both paths: the live window ending at frame 40 equals the offline
    window with the same frames."""
    predictor = Predictor(model, device="cpu")
    results = []
    with LiveRunner(predictor, fps=25.0, hop=27, on_result=results.append) as runner:  # windows end at 14, 41
        frames = list(synthetic_frames(60))
        for frame in frames[:42]:
            runner.push(frame)
        assert runner.wait_idle(10)
    [live] = [r for r in results if r.window.centre_frame == 41]
    from vivit_desktop.engine.preprocess import Preprocessor

    prep = Preprocessor(model.card)
    clip = np.stack([prep(frames[i].image) for i in live.window.frames])[None]
    np.testing.assert_allclose(predictor.predict(clip).probs[0], live.window.probs, atol=1e-6)


def test_worker_errors_are_reported_and_the_runner_survives(model):
    errors, results = [], []

    class Flaky(Predictor):
        calls = 0

        def predict(self, clips, frames=None, source=None):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("boom")
            return super().predict(clips, frames, source)

    with LiveRunner(Flaky(model, device="cpu"), fps=25.0, hop=4, on_result=results.append,
                    on_error=errors.append) as runner:
        for frame in synthetic_frames(40):
            runner.push(frame)
            runner.wait_idle(10)
    assert [str(e) for e in errors] == ["boom"] and len(results) >= 3


def test_paced_plays_a_file_at_its_own_speed():
    frames = list(synthetic_frames(10, fps=50.0))
    started = time.perf_counter()
    assert [f.index for f in paced(frames, speed=2.0)] == list(range(10))
    elapsed = time.perf_counter() - started
    assert elapsed >= 9 / 50 / 2 - 0.01


def test_live_runner_reads_a_stream_end_to_end(server, model):
    s = server("--fps", "50")
    results = []
    stop = CancelToken()
    with StreamSource(s.url()) as source, LiveRunner(Predictor(model, device="cpu"), fps=source.fps, hop=4,
                                                     on_result=results.append) as runner:
        def stop_soon(result):
            if len(results) >= 3:
                stop.cancel()

        runner.on_result = lambda r: (results.append(r), stop_soon(r))
        runner.run(source.frames(), stop)
    assert len(results) >= 3 and all(r.window.frames == tuple(sorted(r.window.frames)) for r in results)


def test_cli_live_prints_predictions_from_a_stream_and_names_a_missing_camera(server, tmp_path, model):
    from vivit_desktop.model import save_model

    weights, _ = save_model(model, tmp_path / "m")
    s = server("--fps", "30")
    done = subprocess.run([sys.executable, "-m", "vivit_desktop", "live", s.url(), "--model", str(weights),
                           "--hop", "4", "--seconds", "3"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "latency" in line]
    assert len(lines) >= 3 and all(" a " in line or " b " in line for line in lines)
    missing = subprocess.run([sys.executable, "-m", "vivit_desktop", "live", "57", "--model", str(weights)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "vivit-desktop live: error: camera 57 could not be opened: there is no such camera or another program is "
        "using it. Try another index (0 is usually the built-in one) or close the other program"]
