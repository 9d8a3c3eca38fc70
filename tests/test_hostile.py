"""Hostile input, as issue 18 ran it: full disks, outputs that are inputs, name collisions,
signals, broken caches, cards and configs, bad arguments, slow and damaged sources. Every case
asserts what a user sees: the exit code, one line on stderr, no traceback, no file changed that
should not be, no temporary left. Most run the CLI in-process (`cli.main`) to stay fast; the
signal and full-disk cases run it as a real process."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vivit_desktop import cli
from vivit_desktop.model import create_model, save_model

from test_engine import make_clip

LABELS = ("left", "right", "still")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    model = create_model("vivit_t16x2_st", labels=LABELS, num_frames=8, image_size=32, depth=1, hidden_size=32,
                         num_heads=2, mlp_dim=64)
    model.card = model.card.replace(name="tiny", frame_stride=1)
    return save_model(model, tmp_path_factory.mktemp("m") / "tiny")[0]


def run_main(*args, capsys):
    """The CLI in this process: (exit code, stdout, stderr)."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        code = cli.main([str(a) for a in args])
    finally:
        signal.signal(signal.SIGTERM, previous)
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "vivit_desktop", *map(str, args)], capture_output=True, text=True,
                          timeout=180, **kwargs)


def one_clear_line(err: str) -> bool:
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning:")]
    return len(lines) == 1 and "Traceback" not in err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".part" in p.name)


# -- never destroy or corrupt a user's file -------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KB tmpfs (needs root; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root: " + done.stderr.decode(errors="replace").strip())
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_annotated_export_on_a_full_disk_fails_and_keeps_the_earlier_file(tmp_path, tiny_disk, weights):
    clip = make_clip(tmp_path / "clip.avi", frames=120, size=(120, 160))
    good = tiny_disk / "keep.mp4"
    good.write_bytes(b"the earlier good export")  # 23 bytes: the disk has room for it, not for a video
    done = run_process("analyze", clip, "--model", weights, "--annotated", good, "--force", "--no-progress")
    assert done.returncode == 1, done.stdout
    assert "keep.mp4" in done.stderr and "Traceback" not in done.stderr
    assert good.read_bytes() == b"the earlier good export"
    assert leftovers(tiny_disk) == []


def test_a_csv_set_on_a_full_disk_is_left_as_it_was(tmp_path, tiny_disk, weights):
    clip = make_clip(tmp_path / "clip.avi", frames=200)
    out = tiny_disk / "r.csv"
    old = {name: f"old {name}\n" for name in ("r.csv", "r.windows.csv", "r.segments.csv")}
    for name, text in old.items():
        (tiny_disk / name).write_text(text)
    filler = tiny_disk / "filler"  # leave a few KB: one new file fits, not three
    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    filler.write_bytes(b"x" * max(0, free - 12 * 1024))
    done = run_process("analyze", clip, "--model", weights, "--out", out, "--force", "--no-progress")
    assert done.returncode == 1
    assert {name: (tiny_disk / name).read_text() for name in old} == old
    assert leftovers(tiny_disk) == []


def test_no_output_may_be_an_input(tmp_path, weights, capsys):
    clip = make_clip(tmp_path / "clip.mp4", frames=30, fourcc="mp4v")
    before = clip.read_bytes()
    code, _, err = run_main("analyze", clip, "--model", weights, "--annotated", clip, "--force", "--no-progress",
                            capsys=capsys)
    assert code == 1 and "never replaces an input" in err and one_clear_line(err)
    link = tmp_path / "link.mp4"
    link.symlink_to(clip)
    code, _, err = run_main("analyze", clip, "--model", weights, "--annotated", link, "--force", "--no-progress",
                            capsys=capsys)
    assert code == 1 and "never replaces an input" in err
    assert clip.read_bytes() == before


def test_videos_sharing_a_name_get_their_own_results(tmp_path, weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "clip.avi", frames=20)
    make_clip(folder / "clip.mp4", frames=24, fourcc="mp4v")
    out = tmp_path / "out"
    code, _, err = run_main("analyze", folder, "--model", weights, "--out", out, "--no-progress", capsys=capsys)
    assert code == 0, err
    written = sorted(p.name for p in out.iterdir())
    assert written == ["clip.avi.json", "clip.mp4.json"]
    counts = {json.loads((out / n).read_text())["frame_count"] for n in written}
    assert counts == {20, 24}


def test_sigterm_during_an_annotated_export_leaves_no_temporary(tmp_path, weights):
    clip = make_clip(tmp_path / "clip.avi", frames=1500, size=(240, 320))
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "vivit_desktop", "analyze", str(clip), "--model", str(weights),
                                "--annotated", str(out / "a.mp4"), "--no-progress", "--no-cache"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(".part" in p.name for p in out.iterdir()):
        time.sleep(0.05)
    assert any(".part" in p.name for p in out.iterdir()), "the export never started"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_temporaries_of_a_killed_run_are_swept_by_the_next(tmp_path, weights, capsys):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".clip.json.vivit-999999999-abc123.part.json"  # no such process
    stale.write_text("{")
    mine = out / f".x.json.vivit-{os.getpid()}-abc123.part.json"  # a live process's: kept
    mine.write_text("{")
    foreign = out / ".notes.part.json"  # another program's naming: never touched
    foreign.write_text("{")
    clip = make_clip(tmp_path / "clip.avi", frames=20)
    code, _, err = run_main("analyze", clip, "--model", weights, "--out", out, "--no-progress", capsys=capsys)
    assert code == 0, err
    assert not stale.exists() and mine.exists() and foreign.exists()


# -- never return a silently wrong or partial result -------------------------------------------------

def test_huge_weights_fail_the_run_and_nothing_is_cached_or_written(tmp_path, capsys):
    model = create_model("vivit_t16x2_st", labels=LABELS, num_frames=8, image_size=32, depth=1, hidden_size=32,
                         num_heads=2, mlp_dim=64)
    with torch.no_grad():
        model.head.weight.fill_(3e38)  # finite weights, infinite logits
    path = save_model(model, tmp_path / "huge")[0]
    clip = make_clip(tmp_path / "clip.avi", frames=20)
    out = tmp_path / "r.json"
    code, _, err = run_main("analyze", clip, "--model", path, "--out", out, "--no-progress", capsys=capsys)
    assert code == 1 and "NaN or infinite" in err and one_clear_line(err)
    assert not out.exists()
    cache = Path(os.environ["VIVIT_DESKTOP_CACHE"])
    assert not cache.exists() or not list(cache.glob("*.json"))


def test_results_name_the_file_analysed_even_from_the_cache(tmp_path, weights, capsys):
    first = make_clip(tmp_path / "gen5s.avi", frames=20)
    again = tmp_path / "holiday.avi"
    shutil.copy(first, again)
    assert run_main("analyze", first, "--model", weights, "--no-progress", capsys=capsys)[0] == 0
    code, out_text, _ = run_main("analyze", again, "--model", weights, "--out", tmp_path / "h.json", "--no-progress",
                                 capsys=capsys)
    assert code == 0 and "from the cache" in out_text
    assert json.loads((tmp_path / "h.json").read_text())["source"] == "holiday.avi"


def test_a_slow_video_has_every_frame_labelled_or_the_summary_says_not(tmp_path, weights, capsys):
    clip = make_clip(tmp_path / "slow.avi", frames=12, fps=1.0)
    code, out_text, err = run_main("analyze", clip, "--model", weights, "--out", tmp_path / "s.json", "--no-progress",
                                   capsys=capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "s.json").read_text())
    unlabelled = [f["frame"] for f in data["frames"] if f["label"] is None]
    assert unlabelled == [] or f"{len(unlabelled)} of" in out_text


def test_a_truncated_file_is_reported_as_partial(tmp_path, weights, capsys):
    clip = make_clip(tmp_path / "full.avi", frames=200)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    code, out_text, err = run_main("analyze", cut, "--model", weights, "--out", tmp_path / "c.json", "--no-progress",
                                   capsys=capsys)
    data = json.loads((tmp_path / "c.json").read_text())
    assert code == 0 and "decoding stopped" in out_text
    assert any("decoding stopped" in w for w in data["warnings"])


def test_an_mp4_cut_off_before_its_index_is_called_incomplete_not_unreadable(tmp_path, weights, capsys):
    """An MP4 whose recording was interrupted has no 'moov' box: converting cannot help, so the
    message says the file is incomplete, not to convert it."""
    import av

    whole = tmp_path / "whole.mp4"
    with av.open(str(whole), "w") as out:  # PyAV's MP4 muxer writes the index last, as cameras do
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(50):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 5, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    code, _, err = run_main("analyze", cut, "--model", weights, "--out", tmp_path / "c.json", "--no-progress",
                            capsys=capsys)
    assert code == 1 and "incomplete" in err and "'moov'" in err and "convert it" not in err
    code, _, err = run_main("analyze", whole, "--model", weights, "--out", tmp_path / "w.json", "--no-progress",
                            capsys=capsys)
    assert code == 0, err  # the whole file opens


# -- one clear line, never a traceback, and the other inputs still run ------------------------------

BAD_CACHES = ["[1, 2, 3]", "null", "\"text\"", "[" * 5000 + "]" * 5000, "{\"schema\": 5}"]


@pytest.mark.parametrize("damage", ["list", "null", "string", "deep", "schema", "fields", "frame", "probs"])
def test_a_cache_of_the_wrong_shape_is_rebuilt(tmp_path, weights, capsys, damage):
    clip = make_clip(tmp_path / "clip.avi", frames=20)
    assert run_main("analyze", clip, "--model", weights, "--no-progress", capsys=capsys)[0] == 0
    [entry] = Path(os.environ["VIVIT_DESKTOP_CACHE"]).glob("*.json")
    data = json.loads(entry.read_text())
    if damage in ("list", "null", "string", "deep", "schema"):
        entry.write_text(dict(zip(["list", "null", "string", "deep", "schema"], BAD_CACHES))[damage])
    else:
        if damage == "fields":
            data["windows"][0]["frames"] = "abc"
        elif damage == "frame":
            data["frame_count"] = 10**12
        else:
            data["windows"][0]["probs"] = [None] * len(LABELS)
        entry.write_text(json.dumps(data))
    code, out_text, err = run_main("analyze", clip, "--model", weights, "--no-progress", capsys=capsys)
    assert code == 0 and "from the cache" not in out_text and "Traceback" not in err
    assert json.loads(entry.read_text())["frame_count"] == 20  # rebuilt


@pytest.mark.parametrize("change, message", [
    ({"mean": [None, None, None]}, "mean must be a list"),
    ({"std": [[1], [2], [3]]}, "std must be a list"),
    ({"resize_shorter": 50000}, "resize_shorter must be"),
    ({"labels": [1, 2, 3]}, "labels must be strings"),
    ({"frame_stride": "2"}, "frame_stride"),
    ("deep", "nested too deeply"),
])
def test_bad_cards_are_one_line_naming_the_field(tmp_path, weights, capsys, change, message):
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(weights, folder / "bad.safetensors")
    card = json.loads(weights.with_suffix(".json").read_text())
    text = "[" * 100000 + "]" * 100000 if change == "deep" else json.dumps(card | change)
    (folder / "bad.json").write_text(text)
    clip = make_clip(tmp_path / "clip.avi", frames=20)
    for args in (("info", folder / "bad.json"), ("analyze", clip, "--model", folder / "bad.safetensors",
                                                 "--no-progress")):
        code, _, err = run_main(*args, capsys=capsys)
        assert code == 1 and message in err and one_clear_line(err), (args, err)


def _hf_folder(folder: Path, config, preprocessor=None) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    if preprocessor is not None:
        (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    from safetensors.torch import save_file

    save_file({"vivit.embeddings.cls_token": torch.zeros(1, 1, 8)}, str(folder / "model.safetensors"))
    return folder


@pytest.mark.parametrize("config, preprocessor, message", [
    ([1, 2, 3], None, "not an object"),
    ({"model_type": "vivit", "id2label": "cats"}, None, "id2label"),
    ({"model_type": "vivit", "hidden_size": "big"}, None, "hidden_size"),
    ({"model_type": "vivit", "tubelet_size": [2, [16], 16]}, None, "tubelet_size"),
    ({"model_type": "vivit"}, {"image_mean": None}, "image_mean"),
    ({"model_type": "vivit"}, {"size": {"shortest_edge": 50000}}, "shortest_edge"),
    ({"model_type": "vivit"}, "just text", "not an object"),
])
def test_bad_hugging_face_folders_are_one_line(tmp_path, capsys, config, preprocessor, message):
    folder = _hf_folder(tmp_path / "hf", config, preprocessor)
    code, _, err = run_main("import", folder, "-o", tmp_path / "out", capsys=capsys)
    assert code == 1 and message in err and one_clear_line(err), err
    assert not list(tmp_path.glob("out*"))


def test_an_unreadable_folder_fails_alone(tmp_path, weights, capsys, monkeypatch):
    good = tmp_path / "good"
    good.mkdir()
    make_clip(good / "a.avi", frames=20)
    locked = tmp_path / "locked"
    locked.mkdir()
    real = Path.iterdir

    def iterdir(self):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)  # root reads any folder: simulate the refusal
    out = tmp_path / "out"
    code, _, err = run_main("analyze", locked, good, "--model", weights, "--out", out, "--no-progress", capsys=capsys)
    assert code == 1 and "locked: cannot list the folder" in err and one_clear_line(err)
    assert (out / "a.json").exists()


@pytest.mark.parametrize("args, message", [
    (("analyze", "x.mp4", "--min-bout", "inf"), "not a finite number"),
    (("analyze", "x.mp4", "--min-bout", "nan"), "not a finite number"),
    (("analyze", "x.mp4", "--hop", "0"), "at least 1"),
    (("models", "--stats", "--frames", "100000", "--image-size", "100000"), "from 1 to 1024"),
    (("live", "0", "--seconds", "-1"), "more than 0"),
])
def test_arguments_are_checked_when_parsed(capsys, args, message):
    with pytest.raises(SystemExit) as caught:
        run_main(*args, capsys=capsys)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_messages_name_the_real_cause(tmp_path, weights, capsys):
    clip = make_clip(tmp_path / "clip.avi", frames=20)
    file_as_data = tmp_path / "notes.txt"
    file_as_data.write_text("x")
    code, _, err = run_main("train", file_as_data, "--model", "vivit_t16x2_st", "-o", tmp_path / "t", capsys=capsys)
    assert code == 1 and "is a file, not a folder" in err
    code, _, err = run_main("analyze", clip, clip, "--model", weights, "--out", tmp_path / "one.json",
                            "--no-progress", capsys=capsys)
    assert code == 1 and "names one file but several videos" in err and "Errno" not in err
    bad_state = tmp_path / "run.train.pt"
    bad_state.write_bytes(b"PK\x03\x04 not really a zip")
    from vivit_desktop.model.checkpoint import CheckpointError, read_state_dict

    with pytest.raises(CheckpointError) as caught:
        read_state_dict(bad_state)
    assert "weights_only=False" not in str(caught.value)
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(loop)
    code, _, err = run_main("analyze", loop, "--model", weights, "--no-progress", capsys=capsys)
    assert code == 1 and "Traceback" not in err and "loop" in err


# -- a fuzz that stays: seeded damage of real files through every reader ------------------------------

def _corrupt(data: bytes, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    raw = bytearray(data)
    kind = seed % 3
    if kind == 0:  # flipped bytes everywhere
        for i in rng.integers(0, len(raw), max(1, len(raw) // 200)):
            raw[i] = int(rng.integers(0, 256))
    elif kind == 1:  # truncated
        raw = raw[: int(rng.integers(1, len(raw)))]
    else:  # a stretch overwritten
        start = int(rng.integers(0, len(raw)))
        raw[start:start + 4096] = bytes(rng.integers(0, 256, min(4096, len(raw) - start), dtype=np.uint8))
    return bytes(raw)


@pytest.mark.parametrize("seed", range(6))
def test_fuzzed_videos_cards_and_checkpoints(tmp_path, weights, capsys, seed):
    clip = make_clip(tmp_path / "clip.avi", frames=30)
    bad_clip = tmp_path / f"bad{seed}.avi"
    bad_clip.write_bytes(_corrupt(clip.read_bytes(), seed))
    out = tmp_path / "out"
    code, _, err = run_main("analyze", bad_clip, clip, "--model", weights, "--out", out, "--no-progress",
                            capsys=capsys)
    assert code in (0, 1) and "Traceback" not in err
    assert (out / "clip.json").exists()  # the good input still ran
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "w.safetensors").write_bytes(_corrupt(weights.read_bytes(), seed))
    (folder / "w.json").write_bytes(_corrupt(weights.with_suffix(".json").read_bytes(), seed + 1))
    code, _, err = run_main("analyze", clip, "--model", folder / "w.safetensors", "--no-progress", capsys=capsys)
    assert code in (0, 1) and "Traceback" not in err and (code == 0 or one_clear_line(err))
    assert leftovers(tmp_path) == []


# -- live sources end when asked --------------------------------------------------------------------

@pytest.fixture
def stalled_stream():
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("stream_server.py")), "--stall-after", "30"],
                              stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline())
    yield f"http://127.0.0.1:{port}/mjpeg"
    server.kill()
    server.wait()
    server.stdout.close()


def _live_elapsed(err: str) -> float:
    line = next(line for line in err.splitlines() if " frames in " in line)
    return float(line.split(" frames in ")[1].split(" s")[0])


def test_live_on_a_stalled_stream_ends_when_its_seconds_are_up(stalled_stream, weights):
    done = run_process("live", stalled_stream, "--model", weights, "--seconds", "3")
    assert "Traceback" not in done.stderr
    assert 2.5 <= _live_elapsed(done.stderr) <= 4.0  # it ran 15 s: the stalled read held the clock


def test_ctrl_c_ends_live_at_once_even_on_a_stalled_stream(stalled_stream, weights):
    process = subprocess.Popen([sys.executable, "-m", "vivit_desktop", "live", stalled_stream, "--model", str(weights)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    lines = []
    while time.monotonic() < deadline and len(lines) < 2:  # predictions are coming: the stream is open
        lines.append(process.stdout.readline())
    time.sleep(2.0)  # the stream has stalled by now (30 frames at 25 fps)
    asked = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert time.monotonic() - asked < 1.5  # it took 8.5 s
