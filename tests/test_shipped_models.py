"""The shipped camera-motion models: they load by name and by path, their cards carry the
recipe's figures, default.json names the best accuracy per millisecond among those accurate
enough, the README names the default, and the default model reads the sample clip's camera
motions right."""

import json
import subprocess
import sys

import pytest

from vivit_desktop import catalog
from vivit_desktop.model import load_model
from vivit_desktop.model.checkpoint import find_checkpoints
from vivit_desktop.model.config import FACTORISED_DOT_PRODUCT, FACTORISED_ENCODER, FACTORISED_SELF_ATTENTION, \
    SPATIO_TEMPORAL
from vivit_desktop.paths import app_root, shipped_models_dir
from vivit_desktop.ui.selftest import MAX_MISREAD, sample_disagreements
from vivit_desktop.train import recipe
from vivit_desktop.train.generator import LABELS

ROOT = app_root()
MODELS = shipped_models_dir()


def shipped():
    return [(path, card) for path, card in find_checkpoints(MODELS)]


def test_four_models_one_per_variant_load_by_name_and_path():
    found = shipped()
    assert {card.variant for _, card in found} == {SPATIO_TEMPORAL, FACTORISED_ENCODER, FACTORISED_SELF_ATTENTION,
                                                    FACTORISED_DOT_PRODUCT}
    for path, card in found:
        assert catalog.resolve(card.name) == path
        model = load_model(path)
        assert model.variant == card.variant and tuple(model.card.labels) == LABELS
        assert "pan left = the camera turns left, so the content moves right" in card.description


def test_cards_carry_the_recipe_and_its_figures():
    for path, card in shipped():
        figures = card.evaluation
        assert figures["heldout_clips"] == 1000
        assert set(figures["per_class_accuracy"]) == set(LABELS)
        assert 0 < figures["cpu_window_ms"] <= 50
        assert (MODELS / figures["confusion_matrix"]).read_bytes()[:4] == b"\x89PNG"
        confusion = json.loads((MODELS / figures["confusion_matrix_json"]).read_text())
        matrix = confusion["confusion_matrix"]
        assert sum(map(sum, matrix)) == 1000  # the card's figure is the matrix's diagonal
        assert figures["heldout_accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(len(LABELS))) / 1000)
        assert card.provenance["source"] == "python -m vivit_desktop.train.recipe"
        assert card.provenance["training"]["seed"] == 0 and "curriculum" in card.provenance


def test_default_is_the_best_accuracy_per_millisecond_and_the_readme_names_it():
    index = json.loads((MODELS / "default.json").read_text())
    cards = {card.name: card.evaluation for _, card in shipped()}
    accurate = [n for n in cards if cards[n]["heldout_accuracy"] >= recipe.DEFAULT_FLOOR]
    assert accurate, "no shipped model reaches the held-out accuracy a default needs"
    best = max(accurate, key=lambda n: cards[n]["heldout_accuracy"] / cards[n]["cpu_window_ms"])
    assert index["default"] == best == catalog.default_model_name()
    assert catalog.resolve(None) == MODELS / f"{best}.safetensors"
    assert f"`{best}`" in (ROOT / "README.md").read_text()


def test_analyze_without_a_model_uses_the_default_and_reads_the_motions_of_the_sample_clip(tmp_path):
    out = tmp_path / "sample.json"
    done = subprocess.run([sys.executable, "-m", "vivit_desktop", "analyze", str(ROOT / "resources" / "sample.mp4"),
                           "--out", str(out), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["model"]["name"] == catalog.default_model_name()
    sample = json.loads((ROOT / "resources" / "sample.json").read_text())
    labels = [frame["label"] or "" for frame in result["frames"]]
    wrong = sample_disagreements(labels, sample["motions"])
    assert len(wrong) <= MAX_MISREAD, wrong
    assert not [w for w in wrong if not w.startswith("zoom")], wrong  # every pan, tilt, roll, static, shake
    # the judge can fail: the same labels shifted by one stretch are wrong everywhere
    stretch = sample["motions"][0]["end_frame"] + 1
    shifted = labels[stretch:] + labels[:stretch]
    assert len(sample_disagreements(shifted, sample["motions"])) >= 10


def test_an_unknown_model_name_says_what_to_do():
    with pytest.raises(ValueError, match="vivit-desktop models"):
        catalog.resolve("no-such-model")
    assert catalog.family_of("camera-motion-fsa") == "camera-motion"
