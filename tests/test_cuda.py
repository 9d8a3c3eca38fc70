"""The CUDA path on a GPU: bf16/fp16 autocast against float32, the out-of-memory fallback (the
batch halves, then the CPU takes over), the tubelet cache on the device, the live runner, int8's
fallback there, and one device-to-host copy per batch.

Skipped, with the reason, where there is no CUDA GPU: on the build machine none of these has
run. `bench/gpu_check.sh` runs them on a GPU machine.

Tolerances against float32 on the shipped models over the sample clip: bf16 probabilities within
0.05 and attention within 0.02, fp16 within 0.02 and 0.01; the top label agrees on 95 % of
windows. (On the CPU, bf16 autocast gave at most 0.014 and 0.004, fp16 0.005 and 0.001.)
"""

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from vivit_desktop.engine.live import LiveRunner
from vivit_desktop.engine.predictor import Predictor
from vivit_desktop.engine.sources import open_source
from vivit_desktop.model import create_model

from test_precision import VARIANTS, shipped
from test_precision import analyse as analyse_sample

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA GPU, and none is here: the CUDA path is untested on this machine "
                              "(bench/gpu_check.sh runs these tests on a GPU machine)"),
]

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample.mp4"
TOLERANCE = {"bf16": (0.05, 0.02), "fp16": (0.02, 0.01)}  # (probabilities, attention)


def analyse(predictor: Predictor, hop: int = 8) -> tuple[np.ndarray, np.ndarray]:
    return analyse_sample(predictor, hop, batch_size=8)


def assert_distributions(probs: np.ndarray, attention: np.ndarray) -> None:
    assert np.isfinite(probs).all() and np.isfinite(attention).all()
    assert np.allclose(probs.sum(1), 1, atol=1e-4) and np.allclose(attention.sum(1), 1, atol=1e-4)


@pytest.fixture(autouse=True)
def _memory_back():
    yield
    torch.cuda.set_per_process_memory_fraction(1.0)
    torch.cuda.empty_cache()


@pytest.mark.parametrize("half", ["bf16", "fp16"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_autocast_stays_within_tolerance_of_float32(variant, half):
    if half == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    model = shipped(variant)
    reference = analyse(Predictor(model, device="cuda", precision="float32"))
    predictor = Predictor(model, device="cuda", precision="auto")
    assert predictor.precision_used == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    predictor.precision_used = half  # what `auto` picks on a GPU without bf16
    probs, attention = analyse(predictor)
    assert_distributions(probs, attention)
    prob_tol, attention_tol = TOLERANCE[half]
    assert np.abs(probs - reference[0]).max() <= prob_tol
    assert np.abs(attention - reference[1]).max() <= attention_tol
    assert (probs.argmax(1) == reference[0].argmax(1)).mean() >= 0.95


def base_fe_clips(batch: int):
    """ViViT-B/16x2 FE at its official input (random weights) and `batch` random windows."""
    torch.manual_seed(0)
    model = create_model("vivit_b16x2_fe", num_classes=400)
    clips = np.random.default_rng(0).standard_normal((batch, 32, 3, 224, 224), dtype=np.float32)
    return model, clips


def test_out_of_memory_halves_the_batch_then_the_cpu_takes_over(caplog):
    model, clips = base_fe_clips(8)
    predictor = Predictor(model, device="cuda", reuse=False)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    one = predictor.predict(clips[:1])
    per_window = torch.cuda.max_memory_allocated() - base  # activations of one window
    reference = predictor.predict(clips)
    total = torch.cuda.get_device_properties(0).total_memory

    # room for about three windows' activations: batch 8 and 4 fail, 2 fits
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction((torch.cuda.memory_reserved() + 3 * per_window) / total)
    with caplog.at_level(logging.WARNING, logger="vivit_desktop.engine.predictor"):
        halved = predictor.predict(clips)
    assert "GPU out of memory: retrying with batches of" in caplog.text
    assert predictor.device.type == "cuda"
    assert halved.probs.shape == reference.probs.shape
    assert np.abs(halved.probs - reference.probs).max() <= TOLERANCE["bf16"][0]

    # room for nothing: batch 1 fails too and the CPU takes over, with the message
    caplog.clear()
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction((torch.cuda.memory_reserved() + 2**20) / total)
    with caplog.at_level(logging.WARNING, logger="vivit_desktop.engine.predictor"):
        on_cpu = predictor.predict(clips[:2])
    assert "GPU out of memory at batch 1: moving the model to the CPU" in caplog.text
    assert predictor.device.type == "cpu" and predictor.precision_used == "float32"
    assert_distributions(on_cpu.probs, on_cpu.attention)
    assert np.abs(on_cpu.probs[:1] - one.probs).max() <= TOLERANCE["bf16"][0]


def test_the_tubelet_cache_lives_on_the_device():
    model = shipped("fe")
    cached = Predictor(model, device="cuda", reuse=True)
    uncached = Predictor(model, device="cuda", reuse=False)
    with_cache, without = analyse(cached, hop=4), analyse(uncached, hop=4)
    assert len(cached.cache) > 0
    for encoded, spatial in cached.cache._items.values():
        assert encoded.device.type == "cuda" and spatial.device.type == "cuda"
    assert cached.spatial_passes < uncached.spatial_passes / 4
    assert_distributions(*with_cache)
    assert np.abs(with_cache[0] - without[0]).max() <= TOLERANCE["bf16"][0]
    assert np.abs(with_cache[1] - without[1]).max() <= TOLERANCE["bf16"][1]


def test_the_live_runner_on_the_gpu():
    predictor = Predictor(shipped("fe"), device="cuda")
    results, errors = [], []
    with open_source(SAMPLE) as source:
        runner = LiveRunner(predictor, source.fps, hop=4, on_result=results.append, on_error=errors.append)
        for frame in source.frames():
            runner.push(frame)
            if frame.index >= 120:
                break
        assert runner.wait_idle(60)
        runner.stop()
    assert not errors and results
    for result in results:
        assert result.compute_s > 0 and result.latency_s >= result.compute_s
        assert_distributions(result.window.probs[None], result.window.attention[None])
    assert predictor.device.type == "cuda"


def test_int8_falls_back_to_half_precision_on_the_gpu(caplog):
    with caplog.at_level(logging.WARNING, logger="vivit_desktop.engine.predictor"):
        predictor = Predictor(shipped("st"), device="cuda", precision="int8")
    assert predictor.precision_used in ("bf16", "fp16")
    assert "int8 is dynamic quantisation for the CPU" in caplog.text
    assert not any(m._get_name().startswith("Dynamic") for m in predictor.model.modules())  # not quantised
    assert_distributions(*analyse(predictor, hop=32))


def count_synchronisations(predictor: Predictor, clips: np.ndarray, frames=None) -> int:
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            predictor.predict(clips, frames=frames, source="clip" if frames is not None else None)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchronizing" in str(w.message) for w in caught)


@pytest.mark.parametrize("variant", ["st", "fe"])
def test_one_host_copy_per_batch_not_per_window(variant):
    model = shipped(variant)
    predictor = Predictor(model, device="cuda")
    c = model.config
    clips = np.random.default_rng(0).standard_normal((8, c.num_frames, 3, c.image_size, c.image_size),
                                                     dtype=np.float32)
    predictor.predict(clips[:1])  # warm-up
    frames = [[100 * b + f for f in range(c.num_frames)] for b in range(8)] if variant == "fe" else None
    one = count_synchronisations(predictor, clips[:1], frames[:1] if frames else None)
    eight = count_synchronisations(predictor, clips, [[f + 10_000 for f in row] for row in frames] if frames else None)
    assert one == eight <= 2


def test_switching_the_window_to_the_gpu_and_back(qtbot, tmp_path, monkeypatch):
    """Models > Device > CUDA restarts the analysis on the GPU; CPU brings it back."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMenu

    from vivit_desktop.ui.main_window import MainWindow

    monkeypatch.setenv("VIVIT_DESKTOP_MODELS", str(tmp_path / "user-models"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(model=str(ROOT / "models" / "camera-motion-fe.safetensors"), settings=settings,
                   show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    try:
        w.open_path(SAMPLE)
        for device in ("cuda", "cpu"):
            w.models_menu.aboutToShow.emit()  # the user opens the Models menu
            menu = next(m for m in w.models_menu.findChildren(QMenu) if m.title() == "Device")
            next(a for a in menu.actions() if a.text().lower().startswith(device)).trigger()
            qtbot.waitUntil(lambda: w.workspace.primary is not None and w.workspace.primary.complete, timeout=120000)
            assert w.workspace.primary.device_info.device_type == device
            probs = np.stack([x.probs for x in w.workspace.primary.windows])
            assert np.isfinite(probs).all() and np.allclose(probs.sum(1), 1, atol=1e-3)
    finally:
        w.shutdown()
