"""The four variants: shapes, the paper's table, faithfulness to scenic, and the read-out."""

import dataclasses

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from conftest import tiny_overrides
from vivit_desktop.model import (
    FACTORISED_DOT_PRODUCT,
    FACTORISED_ENCODER,
    FACTORISED_SELF_ATTENTION,
    SPATIO_TEMPORAL,
    ConfigError,
    count_flops,
    count_params,
    count_params_of,
    create_model,
    list_models,
    model_config,
)
from vivit_desktop.model.layers import FactorisedDotProductAttention

CODES = ("st", "fe", "fsa", "fdp")


def clip(model, batch=2):
    c = model.config
    return torch.randn(batch, c.num_frames, c.in_channels, c.image_size, c.image_size)


# -- the paper's Table 1: ViViT-B/16x2, 32 x 224^2, Kinetics-400 -----------------------------

@pytest.mark.parametrize("code, params_m, gflops", [
    ("st", 88.9, 455.2), ("fe", 115.1, 284.4), ("fsa", 117.3, 372.3), ("fdp", 88.9, 277.1)])
def test_params_and_flops_match_the_paper_within_2_percent(code, params_m, gflops):
    name = f"vivit_b16x2_{code}"
    assert count_params_of(name) / 1e6 == pytest.approx(params_m, rel=0.02)
    assert count_flops(name) / 1e9 == pytest.approx(gflops, rel=0.02)


def test_flop_count_grows_with_the_input_as_attention_predicts():
    # Model 1 attends over all tokens: doubling frames more than doubles its FLOPs; Model 2's
    # spatial cost is linear in frames, so it stays close to double.
    st = count_flops("vivit_t16x2_st", num_frames=16) / count_flops("vivit_t16x2_st", num_frames=8)
    fe = count_flops("vivit_t16x2_fe", num_frames=16) / count_flops("vivit_t16x2_fe", num_frames=8)
    assert st > 2.05 and 1.9 < fe < 2.05


def test_count_params_of_a_built_model_equals_the_meta_count():
    model = create_model("vivit_t16x2_fe", **tiny_overrides())
    assert count_params(model) == count_params_of(model.config)


# -- registry -------------------------------------------------------------------------------

def test_registry_has_every_size_and_variant_for_both_embeddings():
    names = list_models()
    for size in "tsblh":
        for t in (1, 2):
            for code in CODES:
                assert f"vivit_{size}16x{t}_{code}" in names
    assert list_models("*_fe") == [n for n in names if n.endswith("_fe")]


@pytest.mark.parametrize("name", list_models())
def test_every_registered_name_builds_and_runs(name):
    config = model_config(name)
    # Full width, heads, tubelet and variant for every name; ViViT-L and -H run with 2 layers
    # (their other layers are the same module repeated, and building them takes ~10 s each).
    depth = {} if config.hidden_size <= 768 else {"depth": 2}
    model = create_model(name, **tiny_overrides(**depth)).eval()
    with torch.no_grad():
        logits = model(clip(model, 1))
    assert logits.shape == (1, 5) and torch.isfinite(logits).all()
    assert model.config.variant == config.variant and model.card.name == name


def test_unknown_name_and_bad_override_give_clear_errors():
    with pytest.raises(ConfigError, match="unknown model 'vivit_x'"):
        create_model("vivit_x")
    with pytest.raises(ConfigError, match="unknown override.*num_clases"):
        create_model("vivit_t16x2_st", num_clases=3)
    with pytest.raises(ConfigError, match="not a multiple of tubelet_size"):
        create_model("vivit_t16x2_st", num_frames=7)
    with pytest.raises(ConfigError, match="not a multiple of patch_size"):
        create_model("vivit_t16x2_st", image_size=40)


def test_overrides_reach_the_model():
    model = create_model("vivit_s16x2_fe", num_classes=7, num_frames=4, image_size=48, depth=2, temporal_depth=1)
    assert model.head.out_features == 7
    assert len(model.backbone.spatial.blocks) == 2 and len(model.backbone.temporal.blocks) == 1
    assert model.backbone.spatial.pos_embed.shape == (1, 1 + 9, 384)
    assert model.backbone.temporal.pos_embed.shape == (1, 1 + 2, 384)


def test_labels_set_the_classes_and_the_card():
    model = create_model("vivit_t16x2_st", labels=["a", "b", "c"], num_frames=4, image_size=32)
    assert model.head.out_features == 3 and model.card.labels == ("a", "b", "c")


def test_wrong_input_shape_says_what_was_expected():
    model = create_model("vivit_t16x2_st", **tiny_overrides())
    with pytest.raises(ValueError, match=r"expected a video tensor of shape \(B, 8, 3, 32, 32\)"):
        model(torch.randn(1, 3, 8, 32, 32))


# -- structure as scenic builds it -------------------------------------------------------------

def test_parameter_layout_of_each_variant():
    m1 = create_model("vivit_t16x2_st", **tiny_overrides())
    assert m1.backbone.encoder.cls_token is not None
    assert m1.backbone.encoder.pos_embed.shape == (1, 1 + 4 * 4, 192)  # CLS + nt*S
    m3 = create_model("vivit_t16x2_fsa", **tiny_overrides())
    assert m3.backbone.encoder.cls_token is None and m3.backbone.encoder.pos_embed.shape == (1, 16, 192)
    assert hasattr(m3.backbone.encoder.blocks[0], "attn_t") and hasattr(m3.backbone.encoder.blocks[0], "attn_s")
    m4 = create_model("vivit_t16x2_fdp", **tiny_overrides())
    assert m4.backbone.encoder.cls_token is None
    assert isinstance(m4.backbone.encoder.blocks[0].attn, FactorisedDotProductAttention)
    assert count_params(m4) == count_params(m1) - 2 * 192  # same layers; no CLS token nor its position


def test_tubelet_embedding_is_a_3d_conv_with_kernel_equal_stride():
    model = create_model("vivit_t16x2_st", **tiny_overrides())
    conv = model.patch_embed.proj
    assert conv.kernel_size == conv.stride == (2, 16, 16)
    uniform = create_model("vivit_t16x1_st", **tiny_overrides())
    assert uniform.patch_embed.proj.kernel_size == (1, 16, 16)
    assert uniform.backbone.encoder.pos_embed.shape[1] == 1 + 8 * 4  # one temporal index per frame


def test_factorised_encoder_encodes_each_temporal_index_independently():
    """What the sliding-window cache relies on: changing frames of one tubelet changes only that
    temporal index's spatial representation."""
    model = create_model("vivit_t16x2_fe", **tiny_overrides()).eval()
    x = clip(model, 1)
    y = x.clone()
    y[:, 4:6] = torch.randn_like(y[:, 4:6])  # frames 4 and 5 = tubelet 2
    with torch.no_grad():
        a, _ = model.backbone.encode_frames(model.patch_embed(x))
        b, _ = model.backbone.encode_frames(model.patch_embed(y))
    changed = (a - b).abs().amax(dim=-1)[0]  # (nt,)
    assert changed[2] > 1e-3 and torch.all(changed[[0, 1, 3]] == 0)


def test_model3_attention_order_is_a_setting_and_matters():
    a = create_model("vivit_t16x2_fsa", **tiny_overrides()).eval()
    b = create_model("vivit_t16x2_fsa", **tiny_overrides(attention_order="space_time")).eval()
    b.load_state_dict(a.state_dict())
    x = clip(a)
    with torch.no_grad():  # features: the head starts at zero (scenic's init), so logits all start equal
        assert not torch.allclose(a.forward_features(x), b.forward_features(x), atol=1e-5)
    assert a.config.attention_order == "time_space"  # scenic's default


def test_model3_temporal_attention_only_mixes_tokens_of_one_spatial_index():
    model = create_model("vivit_t16x2_fsa", **tiny_overrides(depth=1)).eval()
    block = model.backbone.encoder.blocks[0]
    T, S, D = 4, 4, 192
    x = torch.randn(1, T * S, D)
    y = x.clone().reshape(1, T, S, D)
    y[0, 1, 2] += 1.0  # perturb token (t=1, s=2)
    with torch.no_grad():
        out_x, _ = block._time(x, T, S, explicit=False)
        out_y, _ = block._time(y.reshape(1, T * S, D), T, S, explicit=False)
    diff = (out_x - out_y).reshape(T, S, D).abs().amax(-1)
    assert torch.all(diff[:, 2] > 0) and torch.all(diff[:, [0, 1, 3]] == 0)


def test_model4_first_half_of_heads_attend_over_time_second_half_over_space():
    """Against a direct transcription of scenic's factorized_dot_product_attention."""
    config = dataclasses.replace(model_config("vivit_t16x2_fdp"), hidden_size=32, num_heads=4, mlp_dim=64)
    attn = FactorisedDotProductAttention(config).eval()
    B, T, S, D, h = 2, 3, 5, 32, 4
    hd = D // h
    x = torch.randn(B, T * S, D)
    with torch.no_grad():
        out, weights = attn(x, grid=(T, S), explicit=True)
        fast, _ = attn(x, grid=(T, S))
        q, k, v = attn.qkv(x).reshape(B, T, S, 3, h, hd).unbind(3)  # (B, T, S, h, hd)
        q = q / hd**0.5
        # heads 0..1 over time (axis 1), heads 2..3 over space (axis 2), as scenic splits them
        wt = torch.einsum("btshd,bushd->bshtu", q[..., :2, :], k[..., :2, :]).softmax(-1)
        ot = torch.einsum("bshtu,bushd->btshd", wt, v[..., :2, :])
        ws = torch.einsum("btshd,btuhd->bthsu", q[..., 2:, :], k[..., 2:, :]).softmax(-1)
        os_ = torch.einsum("bthsu,btuhd->btshd", ws, v[..., 2:, :])
        ref = attn.proj(torch.cat([ot, os_], dim=3).reshape(B, T * S, D))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.temporal, wt.reshape(B * S, 2, T, T), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(weights.spatial, ws.mean(dim=(2, 3)).reshape(B * T, S), atol=1e-6, rtol=1e-5)


def test_tiny_model4_gets_an_even_head_count():
    assert model_config("vivit_t16x2_fdp").num_heads == 4
    with pytest.raises(ConfigError, match="num_heads must be even"):
        model_config("vivit_t16x2_fdp", num_heads=3)


def test_gelu_is_scenics_tanh_approximation_by_default():
    assert model_config("vivit_b16x2_st").activation == "gelu_tanh"
    model = create_model("vivit_t16x2_st", **tiny_overrides())
    assert model.backbone.encoder.blocks[0].mlp.act.approximate == "tanh"


def test_dropout_and_stochastic_depth_act_only_in_training():
    model = create_model("vivit_t16x2_st", **tiny_overrides(dropout=0.1, attention_dropout=0.1, drop_path=0.2))
    x = clip(model)
    model.train()  # features: the head starts at zero (scenic's init), so logits all start equal
    assert not torch.allclose(model.forward_features(x), model.forward_features(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        assert torch.equal(model.forward_features(x), model.forward_features(x))
    rates = [b.drop_path.p for b in model.backbone.encoder.blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.2) and rates == sorted(rates)


def test_gradients_reach_every_parameter():
    for code in CODES:
        model = create_model(f"vivit_t16x2_{code}", **tiny_overrides(depth=2))
        model(clip(model)).sum().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, f"{code}: {missing}"


# -- attention read-out ---------------------------------------------------------------------------

@pytest.mark.parametrize("code", CODES)
def test_readout_path_gives_the_fast_paths_logits(code):
    model = create_model(f"vivit_t16x2_{code}", **tiny_overrides()).eval()
    x = clip(model)
    with torch.no_grad():
        fast = model(x)
        logits, readout = model.forward_with_attention(x)
    torch.testing.assert_close(logits, fast, atol=1e-5, rtol=1e-5)
    assert readout.temporal.shape == (2, 8)
    torch.testing.assert_close(readout.temporal.sum(1), torch.ones(2))
    assert torch.all(readout.temporal >= 0)
    # a tubelet's weight is shared by the frames it covers
    torch.testing.assert_close(readout.temporal[:, 0::2], readout.temporal[:, 1::2])
    torch.testing.assert_close(readout.temporal_tokens, readout.temporal[:, 0::2] * 2)
    assert readout.spatial.shape == (2, 4, 2, 2)  # every variant: a map per temporal index
    torch.testing.assert_close(readout.spatial.sum(dim=(2, 3)), torch.ones(2, 4))


def _naive_attention(model, x, norm, attn):
    """Run the model's fast path, capture what `norm` feeds `attn`, and compute that attention's
    full weight matrix naively: (..., h, N, N)."""
    captured = {}
    handle = norm.register_forward_hook(lambda m, i, o: captured.setdefault("y", o))
    with torch.no_grad():
        model(x)
        handle.remove()
        q, k, _ = attn._qkv(captured["y"])
        return torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1)


def test_model1_temporal_attention_is_the_cls_row_summed_per_temporal_index():
    model = create_model("vivit_t16x2_st", **tiny_overrides()).eval()
    x = clip(model)
    block = model.backbone.encoder.blocks[-1]
    full = _naive_attention(model, x, block.norm1, block.attn)  # (B, h, 17, 17)
    row = full[:, :, 0, 1:].mean(1).reshape(2, 4, 4)  # CLS -> (t, s), heads averaged
    expected = row.sum(-1) / row.sum((-1, -2), keepdim=False).unsqueeze(-1)
    with torch.no_grad():
        _, readout = model.forward_with_attention(x)
    torch.testing.assert_close(readout.temporal_tokens, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(readout.spatial.reshape(2, 4, 4), row / row.sum(-1, keepdim=True),
                               atol=1e-6, rtol=1e-5)


def test_model3_temporal_attention_is_received_attention_averaged():
    model = create_model("vivit_t16x2_fsa", **tiny_overrides()).eval()
    x = clip(model, 1)
    block = model.backbone.encoder.blocks[-1]
    w = _naive_attention(model, x, block.norm_t, block.attn_t)  # (S, h, T, T)
    with torch.no_grad():
        _, readout = model.forward_with_attention(x)
    torch.testing.assert_close(readout.temporal_tokens[0], w.mean(dim=(0, 1, 2)), atol=1e-6, rtol=1e-5)


class _ShapeRecorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.shapes.append(tuple(t.shape))
        return out


def test_model1_readout_never_builds_an_n_by_n_matrix():
    model = create_model("vivit_t16x2_st", num_frames=8, image_size=64, num_classes=5, depth=2).eval()
    N = 1 + 4 * 16  # 65 tokens
    x = clip(model, 1)
    with torch.no_grad(), _ShapeRecorder() as recorder:
        model.forward_with_attention(x)
    square = [s for s in recorder.shapes if len(s) >= 2 and s[-1] == N and s[-2] == N]
    assert not square, f"N x N tensors were built: {square}"
    assert any(s[-1] == N and s[-2] == 1 for s in recorder.shapes if len(s) >= 2)  # the CLS row


def test_readout_follows_the_input():
    """Attention is a function of the clip: two different clips give different weights."""
    model = create_model("vivit_t16x2_fe", **tiny_overrides()).eval()
    with torch.no_grad():
        _, a = model.forward_with_attention(clip(model, 1))
        _, b = model.forward_with_attention(clip(model, 1))
    assert not torch.allclose(a.temporal, b.temporal)


@pytest.mark.parametrize("variant", [SPATIO_TEMPORAL, FACTORISED_ENCODER, FACTORISED_SELF_ATTENTION,
                                     FACTORISED_DOT_PRODUCT])
def test_readout_in_training_mode_keeps_gradients(variant):
    code = {SPATIO_TEMPORAL: "st", FACTORISED_ENCODER: "fe", FACTORISED_SELF_ATTENTION: "fsa",
            FACTORISED_DOT_PRODUCT: "fdp"}[variant]
    model = create_model(f"vivit_t16x2_{code}", **tiny_overrides(depth=1, temporal_depth=1))
    logits, readout = model.forward_with_attention(clip(model))
    (logits.sum() + readout.temporal.sum()).backward()
    assert model.patch_embed.proj.weight.grad is not None


# -- scenic's training-time choices (projects/vivit/model.py, model_lib/layers/nn_layers.py) ------
def test_scenic_initialisers_by_default():
    """Head zero, attention and MLP kernels xavier-uniform (q, k, v each as a D x D matrix), MLP
    biases ~1e-6, tubelet convolution LeCun normal, CLS zero; "timm" keeps the old scheme."""
    model = create_model("vivit_t16x2_st", **tiny_overrides())
    D = model.config.hidden_size
    assert torch.count_nonzero(model.head.weight) == 0 and torch.count_nonzero(model.head.bias) == 0
    block = model.backbone.encoder.blocks[0]
    bound = (6 / (D + D)) ** 0.5  # xavier-uniform of one D x D projection
    for part in block.attn.qkv.weight.chunk(3):
        assert part.abs().max() <= bound and part.abs().max() > 0.9 * bound
    assert torch.count_nonzero(block.attn.qkv.bias) == 0
    fc1 = block.mlp.fc1.weight
    assert fc1.abs().max() <= (6 / (fc1.shape[0] + fc1.shape[1])) ** 0.5
    assert block.mlp.fc1.bias.abs().max() < 1e-4 and torch.count_nonzero(block.mlp.fc1.bias) > 0
    conv = model.patch_embed.proj.weight
    fan_in = conv[0].numel()
    assert conv.std().item() == pytest.approx(fan_in ** -0.5, rel=0.1)  # variance 1 / fan_in
    assert conv.abs().max() <= 2 * fan_in ** -0.5 / 0.87962566103423978 + 1e-6  # truncated at 2 std
    assert torch.count_nonzero(model.backbone.encoder.cls_token) == 0
    old = create_model("vivit_t16x2_st", init="timm", **tiny_overrides())
    assert old.head.weight.std().item() == pytest.approx(0.02, rel=0.2)


def test_scenic_init_reaches_every_variant_and_loading_overwrites_it(tmp_path):
    from vivit_desktop.model import load_model, save_model

    for code in CODES:
        model = create_model(f"vivit_t16x2_{code}", **tiny_overrides())
        assert torch.count_nonzero(model.head.weight) == 0, code
        trained = create_model(f"vivit_t16x2_{code}", init="timm", **tiny_overrides()).eval()
        save_model(trained, tmp_path / code, overwrite=True)
        loaded = load_model(tmp_path / f"{code}.safetensors").eval()
        x = clip(trained)
        with torch.no_grad():
            assert torch.equal(loaded(x), trained(x)), code


def test_stochastic_depth_keeps_surviving_branches_unscaled_as_scenic():
    from vivit_desktop.model.layers import DropPath

    torch.manual_seed(0)
    x = torch.randn(64, 5, 8)
    drop = DropPath(0.5).train()
    y = drop(x)
    kept = y.flatten(1).abs().sum(1) > 0
    assert 0 < kept.sum() < 64
    assert torch.equal(y[kept], x[kept])  # scenic: x * (1 - mask), no 1 / (1 - p)
    assert torch.equal(DropPath(0.5).eval()(x), x)
    timm = DropPath(0.5, rescale=True).train()(x)
    kept = timm.flatten(1).abs().sum(1) > 0
    assert torch.allclose(timm[kept], x[kept] * 2)
    model = create_model("vivit_t16x2_st", **tiny_overrides(drop_path=0.3))
    assert not any(b.drop_path.rescale for b in model.backbone.encoder.blocks)
    model = create_model("vivit_t16x2_st", **tiny_overrides(drop_path=0.3, stochastic_depth="timm"))
    assert all(b.drop_path.rescale for b in model.backbone.encoder.blocks)


def test_model3_block_applies_no_stochastic_depth_as_scenic():
    """scenic's EncoderFactorizedSelfAttentionBlock takes droplayer_p and never uses it."""
    model = create_model("vivit_t16x2_fsa", **tiny_overrides(drop_path=0.5)).train()
    assert all(b.drop_path.p == 0.0 for b in model.backbone.encoder.blocks)
    x = clip(model)
    assert torch.equal(model.forward_features(x), model.forward_features(x))  # no dropout either
    fdp = create_model("vivit_t16x2_fdp", **tiny_overrides(drop_path=0.5))
    assert fdp.backbone.encoder.blocks[-1].drop_path.p == pytest.approx(0.5)  # Model 4: EncoderBlock's
    timm = create_model("vivit_t16x2_fsa", **tiny_overrides(drop_path=0.5, stochastic_depth="timm"))
    assert timm.backbone.encoder.blocks[-1].drop_path.p == pytest.approx(0.5)
