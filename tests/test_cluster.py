"""`analyze --ray` on a real Ray cluster (issue 20): a head and one worker node on 127.0.0.1, one
CPU each, started with `ray start --block` and stopped by their own process ids.

What is checked: the results of a cluster run equal a local run's byte for byte (two fields
aside: `seconds` and each window's `latency_s`, which are wall-clock timings; `device` is
compared, both runs being on the CPU), and so do the workers' sidecar cache entries; a bad video
among good ones is reported in one line and the exit status is 1; a re-run skips the videos whose
results exist (this one on a local Ray instance, `--ray` without an address); a worker killed
mid-video is restarted and its video finishes; Ctrl+C cancels the cluster's tasks and leaves no
partial output. Every run passes --precision float32: `auto` times the model at load, and on a
busy machine two runs could choose differently."""

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from vivit_desktop.engine.analysis import WindowSettings
from vivit_desktop.engine.postprocess import PostProcessing
from vivit_desktop.engine.service import AnalysisJob, results_match
from vivit_desktop.model import create_model, save_model

MEDIA = Path(os.environ.get("VIVIT_DESKTOP_MEDIA", Path(__file__).resolve().parents[2] / "shared" / "media"))
CLIPS = ("carphone.mp4", "eye_makeup.avi", "testsrc_hevc.mp4", "cellauto_vp9.webm")
HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed: pip install -e '.[cluster]' runs these")
needs_media = pytest.mark.skipif(not MEDIA.is_dir(), reason=f"real clips not found at {MEDIA} "
                                 "(set VIVIT_DESKTOP_MEDIA to the shared/media folder)")
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command for its long clip")
TIMINGS = re.compile(r'^\s*"(seconds|latency_s)": ')  # the only lines that may differ


def run_cli(*args, env=None, timeout=240):
    return subprocess.run([sys.executable, "-m", "vivit_desktop", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def popen_cli(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "vivit_desktop", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def payload(path: Path) -> list[str]:
    """The JSON export's lines, but for the timings."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if not TIMINGS.match(line)]


def cache_payload(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("seconds")
    for window in data["windows"]:
        window.pop("latency_s")
    return data


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    model = create_model("vivit_t16x2_st", labels=("pan", "tilt", "static"), num_frames=8, image_size=32, depth=1)
    weights, _ = save_model(model, tmp_path_factory.mktemp("model") / "tiny")
    return weights


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Four short real clips, and the same with a broken video among them."""
    if not MEDIA.is_dir():
        pytest.skip(f"real clips not found at {MEDIA} (set VIVIT_DESKTOP_MEDIA to the shared/media folder)")
    root = tmp_path_factory.mktemp("clips")
    good, mixed = root / "good", root / "mixed"
    good.mkdir()
    mixed.mkdir()
    for name in CLIPS:
        shutil.copy(MEDIA / name, good / name)
        shutil.copy(MEDIA / name, mixed / name)
    (mixed / "broken.mp4").write_bytes(b"this is not a video\n" * 64)
    return SimpleNamespace(good=good, mixed=mixed, broken=mixed / "broken.mp4")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """40 s of testsrc2: about 2 s of analysis at hop 2, time enough to kill or interrupt it."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg command")
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "40",
                    "-c:v", "mpeg4", "-q:v", "5", str(path)], check=True, timeout=120)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(log: Path, text: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"ray start exited ({process.returncode}): {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    raise TimeoutError(f"ray start did not come up in {timeout:.0f} s: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head and a worker node on 127.0.0.1, 1 CPU each; the workers' cache is a folder of the
    test's own. Stopped by their process ids (never `ray stop`, which stops every Ray on the machine)."""
    if not HAVE_RAY:
        pytest.skip("Ray is not installed: pip install -e '.[cluster]' runs these")
    ray_command = Path(sys.executable).with_name("ray")
    ray_command = str(ray_command) if ray_command.exists() else shutil.which("ray")
    temp = tempfile.mkdtemp(prefix="vr", dir="/tmp")  # Ray's socket paths must stay short
    logs = tmp_path_factory.mktemp("ray-logs")
    cache = tmp_path_factory.mktemp("worker-cache")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": temp,
           "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0", "VIVIT_DESKTOP_CACHE": str(cache)}
    port = _free_port()
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    nodes = []
    try:
        for name, extra in (("head", ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}",
                                      f"--ray-client-server-port={_free_port()}"]),
                            ("worker", [f"--address=127.0.0.1:{port}"])):
            log = logs / f"{name}.log"
            with open(log, "w") as f:
                process = subprocess.Popen([ray_command, "start", *extra, *common], stdout=f, stderr=subprocess.STDOUT,
                                           env=env, start_new_session=True)
            nodes.append(process)
            _wait_for(log, "block forever", process)
        yield SimpleNamespace(address=f"127.0.0.1:{port}", cache=cache, temp=temp, pids=[p.pid for p in nodes],
                              env={k: env[k] for k in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED", "RAY_TMPDIR")})
    finally:
        for process in reversed(nodes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(temp, ignore_errors=True)


def _ray_workers(roots: list[int], title: str) -> list[int]:
    """Processes under `roots` (the nodes this module started) whose title starts with `title`."""
    parents, titles = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            titles[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid in roots:
                return True
            pid = parents.get(pid, 1)
        return False

    return [pid for pid, text in titles.items() if text.startswith(title) and ours(pid)]


def _wait_for_worker(cluster, title: str, process: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _ray_workers(cluster.pids, title)
        if found:
            return found[0]
        assert process.poll() is None, f"the run ended before a worker started: {process.communicate()}"
        time.sleep(0.02)
    raise TimeoutError(f"no {title} process in {timeout:.0f} s")


def _no_partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".vivit-" in p.name or p.name.endswith(".part"))


@needs_ray
@needs_media
def test_a_cluster_run_equals_a_local_run_reports_a_bad_video_and_resumes(cluster, clips, model_path, tmp_path):
    local = run_cli("analyze", clips.good, "--model", model_path, "--out", tmp_path / "local", "--precision",
                    "float32", "--no-progress", env={"VIVIT_DESKTOP_CACHE": str(tmp_path / "local-cache")})
    assert local.returncode == 0, local.stderr
    args = ("analyze", clips.mixed, "--model", model_path, "--out", tmp_path / "ray", "--precision", "float32")
    first = run_cli(*args, "--ray", cluster.address, env=cluster.env)
    assert first.returncode == 1, first.stderr
    errors = [line for line in first.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {clips.broken}: "), first.stderr
    assert "4 analysed (0 from the cache), 1 failed, 0 skipped; 2 workers" in first.stderr
    for name in CLIPS:  # the exports, byte for byte but for the timings
        stem = Path(name).stem
        assert payload(tmp_path / "ray" / f"{stem}.json") == payload(tmp_path / "local" / f"{stem}.json"), name
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(f"{Path(n).stem}.json" for n in CLIPS)
    # the summaries the workers printed are the local run's, the speed aside
    summary = re.compile(r"^\S*/([^/\s]+): (\d+ frames, \d+ windows on cpu);")
    assert sorted(m.groups() for m in map(summary.match, first.stdout.splitlines()) if m) == \
        sorted(m.groups() for m in map(summary.match, local.stdout.splitlines()) if m)
    assert sorted(line for line in first.stdout.splitlines() if line.startswith("  top actions")) == \
        sorted(line for line in local.stdout.splitlines() if line.startswith("  top actions"))
    # the sidecar cache: the same entries (same keys) with the same results
    local_cache = sorted((tmp_path / "local-cache").glob("*.json"))
    assert len(local_cache) == len(CLIPS)
    for entry in local_cache:
        assert cache_payload(cluster.cache / entry.name) == cache_payload(entry), entry.name

    # the same command again, on a local Ray instance: the four are skipped, the broken one fails again
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").iterdir()}
    again = run_cli(*args, "--no-progress", "--workers", "1", "--ray",
                    env={**cluster.env, "VIVIT_DESKTOP_CACHE": str(cluster.cache)})
    assert again.returncode == 1, again.stderr
    assert "skipped 4 (results exist)" in again.stderr
    assert [line for line in again.stderr.splitlines() if line.startswith("error:")] == errors
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").iterdir()} == stamps


@needs_ray
@needs_ffmpeg
def test_a_worker_killed_mid_video_is_restarted_and_its_video_finishes(cluster, long_clip, model_path, tmp_path):
    args = ("analyze", long_clip, "--model", model_path, "--hop", "2", "--precision", "float32", "--no-progress")
    local = run_cli(*args, "--out", tmp_path / "local.json", env={"VIVIT_DESKTOP_CACHE": str(tmp_path / "cache")})
    assert local.returncode == 0, local.stderr
    run = popen_cli(*args, "--no-cache", "--out", tmp_path / "ray", "--workers", "1", "--ray", cluster.address,
                    env=cluster.env)
    try:
        worker = _wait_for_worker(cluster, "ray::VideoWorker.analyze", run)
        os.kill(worker, signal.SIGKILL)  # mid-video: its analysis takes about 2 s
        out, err = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    assert f"{long_clip}: its worker (pid {worker} on " in err
    assert "was lost; Ray restarts it and tries the video again (attempt 2 of 3)" in err
    assert payload(tmp_path / "ray" / "long.json") == payload(tmp_path / "local.json")
    assert _no_partials(tmp_path / "ray") == []


@needs_ray
@needs_ffmpeg
def test_ctrl_c_cancels_the_cluster_s_tasks_and_leaves_no_partial_output(cluster, long_clip, model_path, tmp_path):
    out = tmp_path / "out"
    run = popen_cli("analyze", long_clip, "--model", model_path, "--hop", "2", "--precision", "float32", "--no-cache",
                    "--out", out, "--annotated", out, "--workers", "1", "--ray", cluster.address, env=cluster.env)
    try:
        _wait_for_worker(cluster, "ray::VideoWorker.analyze", run)
        time.sleep(0.3)
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    assert "interrupted: the cluster's tasks were cancelled (1 running video(s) stopped, 0 not started; nothing " \
           "partial was left); complete outputs: none" in err
    assert list(out.iterdir()) == []
    deadline = time.monotonic() + 20  # the worker is ended with the run, not left holding its CPU
    while _ray_workers(cluster.pids, "ray::VideoWorker") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ray_workers(cluster.pids, "ray::VideoWorker") == []


def test_results_match_only_the_same_model_settings_and_video(tmp_path):
    model = create_model("vivit_t16x2_st", labels=("a", "b"), num_frames=8, image_size=32, depth=1)
    card = model.card
    out = tmp_path / "clip.json"
    job = AnalysisJob(tmp_path / "clip.mp4", out, None, WindowSettings(hop=8), PostProcessing(), top_k=5)
    post = {"smoothing": "none", "mean_frames": 9, "ema_alpha": 0.3, "threshold": 0.0, "class_thresholds": {},
            "hysteresis": 1, "min_bout_s": 0.0}
    data = {"source": "clip.mp4", "model": {"sha256": "abc"}, "windows": [{"top": [["a", 0.6], ["b", 0.4]]}],
            "settings": {"hop": 8, "num_frames": 8, "frame_stride": card.frame_stride, "clip_fps": card.fps,
                         "image_size": 32, "post": post}}
    assert not results_match(job, card, "abc")  # no file yet
    out.write_text(json.dumps(data))
    assert results_match(job, card, "abc")
    assert not results_match(job, card, "another model")
    assert not results_match(AnalysisJob(tmp_path / "other.mp4", out, None, WindowSettings(hop=8)), card, "abc")
    assert not results_match(AnalysisJob(job.video, out, None, WindowSettings(hop=4)), card, "abc")
    assert not results_match(AnalysisJob(job.video, out, None, WindowSettings(hop=8), PostProcessing(hysteresis=3)),
                             card, "abc")
    assert not results_match(AnalysisJob(job.video, out, None, WindowSettings(hop=8), top_k=1), card, "abc")
    assert not results_match(AnalysisJob(job.video, out, None, WindowSettings(hop=8), force=True), card, "abc")
    assert not results_match(AnalysisJob(job.video, out, tmp_path / "clip.mp4.annotated.mp4",
                                         WindowSettings(hop=8)), card, "abc")  # the annotated video is missing
    assert not results_match(job, card, "random-weights")  # random weights differ on every run
    out.write_text("{damaged")
    assert not results_match(job, card, "abc")


def test_without_ray_the_option_says_what_to_install(tmp_path, monkeypatch, capsys):
    from vivit_desktop import cli

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # main() would leave its SIGTERM handler behind
    assert cli.main(["analyze", str(tmp_path / "clip.mp4"), "--out", str(tmp_path), "--ray"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "vivit-desktop analyze: error: --ray needs Ray, which is not installed: pip install 'vivit-desktop[cluster]' "
        "(here and on every node of the cluster)"]
    assert cli.main(["analyze", str(tmp_path / "clip.mp4"), "--workers", "2"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "vivit-desktop analyze: error: --workers, --threads, --cpus-per-task, --gpus-per-task and --retries apply to "
        "--ray runs; add --ray, or leave them out"]
    with pytest.raises(SystemExit) as exit_:  # --ray before the videos would take a folder for an address
        cli.main(["analyze", "--ray", str(tmp_path), "--out", str(tmp_path)])
    assert exit_.value.code == 2
    assert "is not a Ray address: give auto, ray://HOST:PORT or HOST:PORT" in capsys.readouterr().err


@needs_ray
def test_an_unreachable_cluster_is_one_line(tmp_path, model_path, monkeypatch, capsys):
    from vivit_desktop import cli

    monkeypatch.setattr(signal, "signal", lambda *a: None)  # main() would leave its SIGTERM handler behind
    clip = tmp_path / "clip.mp4"
    shutil.copy(model_path, clip)  # never read: the cluster is tried first
    port = _free_port()  # nothing listens there
    code = cli.main(["analyze", str(clip), "--model", str(model_path), "--out", str(tmp_path / "out"), "--ray",
                     f"127.0.0.1:{port}"])
    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"vivit-desktop analyze: error: cannot reach the Ray cluster at 127.0.0.1:{port}: nothing listens on port "
        f"{port} there; is `ray start --head` running there, and is the port open to this machine?")
