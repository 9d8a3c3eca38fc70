"""Where the model looks: the spatial attention map per window (AttentionReadout.spatial), for
the four variants, checked against a naive computation from the last layer's own weights; its
way through the predictor, the results (the map shown at a frame), the sidecar cache and the
annotated video; and the flag for clips shorter than one window."""

import json
import logging

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_overrides
from vivit_desktop.engine.analysis import WindowSettings, analyze_source
from vivit_desktop.engine.annotate import caption_text, draw_heatmap, percent, write_annotated
from vivit_desktop.engine.cache import ResultCache, spatial_path
from vivit_desktop.engine.predictor import Predictor, quantize_int8
from vivit_desktop.engine.preprocess import Preprocessor
from vivit_desktop.engine.results import AnalysisResult, WindowResult
from vivit_desktop.engine.sources import Frame, VideoSource
from vivit_desktop.model import create_model
from vivit_desktop.model import layers

CODES = ("st", "fe", "fsa", "fdp")


def tiny(code, **extra):
    """4 temporal indices of a 3x3 patch grid (image 48, patch 16): a transposed map shows."""
    return create_model(f"vivit_t16x2_{code}", **tiny_overrides(image_size=48, **extra)).eval()


def clip(model, batch=2):
    c = model.config
    return torch.randn(batch, c.num_frames, c.in_channels, c.image_size, c.image_size)


# -- naive references: the last layer hooked, softmax(q k^T / sqrt(d)) by hand from its weights ---

def _captured(model, x, module):
    """What `module` (a LayerNorm feeding the last attention) outputs on the fast path."""
    seen = []
    handle = module.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return seen[-1]


def _weights(attn, y, heads=None):
    """softmax(q k^T / sqrt(hd)) of the attention `attn` on its input `y` (..., N, D), computed
    from its qkv weights by hand: (..., h, N, N), or only the heads in `heads`."""
    D = y.shape[-1]
    h = attn.num_heads
    hd = D // h
    qkv = F.linear(y, attn.qkv.weight, attn.qkv.bias)  # (..., N, 3D): q, k, v, each heads-major
    q = qkv[..., :D].unflatten(-1, (h, hd)).transpose(-3, -2)  # (..., h, N, hd)
    k = qkv[..., D:2 * D].unflatten(-1, (h, hd)).transpose(-3, -2)
    if heads is not None:
        q, k = q[..., heads, :, :], k[..., heads, :, :]
    return torch.softmax(q @ k.transpose(-2, -1) / hd**0.5, dim=-1)


def naive_spatial(model, x):
    """(B, nt, nh, nw) as the README defines it, each temporal index's map summing to 1."""
    c = model.config
    B, T, g = x.shape[0], c.temporal_tokens, c.grid_size
    S = g * g
    backbone = model.backbone
    if c.variant == "spatio_temporal":
        block = backbone.encoder.blocks[-1]
        w = _weights(block.attn, _captured(model, x, block.norm1))  # (B, h, 1+T*S, 1+T*S)
        maps = w[:, :, 0, 1:].mean(dim=1).reshape(B, T, S)  # the CLS row over the patches, heads averaged
    elif c.variant == "factorised_encoder":
        block = backbone.spatial.blocks[-1]
        w = _weights(block.attn, _captured(model, x, block.norm1))  # (B*T, h, 1+S, 1+S)
        maps = w[:, :, 0, 1:].mean(dim=1).reshape(B, T, S)
    elif c.variant == "factorised_self_attention":
        block = backbone.encoder.blocks[-1]
        w = _weights(block.attn_s, _captured(model, x, block.norm_s))  # (B*T, h, S, S)
        maps = w.mean(dim=(1, 2)).reshape(B, T, S)  # received: averaged over heads and queries
    else:  # Model 4: the second half of the heads attends over space
        block = backbone.encoder.blocks[-1]
        y = _captured(model, x, block.norm1).reshape(B, T, S, -1)  # sequences over space per (b, t)
        h = block.attn.num_heads
        w = _weights(block.attn, y, heads=list(range(h // 2, h)))  # (B, T, h/2, S, S)
        maps = w.mean(dim=(2, 3))
    maps = maps / maps.sum(dim=-1, keepdim=True)
    return maps.reshape(B, T, g, g)


@pytest.mark.parametrize("code", CODES)
def test_each_variants_map_is_the_naive_one(code):
    model = tiny(code)
    x = clip(model)
    with torch.no_grad():
        fast = model(x)
        logits, readout = model.forward_with_attention(x)
    torch.testing.assert_close(logits, fast, atol=1e-5, rtol=1e-5)  # the read-out changes no logit
    assert readout.spatial.shape == (2, 4, 3, 3) and readout.spatial.dtype == torch.float32
    torch.testing.assert_close(readout.spatial.sum(dim=(2, 3)), torch.ones(2, 4))
    assert torch.all(readout.spatial >= 0)
    torch.testing.assert_close(readout.spatial, naive_spatial(model, x), atol=1e-6, rtol=1e-5)


def test_model3_map_in_either_attention_order():
    model = tiny("fsa", attention_order="space_time")
    x = clip(model)
    with torch.no_grad():
        _, readout = model.forward_with_attention(x)
    torch.testing.assert_close(readout.spatial, naive_spatial(model, x), atol=1e-6, rtol=1e-5)


def test_received_attention_in_blocks_equals_all_at_once():
    q, k = torch.randn(3, 2, 37, 8), torch.randn(3, 2, 37, 8)
    whole = torch.softmax(q @ k.transpose(-2, -1) / 8**0.5, dim=-1).mean(dim=-2)
    for block in (1, 3 * 2 * 37 * 5, 10**9):  # one query at a time, five, all
        torch.testing.assert_close(layers.received_attention(q, k, block), whole, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("code", ["fsa", "fdp"])
def test_models_3_and_4_never_hold_all_queries_spatial_weights_at_once(code, monkeypatch):
    """With a small block the S x S weights come a few queries at a time."""
    from test_model import _ShapeRecorder as Shapes

    model = create_model(f"vivit_t16x2_{code}", **tiny_overrides(image_size=64, depth=1)).eval()  # S = 16
    S = 16
    monkeypatch.setattr(layers, "RECEIVED_BLOCK", 4 * 4 * S * 4)  # B*T = 4, h <= 4: four queries a block
    x = clip(model, 1)
    with torch.no_grad(), Shapes() as recorder:
        _, readout = model.forward_with_attention(x)
    assert not [s for s in recorder.shapes if len(s) >= 2 and s[-2:] == (S, S)]
    torch.testing.assert_close(readout.spatial, naive_spatial(model, x), atol=1e-6, rtol=1e-5)


def test_model2_tubelet_path_gives_the_same_maps():
    model = tiny("fe")
    x = clip(model)
    t = model.config.tubelet_size
    with torch.no_grad():
        _, whole = model.forward_with_attention(x)
        tubelets = x.reshape(2 * 4, t, *x.shape[2:])  # each clip's 4 tubelets, in order
        encoded, spatial = model.encode_tubelets(tubelets)
        _, parts = model.classify_tubelets(encoded.reshape(2, 4, -1), spatial.reshape(2, 4, -1))
    assert parts.spatial.shape == (2, 4, 3, 3)
    torch.testing.assert_close(parts.spatial, whole.spatial, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("code", CODES)
def test_int8_gives_maps_too(code):
    model = tiny(code)
    x = clip(model)
    with torch.no_grad():
        _, reference = model.forward_with_attention(x)
        _, quantised = quantize_int8(model).forward_with_attention(x)
    assert quantised.spatial.shape == (2, 4, 3, 3)
    torch.testing.assert_close(quantised.spatial.sum(dim=(2, 3)), torch.ones(2, 4))
    torch.testing.assert_close(quantised.spatial, reference.spatial, atol=0.02, rtol=0)
    predictor = Predictor(model, device="cpu", precision="int8")
    out = predictor.predict(x.numpy(), frames=[list(range(8)), list(range(8, 16))], source="clip")
    assert out.spatial.shape == (2, 4, 3, 3) and out.spatial.dtype == np.float16
    np.testing.assert_allclose(out.spatial.astype(np.float32).sum(axis=(2, 3)), 1, atol=2e-3)


# -- the engine ---------------------------------------------------------------------------------

class Synthetic(VideoSource):
    def __init__(self, n: int, fps: float = 25.0, size=(36, 48), flat: bool = False) -> None:
        super().__init__()
        self.n, self.fps, self.name, self.size, self.flat = n, fps, f"synthetic-{n}", size, flat

    def frames(self):
        rng = np.random.default_rng(self.n)
        for i in range(self.n):
            self.frames_read += 1
            image = (np.full((*self.size, 3), 128, np.uint8) if self.flat
                     else rng.integers(0, 255, (*self.size, 3), dtype=np.uint8))
            yield Frame(i, i / self.fps, image)


@pytest.fixture(scope="module")
def fe_model():
    return create_model("vivit_t16x2_fe", labels=["a", "b", "c"], num_frames=8, image_size=48, depth=2,
                        temporal_depth=1)


def test_windows_carry_their_maps_and_a_frame_shows_its_tubelets(fe_model):
    result = analyze_source(Synthetic(50), Predictor(fe_model, device="cpu"), WindowSettings(hop=10, batch_size=3))
    for w in result.windows:
        assert w.spatial.shape == (4, 3, 3) and w.spatial.dtype == np.float16
        np.testing.assert_allclose(w.spatial.astype(np.float32).sum(axis=(1, 2)), 1, atol=2e-3)
    w = result.window_at(20)
    assert w.centre_frame == 20 and w.frames == (14, 16, 18, 20, 22, 24, 26, 28)
    # a sampled frame takes its tubelet's map (tubelet = position // 2)
    np.testing.assert_allclose(result.spatial_at(20), w.spatial[3 // 2].astype(np.float32), atol=2e-3)
    np.testing.assert_allclose(result.spatial_at(16), w.spatial[0].astype(np.float32), atol=2e-3)
    # a frame between samples takes its nearest sample's (the earlier on a tie): 23 -> 22, tubelet 2
    np.testing.assert_allclose(result.spatial_at(23), w.spatial[2].astype(np.float32), atol=2e-3)
    assert result.spatial_at(23).shape == (3, 3) and result.spatial_at(23).dtype == np.float32
    assert result.spatial_at(23).sum() == pytest.approx(1, abs=1e-6)
    # the first window repeats frame 0 over its first tubelets: frame 0 takes their mean
    first = result.window_at(0)
    positions = [i for i, f in enumerate(first.frames) if f == 0]
    expected = np.mean([first.spatial[p // 2].astype(np.float32) for p in positions], axis=0)
    np.testing.assert_allclose(result.spatial_at(0), expected / expected.sum(), atol=1e-6)


def test_window_at_is_the_players_rule():
    card = create_model("vivit_t16x2_fe", **tiny_overrides()).card
    maps = np.full((4, 2, 2), 0.25, np.float16)
    windows = [WindowResult(i, c, tuple(range(c - 6, c + 10, 2)), np.full(5, 0.2), np.full(8, 1 / 8), 0.0, maps)
               for i, c in enumerate((10, 20, 30))]
    result = AnalysisResult("x", 25.0, 60, 0, None, card, 10, windows, 0.0)
    assert result.window_at(14).centre_frame == 10 and result.window_at(15).centre_frame == 10  # a tie: earlier
    assert result.window_at(16).centre_frame == 20
    assert result.window_at(39).centre_frame == 30  # past its span (24..38) but within a hop of its centre
    assert result.window_at(41) is None and result.spatial_at(41) is None
    # live: the newest window that has ended by then
    assert result.window_at(17, live=True) is None and result.window_at(18, live=True).centre_frame == 10
    assert result.window_at(27, live=True).centre_frame == 10 and result.window_at(28, live=True).centre_frame == 20
    assert result.window_at(45, live=True).centre_frame == 30
    # a result without maps (an old cache) shows none
    without = WindowResult(0, 10, windows[0].frames, np.full(5, 0.2), np.full(8, 1 / 8), 0.0)
    bare = AnalysisResult("x", 25.0, 60, 0, None, card, 10, [without], 0.0)
    assert bare.window_at(10) is not None and bare.spatial_at(10) is None


def test_live_windows_carry_their_maps(fe_model):
    from vivit_desktop.engine.live import LiveRunner

    results = []
    with LiveRunner(Predictor(fe_model, device="cpu"), fps=25.0, hop=4, on_result=results.append) as runner:
        for frame in Synthetic(30).frames():
            runner.push(frame)
            runner.wait_idle(30)
    assert results
    for r in results:
        assert r.window.spatial.shape == (4, 3, 3) and r.window.spatial.dtype == np.float16
    card = fe_model.card
    live = AnalysisResult("live", 25.0, 30, 0, None, card, 4, [r.window for r in results], 0.0)
    newest = results[-1].window
    np.testing.assert_allclose(live.spatial_at(29, live=True), newest.spatial[-1].astype(np.float32), atol=2e-3)


def test_model2_cached_tubelets_give_the_same_maps(fe_model):
    settings = WindowSettings(hop=4, batch_size=3)
    a = analyze_source(Synthetic(60), Predictor(fe_model, device="cpu"), settings)
    b = analyze_source(Synthetic(60), Predictor(fe_model, device="cpu", reuse=False), settings)
    np.testing.assert_allclose(a.spatial_maps().astype(np.float32), b.spatial_maps().astype(np.float32), atol=2e-3)


def test_the_cache_keeps_the_maps_beside_its_json(tmp_path, fe_model, caplog):
    result = analyze_source(Synthetic(50), Predictor(fe_model, device="cpu"), WindowSettings(hop=8))
    result.video_sha256, result.model_sha256 = "v" * 64, "m" * 64
    cache = ResultCache(tmp_path)
    entry = cache.store(result)
    maps_file = spatial_path(entry)
    assert maps_file.is_file() and "spatial" not in entry.read_text()
    back = cache.load("v" * 64, "m" * 64, result.card, 8)
    np.testing.assert_array_equal(back.spatial_maps(), result.spatial_maps())
    assert back.spatial_maps().dtype == np.float16
    np.testing.assert_array_equal(back.spatial_at(21), result.spatial_at(21))
    # an entry cached before maps were kept still loads, without maps
    maps_file.unlink()
    old = cache.load("v" * 64, "m" * 64, result.card, 8)
    assert len(old.windows) == len(result.windows) and old.spatial_maps() is None and old.spatial_at(21) is None
    # a damaged .npz is ignored, with a warning; the results still load
    maps_file.write_bytes(b"PK\x03\x04 not a zip")
    with caplog.at_level(logging.WARNING):
        damaged = cache.load("v" * 64, "m" * 64, result.card, 8)
    assert damaged is not None and damaged.spatial_maps() is None and "spatial maps" in caplog.text
    with open(maps_file, "wb") as f:  # a bare .npy array under the name
        np.save(f, result.spatial_maps())
    assert cache.load("v" * 64, "m" * 64, result.card, 8).spatial_maps() is None
    # maps of other windows (another entry's file) are not attached
    cache.store(result)
    with np.load(maps_file) as npz:
        parts = dict(npz)
    parts["centres"] = parts["centres"] + 1
    np.savez_compressed(maps_file, **parts)
    assert cache.load("v" * 64, "m" * 64, result.card, 8).spatial_maps() is None
    # storing a result without maps removes the stale file
    cache.store(old)
    assert not maps_file.exists()


def test_the_maps_stay_out_of_the_exports(tmp_path, fe_model):
    result = analyze_source(Synthetic(30), Predictor(fe_model, device="cpu"), WindowSettings(hop=8))
    data = result.to_dict()
    assert "spatial" not in json.dumps(data)
    assert data["short_clip"] is False


def test_a_clip_shorter_than_a_window_is_flagged(fe_model):
    """8 frames 2 apart span 15 source frames; a 3-frame clip gets one window of repeated frames."""
    result = analyze_source(Synthetic(3), Predictor(fe_model, device="cpu"), WindowSettings(hop=8))
    assert result.windows and set(result.windows[0].frames) <= {0, 1, 2}
    assert result.short_clip and result.window_frames() == 15
    assert result.to_dict()["short_clip"] is True
    [warning] = [w for w in result.warnings() if "padded" in w]
    assert warning.startswith("the clip has 3 frames; the model's window needs 15 (8 samples, every 2nd frame)")
    assert "first and last frames repeated" in warning
    long = analyze_source(Synthetic(15), Predictor(fe_model, device="cpu"), WindowSettings(hop=8))
    assert not long.short_clip and not [w for w in long.warnings() if "padded" in w]
    one = analyze_source(Synthetic(1), Predictor(fe_model, device="cpu"), WindowSettings(hop=8))
    assert one.short_clip and one.warnings()[0].startswith("the clip has 1 frame;")
    # 1 fps against a model that samples at 30: a window spans under a second, 2 source frames
    slow = fe_model.card.replace(fps=30.0)
    bare = [WindowResult(0, 0, (0,) * 8, np.full(3, 1 / 3), np.full(8, 1 / 8), 0.0)]
    single = AnalysisResult("x", 1.0, 1, 0, None, slow, 8, bare, 0.0)
    assert single.short_clip and single.warnings()[0].startswith(
        "the clip has 1 frame; the model's window needs 2 (8 samples, every 2nd frame at 30 fps)")
    assert not AnalysisResult("x", 1.0, 2, 0, None, slow, 8, bare, 0.0).short_clip


# -- the annotated video ------------------------------------------------------------------------

def test_percentages_and_caption_read_as_the_window_writes_them(fe_model):
    assert percent(0.914) == "91%" and percent(0.546) == "55%" and percent(1.0) == "100%" and percent(0) == "0%"
    card = fe_model.card.replace(name="kinetics-tiny")
    assert caption_text(card, 1.5, 12) == "kinetics-tiny     1.50 s  frame 12"
    assert "unnamed" in caption_text(fe_model.card.replace(name=""), 0, 0)


def test_heatmap_lies_over_the_region_the_model_saw():
    image = np.full((40, 60, 3), 128, np.uint8)
    hot = np.zeros((2, 2), np.float32)
    hot[1, 1] = 1  # bottom right
    box = Preprocessor(create_model("vivit_t16x2_fe", **tiny_overrides()).card).crop_box(40, 60)
    assert box == (10, 0, 50, 40)  # the centre square of a landscape frame
    draw_heatmap(image, hot, box, 0.7)
    assert (image[:, :10] == 128).all() and (image[:, 50:] == 128).all()  # outside the crop: untouched
    assert image[35, 45].astype(int).sum() > 3 * 128 + 60  # hot corner: bright (inferno's top)
    assert image[35, 15].astype(int).sum() < 3 * 128 - 60  # cold corner: dark
    # the region is outlined (white edged in black), so the uncovered sides read as not looked at
    assert (image[20, 11] == 255).all() and (image[20, 10] == 0).all() and (image[20, 48] == 255).all()
    full = np.full((40, 40, 3), 128, np.uint8)
    draw_heatmap(full, hot, (0, 0, 40, 40), 0.7)  # the model saw the whole frame: no outline
    assert not (full == 255).all(axis=2).any()


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, image = cap.read()
        if not ok:
            return out
        out.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def test_annotated_video_draws_the_heatmap_when_asked(tmp_path, fe_model):
    source = Synthetic(20, size=(240, 320), flat=True)
    result = analyze_source(source, Predictor(fe_model, device="cpu"), WindowSettings(hop=8))
    maps = np.zeros((len(result.windows), 4, 3, 3), np.float16)
    maps[:, :, 2, 2] = 1  # every window looks at the bottom-right patch
    result.attach_spatial(maps)
    plain = write_annotated(result, Synthetic(20, size=(240, 320), flat=True), tmp_path / "plain.mp4")
    heat = write_annotated(result, Synthetic(20, size=(240, 320), flat=True), tmp_path / "heat.mp4",
                           heatmap_opacity=0.6)
    a, b = _frames(plain), _frames(heat)
    assert len(a) == len(b) == 20
    for f in (5, 15):
        before, after = a[f].astype(int), b[f].astype(int)
        # the crop is the centre 240x240 square (columns 40..280); below the panel and caption
        assert np.abs(after[205:235, 245:275] - before[205:235, 245:275]).mean() > 40  # the hot patch
        assert after[205:235, 245:275].sum(-1).mean() > before[205:235, 245:275].sum(-1).mean() + 100
        assert after[200:235, 50:90].sum(-1).mean() < before[200:235, 50:90].sum(-1).mean() - 100  # cold
        assert np.abs(after[150:235, 0:30] - before[150:235, 0:30]).mean() < 4  # outside the crop
    with pytest.raises(ValueError, match="opacity"):
        write_annotated(result, source, tmp_path / "bad.mp4", heatmap_opacity=1.5)
