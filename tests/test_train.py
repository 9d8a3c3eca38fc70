"""Training: the generator's labels are the camera's motion, the trainer learns and resumes,
evaluation writes its confusion matrix, and bad data gets a clear message."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from vivit_desktop.model import create_model, load_model, save_model
from vivit_desktop.train import ClipFolder, DataError, TrainError, TrainSettings, evaluate, train
from vivit_desktop.train import generator, recipe
from vivit_desktop.train.data import card_seconds
from vivit_desktop.train.generator import CameraPath, LABELS, camera_path, render_clip, render_path

from conftest import tiny_overrides

pytest.importorskip("skimage", reason="the generator draws on scikit-image's bundled images")


def run(*args):
    return subprocess.run([sys.executable, "-m", "vivit_desktop", *args], capture_output=True, text=True, timeout=300)


# -- the generator -------------------------------------------------------------------------------
def test_clips_are_deterministic_and_seeds_differ():
    a, label_a, meta_a = render_clip(13, seed=5)
    b, label_b, meta_b = render_clip(13, seed=5)
    assert np.array_equal(a, b) and label_a == label_b and meta_a == meta_b
    assert a.shape == (16, 64, 64, 3) and a.dtype == np.uint8
    assert not np.array_equal(a, render_clip(13, seed=6)[0])
    assert not np.array_equal(a, render_clip(13, seed=5, split="heldout")[0])


def test_labels_cycle_so_every_run_of_ten_clips_is_balanced():
    assert [render_clip(i, size=16, num_frames=2)[1] for i in range(20)] == list(range(10)) * 2


def test_heldout_clips_never_draw_on_training_images():
    assert not set(generator.NATURAL_TRAIN) & set(generator.NATURAL_HELDOUT)
    sources = {render_clip(i, split="heldout", size=16, num_frames=2)[2]["source"] for i in range(60)}
    natural = {s.split(":")[1] for s in sources if s.startswith("skimage:")}
    assert natural and natural <= set(generator.NATURAL_HELDOUT)
    # procedural textures come from a seed stream of the split's own
    train_clip = render_clip(0, split="train", size=32, num_frames=2)[0]
    assert not np.array_equal(train_clip, render_clip(0, split="heldout", size=32, num_frames=2)[0])


def _gray(frame):
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float64)


def _content_shift(frames):
    """Where the content moved from the first frame to the last (x right, y down), in pixels,
    summed over consecutive frames by phase correlation."""
    total = np.zeros(2)
    for a, b in zip(frames, frames[1:]):
        (dx, dy), _ = cv2.phaseCorrelate(_gray(a), _gray(b))
        total += (dx, dy)
    return total


@pytest.mark.parametrize("label, direction", [("pan left", (1, 0)), ("pan right", (-1, 0)),
                                              ("tilt up", (0, 1)), ("tilt down", (0, -1))])
def test_pans_and_tilts_move_the_content_the_other_way(label, direction):
    """Pan left = the camera turns left, so the content moves RIGHT in pixel space."""
    image = generator.natural_image("astronaut")
    for i in range(3):
        rng = np.random.default_rng(i)
        path = camera_path(label, rng, 16)
        frames = render_path(image, path, 96, rng)
        shift = _content_shift(frames)
        along = shift @ np.array(direction, float)
        across = abs(shift @ np.array(direction[::-1], float))
        assert along > 5 and along > 2 * across, (label, shift)


def _dot_scene(size=400):
    """A grey field with one white dot right of the centre."""
    image = np.full((size, size, 3), 60, np.uint8)
    cv2.circle(image, (size // 2 + 60, size // 2), 9, (255, 255, 255), -1, cv2.LINE_AA)
    return image


def _dot(frame):
    ys, xs = np.nonzero(_gray(frame) > 150)
    return np.array([xs.mean(), ys.mean()]) - (np.array(frame.shape[1::-1]) - 1) / 2  # from the centre


def _fixed_view(path):
    """A camera path pinned to the scene's centre (render_path places it at random otherwise)."""
    class Centre:
        def uniform(self, low, high, *a):
            return (low + high) / 2

    return render_path(_dot_scene(), path, 128, Centre())


def test_zoom_in_makes_the_content_grow_and_zoom_out_shrink():
    n = 8
    zoom_in = _fixed_view(CameraPath(np.zeros((n, 2)), 1.6 ** -np.linspace(0, 1, n), np.zeros(n)))
    zoom_out = _fixed_view(CameraPath(np.zeros((n, 2)), 1.6 ** np.linspace(0, 1, n), np.zeros(n)))
    assert np.linalg.norm(_dot(zoom_in[-1])) > 1.4 * np.linalg.norm(_dot(zoom_in[0]))
    assert np.linalg.norm(_dot(zoom_out[-1])) < 0.75 * np.linalg.norm(_dot(zoom_out[0]))


def test_a_clockwise_roll_turns_the_content_counter_clockwise():
    n = 8
    angles = np.deg2rad(np.linspace(0, 30, n))
    frames = _fixed_view(CameraPath(np.zeros((n, 2)), np.ones(n), angles))
    start, end = _dot(frames[0]), _dot(frames[-1])
    turn = np.degrees(np.arctan2(end[1], end[0]) - np.arctan2(start[1], start[0]))
    # y points down: counter-clockwise on screen is a negative angle
    assert turn == pytest.approx(-30, abs=3)


def _rendered(label, seed=0):
    rng = np.random.default_rng(seed)
    return render_path(generator.natural_image("astronaut"), camera_path(label, rng, 16), 96, rng), LABELS.index(label)


@pytest.mark.parametrize("label, how, becomes", [("pan left", "reverse", "pan right"), ("pan left", "mirror", "pan right"),
                                                 ("pan left", "flip", "pan left"), ("tilt up", "flip", "tilt down"),
                                                 ("tilt down", "reverse", "tilt up"), ("tilt up", "mirror", "tilt up")])
def test_a_mirrored_flipped_or_reversed_clip_gets_the_label_of_the_motion_it_shows(label, how, becomes):
    frames, index = _rendered(label)
    out, new = generator.transform_clip(frames, index, **{how: True})
    assert LABELS[new] == becomes
    # the transformed clip moves like a freshly rendered clip of the label it was given
    assert _content_shift(out) @ _content_shift(_rendered(becomes)[0]) > 0


def test_reversed_zoom_and_mirrored_roll_swap_direction():
    n = 8
    zoom_in = _fixed_view(CameraPath(np.zeros((n, 2)), 1.6 ** -np.linspace(0, 1, n), np.zeros(n)))
    out, label = generator.transform_clip(zoom_in, LABELS.index("zoom in"), reverse=True)
    assert LABELS[label] == "zoom out" and np.linalg.norm(_dot(out[-1])) < np.linalg.norm(_dot(out[0]))
    cw = _fixed_view(CameraPath(np.zeros((n, 2)), np.ones(n), np.deg2rad(np.linspace(0, 30, n))))
    for how in ("mirror", "flip", "reverse"):
        out, label = generator.transform_clip(cw, LABELS.index("rotate clockwise"), **{how: True})
        start, end = _dot(out[0]), _dot(out[-1])
        turn = np.degrees(np.arctan2(end[1], end[0]) - np.arctan2(start[1], start[0]))
        turn = (turn + 180) % 360 - 180
        assert LABELS[label] == "rotate counter-clockwise" and turn > 20, how  # content now turns clockwise


def test_the_pool_starts_with_translations_only_and_is_deterministic():
    from vivit_desktop.train.data import CameraMotionPool

    card = create_model("vivit_t16x2_st", labels=LABELS, **tiny_overrides(image_size=16, num_frames=4, num_classes=10)).card
    pool = CameraMotionPool(card, 30, warmup_items=20)
    early = {pool[k][1] for k in range(20)}
    assert early <= {LABELS.index(name) for name in generator.TRANSLATIONS} and len(early) > 2
    later = {pool[k][1] for k in range(20, 220)}
    assert later == set(range(len(LABELS)))
    a, b = pool[57], CameraMotionPool(card, 30, warmup_items=20)[57]
    assert torch.equal(a[0], b[0]) and a[1] == b[1] and a[0].shape == (4, 3, 16, 16)


def test_shake_has_no_net_motion_and_static_barely_moves():
    rng = np.random.default_rng(0)
    shake = camera_path("shake", rng, 16)
    assert np.allclose(shake.offset[0], shake.offset[-1]) and np.abs(shake.offset).max() > 0.01
    statics = [camera_path("static", rng, 16, 2.0) for _ in range(40)]
    tripod = [p for p in statics if np.all(p.zoom == 1) and np.all(p.angle == 0)]
    handheld = [p for p in statics if not (np.all(p.zoom == 1) and np.all(p.angle == 0))]
    assert tripod and handheld  # on a tripod, or held in a hand
    assert all(np.abs(p.offset).max() <= 0.004 + 1e-9 for p in tripod)
    for p in handheld:  # a sway in every axis, smaller than shake's, with no drift
        assert np.abs(p.offset).max() <= 0.004 + 2 * generator.HANDHELD[0]
        assert np.degrees(np.abs(p.angle).max()) <= generator.HANDHELD[1] + 1e-9
        assert np.abs(p.zoom - 1).max() <= generator.HANDHELD[2] + 1e-9
        assert np.allclose(p.offset[0], p.offset[-1]) and p.angle[0] == pytest.approx(p.angle[-1])


# -- folder datasets and their bad inputs ---------------------------------------------------------
@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """Generated clips written as a folder dataset by the CLI, 3 per class, three classes kept."""
    root = tmp_path_factory.mktemp("data")
    done = run("generate", str(root), "--clips-per-class", "3", "--size", "32", "--frames", "12")
    assert done.returncode == 0, done.stderr
    for label in LABELS:
        if label not in ("pan left", "pan right", "zoom in"):
            for path in (root / label).iterdir():
                path.unlink()
            (root / label).rmdir()
    return root


def _card(labels):
    return create_model("vivit_t16x2_fe", labels=labels, **tiny_overrides(num_classes=len(labels), hidden_size=48,
                                                                         num_heads=2, mlp_dim=96, depth=1,
                                                                         temporal_depth=1, patch_size=8)).card


def test_a_clip_folder_reads_its_classes_and_windows(clip_folder):
    data = ClipFolder(clip_folder, _card(("pan left", "pan right", "zoom in")))
    assert data.labels == ("pan left", "pan right", "zoom in") and len(data) == 9 and not data.skipped
    clip, label = data[0]
    assert clip.shape == (8, 3, 32, 32) and label == 0
    train_part, val_part = data.split(0.34)
    assert len(train_part) == 6 and len(val_part) == 3 and sorted(val_part.targets) == [0, 1, 2]


def test_empty_and_lonely_class_folders_are_refused(tmp_path, clip_folder):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.mp4").write_bytes((clip_folder / "zoom in").joinpath(
        next(iter(sorted((clip_folder / "zoom in").iterdir()))).name).read_bytes())
    with pytest.raises(DataError, match="class folder.* with no clips in .*: b"):
        ClipFolder(tmp_path, _card(("a", "b")))
    (tmp_path / "b").rmdir()
    with pytest.raises(DataError, match="only one class"):
        ClipFolder(tmp_path, _card(("a", "b")))
    done = run("train", str(tmp_path), "--model", "vivit_t16x2_fe", "-o", str(tmp_path / "m"))
    assert done.returncode == 1 and "only one class (a)" in done.stderr and "Traceback" not in done.stderr


def test_unreadable_clips_are_skipped_and_counted(tmp_path, clip_folder):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(clip_folder, root)
    (root / "pan left" / "broken.mp4").write_bytes(b"not a video at all" * 10)
    (root / "zoom in" / "empty.avi").write_bytes(b"")
    data = ClipFolder(root, _card(("pan left", "pan right", "zoom in")))
    assert len(data) == 9 and len(data.skipped) == 2
    assert {p.split("/")[-1] for p, _ in data.skipped} == {"broken.mp4", "empty.avi"}


# -- the trainer -----------------------------------------------------------------------------------
def _tiny(labels, **extra):
    arch = dict(num_classes=len(labels), hidden_size=32, num_heads=2, mlp_dim=64, depth=1, patch_size=8)
    return create_model("vivit_t16x2_fdp", labels=labels, **tiny_overrides(**{**arch, **extra}))


def test_training_lowers_the_loss_and_evaluation_writes_the_confusion_matrix(tmp_path, clip_folder):
    labels = ("pan left", "pan right", "zoom in")
    model = _tiny(labels)
    data = ClipFolder(clip_folder, model.card)
    settings = TrainSettings(steps=40, batch_size=9, lr=3e-3, warmup_steps=4, eval_every=10, workers=0,
                             label_smoothing=0.0)
    report = train(model, data, tmp_path / "run", settings, val_set=data.subset(range(len(data)), False),
                   progress=False)
    assert report.losses[-1] < 0.7 * report.losses[0], report.losses
    assert (tmp_path / "run.safetensors").exists() and (tmp_path / "run.train.pt").exists()
    loaded = load_model(tmp_path / "run")
    assert loaded.card.labels == labels and loaded.card.provenance["training"]["steps"] == 40

    evaluation = evaluate(loaded, data.subset(range(len(data)), False), progress=False)
    assert evaluation.clips == 9 and evaluation.confusion.sum(axis=1).tolist() == [3, 3, 3]
    evaluation.write_json(tmp_path / "cm.json")
    evaluation.write_png(tmp_path / "cm.png")
    saved = json.loads((tmp_path / "cm.json").read_text())
    assert saved["accuracy"] == pytest.approx(evaluation.accuracy) and len(saved["confusion_matrix"]) == 3
    image = cv2.imread(str(tmp_path / "cm.png"))
    assert image is not None and image.shape[0] > 150 and image.shape[1] > 150


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    labels = LABELS
    settings = dict(batch_size=4, lr=1e-3, warmup_steps=2, eval_every=3, workers=0)

    from vivit_desktop.train import CameraMotionClips

    def fresh():
        torch.manual_seed(1)
        model = _tiny(labels, num_frames=4)
        return model, CameraMotionClips(model.card, length=10**6)

    model, data = fresh()
    train(model, data, tmp_path / "whole", TrainSettings(steps=6, **settings), progress=False)
    model, data = fresh()
    train(model, data, tmp_path / "part", TrainSettings(steps=3, **settings), progress=False)
    model, data = fresh()  # a new process would start from scratch too; resume loads the saved state
    train(model, data, tmp_path / "part", TrainSettings(steps=6, **settings), progress=False, resume=True)
    whole, part = load_model(tmp_path / "whole"), load_model(tmp_path / "part")
    for (name, a), b in zip(whole.state_dict().items(), part.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_resuming_into_another_architecture_or_over_a_run_is_refused(tmp_path, clip_folder):
    labels = ("pan left", "pan right", "zoom in")
    data = ClipFolder(clip_folder, _tiny(labels).card)
    settings = TrainSettings(steps=2, batch_size=3, warmup_steps=1, workers=0)
    train(_tiny(labels), data, tmp_path / "run", settings, progress=False)
    with pytest.raises(TrainError, match="already exists; pass --resume"):
        train(_tiny(labels), data, tmp_path / "run", settings, progress=False)
    wider = _tiny(labels, hidden_size=64)
    with pytest.raises(TrainError, match="another architecture: hidden_size 32 \\(now 64\\)"):
        train(wider, data, tmp_path / "run", TrainSettings(steps=4, batch_size=3, workers=0), progress=False,
              resume=True)
    with pytest.raises(TrainError, match="nothing to resume"):
        train(_tiny(labels), data, tmp_path / "other", settings, progress=False, resume=True)
    done = run("train", str(clip_folder), "--model", "vivit_t16x2_fdp", "-o", str(tmp_path / "run"), "--resume",
               "--set", "num_frames=8", "--set", "image_size=32", "--no-progress")
    assert done.returncode == 1 and "another architecture" in done.stderr and "Traceback" not in done.stderr


def test_train_and_evaluate_from_the_command_line(tmp_path, clip_folder):
    out = tmp_path / "cli"
    done = run("train", str(clip_folder), "--model", "vivit_t16x2_fe", "-o", str(out), "--steps", "3",
               "--batch", "4", "--warmup", "1", "--set", "num_frames=8", "--set", "image_size=32",
               "--set", "depth=1", "--set", "temporal_depth=1", "--set", "patch_size=8", "--no-progress",
               "--workers", "0")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cli.confusion.png").exists() and "accuracy" in done.stdout
    card = json.loads((tmp_path / "cli.json").read_text())
    assert card["labels"] == ["pan left", "pan right", "zoom in"] and card["frame_stride"] == 2
    ev = run("evaluate", str(out), str(clip_folder), "-o", str(tmp_path / "ev"), "--no-progress")
    assert ev.returncode == 0, ev.stderr
    assert json.loads((tmp_path / "ev.json").read_text())["clips"] == 9
    again = run("evaluate", str(out), str(clip_folder), "-o", str(tmp_path / "ev"), "--no-progress")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = run("train", str(clip_folder), "--model", "vivit_t16x2_fe", "-o", str(tmp_path / "x"), "--set", "depth=two")
    assert bad.returncode == 1 and "depth takes an int" in bad.stderr


def test_any_variant_trains_from_a_model1_checkpoint(tmp_path, clip_folder):
    size = dict(num_frames=8, image_size=32, depth=1, temporal_depth=1, patch_size=8)
    sets = [arg for k, v in size.items() for arg in ("--set", f"{k}={v}")]
    save_model(create_model("vivit_t16x2_st", num_classes=3, **size), tmp_path / "m1")
    done = run("train", str(clip_folder), "--model", "vivit_t16x2_fdp", "-o", str(tmp_path / "fdp"), "--steps", "2",
               "--batch", "4", "--warmup", "1", *sets, "--init", str(tmp_path / "m1.safetensors"), "--no-progress",
               "--workers", "0")
    assert done.returncode == 0, done.stderr
    provenance = json.loads((tmp_path / "fdp.json").read_text())["provenance"]
    assert provenance["init"].endswith("m1.safetensors") and "tubelet_init" not in provenance
    other = run("train", str(clip_folder), "--model", "vivit_t16x2_fdp", "-o", str(tmp_path / "big"), "--steps", "2",
                *sets, "--set", "image_size=48", "--init", str(tmp_path / "m1.safetensors"), "--no-progress")
    assert other.returncode == 1 and "train Model 1 at the same size" in other.stderr
    assert not (tmp_path / "big.safetensors").exists()


def test_the_recipe_runs_end_to_end_in_its_quick_form(tmp_path):
    """CI's tiny version of the shipped-model recipe: a few steps per variant, the same code."""

    assert recipe.main(["-o", str(tmp_path), "--quick", "--no-progress"]) == 0
    index = json.loads((tmp_path / "default.json").read_text())
    names = {row["name"] for row in index["models"]}
    assert names == {f"camera-motion-{code}" for code in ("fe", "st", "fsa", "fdp")}
    assert index["default"] in names
    variants = set()
    for name in names:
        model = load_model(tmp_path / name)
        figures = model.card.evaluation
        assert model.card.labels == LABELS and model.card.fps == 30.0 and "pan left = the camera" in model.card.description
        assert 0 <= figures["heldout_accuracy"] <= 1 and figures["heldout_clips"] == recipe.QUICK_HELDOUT_CLIPS
        assert figures["cpu_window_ms"] > 0 and (tmp_path / figures["confusion_matrix"]).exists()
        assert model.card.provenance["training"]["seed"] == 0
        assert not (tmp_path / f"{name}.train.pt").exists()  # optimizer state is not shipped
        variants.add(model.card.variant)
    assert len(variants) == 4

    # --retime times the windows again and rewrites the cards and the index, keeping the weights
    slow = tmp_path / "camera-motion-st.json"
    card = json.loads(slow.read_text())
    card["evaluation"]["cpu_window_ms"] = 1e6
    slow.write_text(json.dumps(card))
    before = load_model(tmp_path / "camera-motion-st").state_dict()
    assert recipe.write_index(tmp_path)["default"] != "camera-motion-st"
    assert recipe.main(["-o", str(tmp_path), "--retime"]) == 0
    retimed = load_model(tmp_path / "camera-motion-st")
    assert 0 < retimed.card.evaluation["cpu_window_ms"] < 1e6
    assert retimed.card.evaluation["heldout_accuracy"] == card["evaluation"]["heldout_accuracy"]
    assert all(torch.equal(before[k], v) for k, v in retimed.state_dict().items())
    rows = {r["name"]: r for r in json.loads((tmp_path / "default.json").read_text())["models"]}
    assert rows["camera-motion-st"]["cpu_window_ms"] < 1e6


def test_generate_never_overwrites_clips_without_force(tmp_path):
    args = ("generate", str(tmp_path), "--clips-per-class", "1", "--size", "16", "--frames", "2")
    assert run(*args).returncode == 0
    first = (tmp_path / "static" / "static-00000.mp4").read_bytes()
    again = run(*args)
    assert again.returncode == 1 and "already exists" in again.stderr and "--force" in again.stderr
    assert run(*args, "--force").returncode == 0 and len(list((tmp_path / "static").iterdir())) == 1
    assert first


@pytest.mark.parametrize("frozen, advice", [(False, "pip install scikit-image"),
                                            (True, "train on your own clip folders")])
def test_generated_data_without_scikit_image_says_what_to_do_before_training(monkeypatch, frozen, advice):
    """Without scikit-image (an installed, frozen program leaves it out) asking for generated
    clips fails at once in the main process with advice that fits, not inside a loader worker."""
    import importlib.util

    from vivit_desktop.train import open_dataset
    from vivit_desktop.train.generator import GeneratorError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "skimage" else real(name, *a))
    monkeypatch.setattr("sys.frozen", frozen, raising=False)
    card = create_model("vivit_t16x2_st", labels=LABELS, num_frames=8, image_size=32).card
    with pytest.raises(GeneratorError, match=advice):
        open_dataset("synthetic:camera-motion", card, training=True)


# -- the generator's realism: speeds, perspective, lens, sensor and codec (issue: real footage) --
def test_zooms_and_rolls_come_slow_as_well_as_fast():
    rng = np.random.default_rng(0)
    seconds = 2.0  # what a shipped model's window spans
    zooms = [(1 / camera_path("zoom in", rng, 16, seconds).zoom[-1]) ** (1 / seconds) for _ in range(200)]
    rolls = [abs(np.degrees(camera_path("rotate clockwise", rng, 16, seconds).angle[-1])) / seconds
             for _ in range(200)]
    # per second: a slow zoom lens (1.2x over 3 s) to a fast push-in; a 5-degree roll over 3 s to a fast turn
    assert min(zooms) < 1.2 ** (1 / 3) and max(zooms) > 1.6
    assert min(rolls) < 5 / 3 and max(rolls) > 40
    assert np.median(zooms) < 1.4 and np.median(rolls) < 12  # log-uniform: slow ones are common


def test_a_clip_s_motion_is_its_speed_times_the_seconds_it_spans():
    one = camera_path("zoom in", np.random.default_rng(3), 16, 1.0)
    two = camera_path("zoom in", np.random.default_rng(3), 16, 2.0)
    assert two.zoom[-1] == pytest.approx(one.zoom[-1] ** 2)
    one = camera_path("rotate clockwise", np.random.default_rng(4), 16, 1.0)
    three = camera_path("rotate clockwise", np.random.default_rng(4), 16, 3.0)
    assert three.angle[-1] == pytest.approx(3 * one.angle[-1])
    # the recipe's cards: 16 frames one every 4 at 30 fps span 2 s, and the pool renders them so
    card = recipe.new_model("st").card
    assert card_seconds(card) == pytest.approx(2.0)


def test_a_perspective_pan_turns_the_camera_and_keystones_the_view():
    rng = np.random.default_rng(1)
    paths = [camera_path("pan right", rng, 16) for _ in range(20)]
    turned = [p for p in paths if p.yaw is not None]
    assert turned and len(turned) < len(paths)  # some turn, some slide
    path = turned[0]
    assert path.yaw[-1] > 0 and path.focal > 0
    matrix = generator._view_matrix(path, 15)
    assert abs(matrix[2, 0]) > 1e-3  # a projective term: the far side of the view stretches
    # unturned, the homography is the plain similarity whatever the focal length
    flat = CameraPath(np.zeros((2, 2)), np.array([1.0, 0.8]), np.array([0.0, 0.3]), np.zeros(2), np.zeros(2), 1.2)
    plain = CameraPath(np.zeros((2, 2)), np.array([1.0, 0.8]), np.array([0.0, 0.3]))
    assert np.allclose(generator._view_matrix(flat, 1), generator._view_matrix(plain, 1))


def test_motion_blur_and_rolling_shutter_follow_the_motion():
    image = generator.natural_image("astronaut")
    n = 6
    pan = CameraPath(np.stack([np.linspace(0, 0.6, n), np.zeros(n)], 1), np.ones(n), np.zeros(n))

    class Centre:
        def uniform(self, low, high, *a):
            return (low + high) / 2

    sharp = render_path(image, pan, 96, Centre())
    blurred = render_path(image, pan, 96, Centre(), exposure=0.5)
    grad = lambda f: np.abs(np.diff(_gray(f).astype(float), axis=1)).mean()  # noqa: E731
    assert grad(blurred[3]) < 0.9 * grad(sharp[3])  # smeared along the pan
    rolled = render_path(image, pan, 96, Centre(), readout=0.8)
    # the bottom rows are read later: further along the pan than the top rows
    (top, _), _ = cv2.phaseCorrelate(_gray(sharp[3][:24]).astype(np.float32), _gray(rolled[3][:24]).astype(np.float32))
    (bottom, _), _ = cv2.phaseCorrelate(_gray(sharp[3][-24:]).astype(np.float32), _gray(rolled[3][-24:]).astype(np.float32))
    assert top > 0.5 and bottom < -0.5  # content moves left in a pan right: later rows, further left


def test_h264_round_trip_keeps_the_clip_and_its_size():
    if not generator.h264_available():
        pytest.skip("PyAV without libx264")
    frames = render_clip(3, size=32)[0]
    out = generator.h264(frames, 40)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert 0 < np.abs(out.astype(int) - frames).mean() < 20


def test_wallpaper_photographs_have_licences_and_a_held_out_split():
    assert not set(generator.WALLPAPERS_TRAIN) & set(generator.WALLPAPERS_HELDOUT)
    for name in generator.WALLPAPERS_TRAIN + generator.WALLPAPERS_HELDOUT:
        package = name.split("/")[0]
        assert package in generator.WALLPAPER_PACKAGES and generator.WALLPAPER_PACKAGES[package]["licence"]
    if not generator.wallpaper_names(generator.HELDOUT):
        pytest.skip("the Debian wallpaper packages are not installed")
    sources = {render_clip(i, split="heldout", size=16, num_frames=2)[2]["source"] for i in range(80)}
    papers = {s.split(":", 1)[1] for s in sources if s.startswith("debian:")}
    assert papers and papers <= set(generator.WALLPAPERS_HELDOUT)


def test_the_real_footage_check_films_each_motion_the_way_its_label_says():
    """scripts/real_footage_check.py labels its made clips by construction: check the content
    moves as the generator's conventions say (pan right: content left; zoom in: grows; a
    clockwise roll: content turns counter-clockwise; tilt down: content up)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "real_footage_check", Path(__file__).resolve().parents[1] / "scripts" / "real_footage_check.py")
    check = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = check  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(check)
    finally:
        del sys.modules[spec.name]
    scene = np.full((check.SHORT, check.SHORT, 3), 60, np.uint8)
    cv2.circle(scene, (check.SHORT // 2 + 40, check.SHORT // 2), 12, (255, 255, 255), -1, cv2.LINE_AA)
    motions = {m.label + m.speed: m for m in check.MOTIONS}

    def dots(name, a=0.0, b=1.0):  # the dot's place at two points of the clip
        frames = check.render(scene, motions[name])
        return _dot(frames[round(a * (len(frames) - 1))]), _dot(frames[round(b * (len(frames) - 1))])

    start, end = dots("pan right", 0.4, 0.6)
    assert end[0] < start[0] - 20
    start, end = dots("tilt down", 0.4, 0.6)
    assert end[1] < start[1] - 20
    start, end = dots("zoom infast")
    assert np.linalg.norm(end) > 2 * np.linalg.norm(start)
    start, end = dots("rotate clockwisemedium")
    turn = np.degrees(np.arctan2(end[1], end[0]) - np.arctan2(start[1], start[0]))
    assert turn == pytest.approx(-20, abs=2)  # y down: counter-clockwise on screen is negative


def test_a_model_1_at_one_input_size_starts_another_seeing_the_same_picture(tmp_path):
    """resize_tubelet: a 32x32/patch-8 Model 1 moved to 64x64/patch-16 reads a 2x-upscaled clip
    as it read the clip (the shipped models' --start); without the area factor it would not."""
    from vivit_desktop.model.importers import resize_tubelet

    small = create_model("vivit_t16x2_st", labels=LABELS, init="timm", **{**recipe.ARCH, "image_size": 32,
                                                                          "patch_size": 8}).eval()
    big = create_model("vivit_t16x2_st", labels=LABELS, **{**recipe.ARCH, "image_size": 64, "patch_size": 16}).eval()
    big.load_state_dict(resize_tubelet(small.state_dict(), 16))
    smooth = lambda x, side: torch.nn.functional.interpolate(x, size=(side, side), mode="bilinear",  # noqa: E731
                                                             align_corners=False)
    coarse = torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    clips = smooth(coarse, 32).reshape(4, 16, 3, 32, 32)
    upscaled = smooth(clips.reshape(64, 3, 32, 32), 64).reshape(4, 16, 3, 64, 64)
    with torch.inference_mode():
        a, b = small(clips), big(upscaled)
    assert torch.allclose(a, b, atol=0.05 * a.abs().max())
    unscaled = {**resize_tubelet(small.state_dict(), 16)}
    unscaled["patch_embed.proj.weight"] = unscaled["patch_embed.proj.weight"] * 4
    big.load_state_dict(unscaled)
    with torch.inference_mode():
        assert not torch.allclose(a, big(upscaled), atol=0.05 * a.abs().max())

    # the recipe's --start: Model 1 starts from those weights, and its card says so
    start = tmp_path / "start"
    save_model(small, start)
    out = tmp_path / "out"
    assert recipe.main(["-o", str(out), "--quick", "--no-progress", "--variants", "st",
                        "--start", str(start.with_suffix(".safetensors"))]) == 0
    card = load_model(out / "camera-motion-st").card
    assert card.image_size == 64 and "start.safetensors" in card.provenance["init"]
    assert "resized to 16 px" in card.provenance["init"] and card.provenance["curriculum"] == "none"
    assert recipe.main(["-o", str(out), "--quick", "--start", str(tmp_path / "missing.safetensors")]) == 2


def test_the_sample_for_a_longer_window_lasts_longer_and_moves_the_camera_as_far():
    from vivit_desktop.train.sample import sample_path

    short, short_stretches = sample_path(frame_stride=2)
    long, long_stretches = sample_path(frame_stride=4)
    assert [s["label"] for s in short_stretches] == [s["label"] for s in long_stretches]
    assert [s["end_time"] - s["start_time"] for s in long_stretches] == [4.0] * len(long_stretches)
    assert len(long.zoom) == 2 * len(short.zoom)
    for a, b in zip(short_stretches, long_stretches):  # each stretch ends where it did
        i, j = a["end_frame"], b["end_frame"]
        assert np.allclose(short.offset[i], long.offset[j], atol=1e-3)
        assert short.zoom[i] == pytest.approx(long.zoom[j], rel=1e-3)
        assert short.angle[i] == pytest.approx(long.angle[j], abs=1e-3)
