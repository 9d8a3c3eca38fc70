"""Precision on the CPU: int8 (dynamic quantisation of the Linear layers) against float32, the
tubelet cache and the attention read-out in int8, `auto`'s measured choice, the CLI's
--precision and the model's default hop.

Tolerance: on the shipped models over the sample clip, int8's probabilities stay within 0.06 of
float32's (the largest seen is 0.045, the median window's largest difference about 0.001), its
attention within 0.02, and the top label agrees on at least 95 % of windows.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_overrides
from vivit_desktop.engine import predictor as predictor_module
from vivit_desktop.engine.analysis import WindowSettings, analyze_source
from vivit_desktop.engine.predictor import Predictor, quantize_int8
from vivit_desktop.engine.sources import open_source
from vivit_desktop.engine.windows import DEFAULT_HOP, LARGE_MODEL_HOP, default_hop
from vivit_desktop.model import create_model, load_model

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample.mp4"
PROB_TOL, ATTENTION_TOL, TOP1_AGREEMENT = 0.06, 0.02, 0.95
VARIANTS = ("st", "fe", "fsa", "fdp")


def shipped(variant: str):
    return load_model(ROOT / "models" / f"camera-motion-{variant}.safetensors")


def analyse(predictor: Predictor, hop: int = 16, batch_size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, attention) of every window of the sample clip (test_cuda uses it too)."""
    with open_source(SAMPLE) as source:
        result = analyze_source(source, predictor, WindowSettings(hop=hop, batch_size=batch_size))
    return np.stack([w.probs for w in result.windows]), np.stack([w.attention for w in result.windows])


def assert_close(a, b) -> None:
    (probs_a, att_a), (probs_b, att_b) = a, b
    assert np.abs(probs_a - probs_b).max() <= PROB_TOL
    assert np.abs(att_a - att_b).max() <= ATTENTION_TOL
    assert (probs_a.argmax(1) == probs_b.argmax(1)).mean() >= TOP1_AGREEMENT


def assert_distributions(probs: np.ndarray, attention: np.ndarray) -> None:
    assert np.isfinite(probs).all() and np.isfinite(attention).all()
    assert np.allclose(probs.sum(1), 1, atol=1e-5) and np.allclose(attention.sum(1), 1, atol=1e-5)
    assert (attention >= 0).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_int8_stays_within_tolerance_of_float32_on_the_shipped_models(variant):
    model = shipped(variant)
    float32 = analyse(Predictor(model, device="cpu", precision="float32"))
    int8_predictor = Predictor(model, device="cpu", precision="int8")
    assert int8_predictor.precision_used == "int8"
    int8 = analyse(int8_predictor)
    assert_distributions(*int8)
    assert_close(int8, float32)


def test_int8_keeps_model2s_tubelet_cache_working():
    model = shipped("fe")
    reference = analyse(Predictor(model, device="cpu", precision="float32", reuse=False), hop=4)
    uncached = Predictor(model, device="cpu", precision="int8", reuse=False)
    cached = Predictor(model, device="cpu", precision="int8", reuse=True)
    assert uncached.cache is None and cached.cache is not None
    with_cache, without = analyse(cached, hop=4), analyse(uncached, hop=4)
    assert_distributions(*with_cache)
    # activations are quantised per call, so which tubelets share a batch moves int8 results a
    # little: both stay within the stated tolerance of float32 and of each other
    assert_close(with_cache, reference)
    assert_close(with_cache, without)
    assert 0 < cached.spatial_passes < uncached.spatial_passes / 4


def test_int8_quantises_the_linear_layers_but_not_the_head_and_leaves_the_model_alone():
    model = create_model("vivit_t16x2_fe", **tiny_overrides())
    quantized = quantize_int8(model)
    assert type(model.backbone.spatial.blocks[0].attn.qkv) is torch.nn.Linear  # the caller's model is untouched
    kinds = {name: module._get_name() for name, module in quantized.named_modules()}  # quantised: "Dynamic..."
    assert kinds["head"] == "Linear"
    linear = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n != "head"]
    assert linear and all(kinds[n] == "DynamicQuantizedLinear" for n in linear)
    assert quantized.card == model.card


@pytest.mark.parametrize("name", ["vivit_t16x2_st", "vivit_t16x2_fe", "vivit_t16x2_fsa", "vivit_t16x2_fdp"])
def test_int8_attention_readout_and_probabilities_per_head(name):
    model = create_model(name, **tiny_overrides(num_classes=5))
    model.card = model.card.replace(labels=("a", "b", "x", "y", "z"), heads=(("verb", 0, 2), ("noun", 2, 3)))
    predictor = Predictor(model, device="cpu", precision="int8")
    clips = torch.randn(3, 8, 3, 32, 32).numpy()
    out = predictor.predict(clips)
    assert out.probs.shape == (3, 5) and out.attention.shape == (3, 8)
    assert np.allclose(out.probs[:, :2].sum(1), 1, atol=1e-5) and np.allclose(out.probs[:, 2:].sum(1), 1, atol=1e-5)
    assert np.allclose(out.attention.sum(1), 1, atol=1e-5) and (out.attention >= 0).all()
    with torch.inference_mode():  # the read-out path agrees with the fast path in int8 too
        x, model = torch.from_numpy(clips), predictor.model
        fast, slow = model.probabilities(model(x)), model.probabilities(model.forward_with_attention(x)[0])
    # (not exactly: the read-out's last layer runs only the CLS row, and activations are
    # quantised per call, so its scales differ a little)
    assert (fast - slow).abs().max() <= PROB_TOL


def test_auto_keeps_float32_for_small_models(monkeypatch):
    monkeypatch.setattr(predictor_module, "_AUTO_DECISIONS", {})
    monkeypatch.setattr(predictor_module, "_time_passes", fake_clock(1.0, 0.1))  # never asked
    predictor = Predictor(shipped("st"), device="cpu", precision="auto")
    assert predictor.precision_used == "float32" and predictor.precision_note.startswith("auto: width 128")
    monkeypatch.setattr(predictor_module, "_time_passes", fake_clock(0.01, 0.001))
    small_but_wide = Predictor(small_wide_model(), device="cpu", precision="auto")
    assert small_but_wide.precision_used == "float32" and "too little for int8" in small_but_wide.precision_note


def small_wide_model(name: str = "vivit_s16x2_fe"):
    """ViViT-S width (wide enough for `auto` to measure) at a tiny input and depth."""
    return create_model(name, **tiny_overrides(depth=1))


def fake_clock(float_s: float, int8_s: float):
    """Stand-in for _time_passes: float32 runs first, int8 second."""
    def time_passes(runs, times, rounds, budget_s=3.0):
        for i, _ in enumerate(runs):
            times[i].extend([(float_s, int8_s)[i]] * 3)
    return time_passes


def test_auto_takes_int8_where_it_measures_faster_and_remembers(monkeypatch):
    monkeypatch.setattr(predictor_module, "_AUTO_DECISIONS", {})
    monkeypatch.setattr(predictor_module, "_time_passes", fake_clock(1.0, 0.5))
    model = small_wide_model()
    first = Predictor(model, device="cpu", precision="auto")
    assert first.precision_used == "int8" and "0.50x" in first.precision_note and "tubelet" in first.precision_note
    assert first.model.backbone.spatial.blocks[0].attn.qkv._get_name() == "DynamicQuantizedLinear"
    monkeypatch.setattr(predictor_module, "_time_passes", fake_clock(1.0, 2.0))  # not asked again
    again = Predictor(model, device="cpu", precision="auto")
    assert again.precision_used == "int8" and "measured earlier" in again.precision_note
    without_cache = Predictor(model, device="cpu", precision="auto", reuse=False)  # whole windows: measured anew
    assert without_cache.precision_used == "float32" and "window" in without_cache.precision_note


def test_auto_wants_a_margin(monkeypatch):
    monkeypatch.setattr(predictor_module, "_AUTO_DECISIONS", {})
    monkeypatch.setattr(predictor_module, "_time_passes", fake_clock(1.0, 0.9))
    predictor = Predictor(small_wide_model("vivit_s16x2_st"), device="cpu", precision="auto")
    assert predictor.precision_used == "float32" and "at most 80%" in predictor.precision_note


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        Predictor(create_model("vivit_t16x2_st", **tiny_overrides()), device="cpu", precision="fp8")


def test_the_default_hop_follows_the_models_width():
    assert default_hop(create_model("vivit_t16x2_fe", **tiny_overrides()).card) == DEFAULT_HOP == 8
    assert default_hop(shipped("st").card) == DEFAULT_HOP
    with torch.device("meta"):  # ViViT-B's shapes without their weights
        fe, st = create_model("vivit_b16x2_fe"), create_model("vivit_b16x2_st")
        uniform = create_model("vivit_b16x1_fe")
    assert default_hop(fe.card) == 4  # one tubelet's span: tubelet 2 x frame stride 2
    assert default_hop(uniform.card.replace(frame_stride=3)) == 3
    assert default_hop(st.card) == LARGE_MODEL_HOP == 16


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "vivit_desktop", *args], capture_output=True, text=True,
                          timeout=180, cwd=ROOT)


def test_cli_analyze_and_evaluate_take_a_precision(tmp_path):
    done = run_cli("analyze", str(SAMPLE), "--model", "camera-motion-st", "--precision", "int8", "--no-cache",
                   "--no-progress", "--out", str(tmp_path / "out.json"))
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr  # the line saying what runs
    assert "cpu, int8 (asked for" in said and "hop 8" in said and (tmp_path / "out.json").exists()
    bad = run_cli("analyze", str(SAMPLE), "--precision", "fp8")
    assert bad.returncode == 2 and "invalid choice: 'fp8'" in bad.stderr
    bad_hop = run_cli("analyze", str(SAMPLE), "--hop", "0")
    assert bad_hop.returncode in (1, 2) and "hop" in bad_hop.stderr and "Traceback" not in bad_hop.stderr
    pytest.importorskip("skimage")
    ev = run_cli("evaluate", str(ROOT / "models" / "camera-motion-st.safetensors"), "synthetic:camera-motion",
                 "--clips", "10", "--precision", "int8", "--device", "cpu", "--no-progress",
                 "-o", str(tmp_path / "ev"))
    assert ev.returncode == 0, ev.stderr
    assert "accuracy" in ev.stdout and (tmp_path / "ev.json").exists()
