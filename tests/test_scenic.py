"""Scenic (JAX/Flax) ViViT checkpoints: read without JAX, converted for every variant and layout,
imported from the command line; bad files refused in one line with nothing written; the
shipped label lists; models with several heads (Epic-Kitchens' verbs and nouns)."""

import json
import subprocess
import sys

import msgpack
import numpy as np
import pytest
import torch

from vivit_desktop.model import CheckpointError, ModelCard, create_model, load_model
from vivit_desktop.model.config import ConfigError
from vivit_desktop.model.labels import guess_label_set, label_list, label_set
from vivit_desktop.model.scenic import (
    convert_scenic_vivit,
    find_params,
    import_scenic,
    read_flax_checkpoint,
    read_init_weights,
)

from scenic_fixtures import LAYOUTS, scenic_params, serialize, write_scenic_checkpoint


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vivit_desktop", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _logits(model, x):
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("variant", ["st", "fe", "fsa", "fdp"])
def test_every_variant_in_every_layout_gives_the_reference_logits(tmp_path, variant, layout):
    path = tmp_path / "checkpoint"
    reference = write_scenic_checkpoint(path, variant, layout)
    model = import_scenic(path, num_frames=8, variant="fdp" if variant == "fdp" else None)
    assert model.config == reference.config
    x = torch.randn(2, 8, 3, 32, 32)
    assert torch.allclose(_logits(model, x), _logits(reference, x), atol=1e-6)


def test_bfloat16_and_chunked_arrays_are_read_as_flax_writes_them(tmp_path):
    path = tmp_path / "checkpoint"
    reference = write_scenic_checkpoint(path, "fe", "optax", bfloat16=True, chunk_bytes=4096)
    tree = read_flax_checkpoint(path)
    assert tree["params"]["embedding"]["kernel"].dtype == np.float32  # widened from bfloat16
    model = import_scenic(path)
    # bfloat16 keeps 8 bits of mantissa: every weight within a relative 2**-8 of the original
    for name, value in model.state_dict().items():
        original = reference.state_dict()[name]
        assert torch.allclose(value, original, rtol=2 ** -8, atol=1e-30), name
    x = torch.randn(1, 8, 3, 32, 32)
    assert torch.allclose(_logits(model, x), _logits(reference, x), atol=2e-2)


def test_a_folder_of_checkpoints_reads_the_newest_step(tmp_path):
    write_scenic_checkpoint(tmp_path / "checkpoint_100", "st", "bare", num_classes=3)
    newest = write_scenic_checkpoint(tmp_path / "checkpoint_2000", "st", "bare", num_classes=4)
    model = import_scenic(tmp_path, num_frames=8)
    assert model.config.num_classes == 4
    x = torch.randn(1, 8, 3, 32, 32)
    assert torch.allclose(_logits(model, x), _logits(newest, x), atol=1e-6)


def test_sizes_come_from_the_shapes_and_the_split_from_the_defaults_or_the_options():
    # ViViT-B/16x2 Model 1 tokens with the official 32 frames of 224 px, on the meta device
    with torch.device("meta"):
        reference = create_model("vivit_b16x2_st", num_classes=400)
    params = {"embedding": {"kernel": np.zeros((2, 16, 16, 3, 768), np.float32)}}
    assert reference.config.num_frames == 32
    # the shape-only part of the converter: the split of 16*196 tokens
    from vivit_desktop.model.scenic import _split_tokens

    assert _split_tokens(16 * 196, 2, 16, None, None) == (32, 224)
    assert _split_tokens(16 * 196, 2, 16, None, 448) == (8, 448)
    assert _split_tokens(16 * 196, 2, 16, 128, None) == (128, 112)
    with pytest.raises(ValueError, match="do not fit"):
        _split_tokens(16 * 196, 2, 16, 30, 224)
    del params


def test_model_3_order_and_model_4_need_saying_and_contradictions_are_refused(tmp_path):
    path = tmp_path / "fdp"
    write_scenic_checkpoint(path, "fdp", "bare")
    with pytest.raises(CheckpointError, match="say --variant fdp"):
        import_scenic(path, num_frames=8)
    with pytest.raises(CheckpointError, match="Model 4"):
        import_scenic(path, num_frames=8, variant="st")
    fsa = tmp_path / "fsa"
    write_scenic_checkpoint(fsa, "fsa", "bare")
    assert import_scenic(fsa, num_frames=8, attention_order="space_time").config.attention_order == "space_time"
    with pytest.raises(CheckpointError, match="names are those of factorised_self_attention"):
        import_scenic(fsa, num_frames=8, variant="fe")


def test_a_scenic_image_vit_is_refused_by_import_and_starts_training(tmp_path):
    vivit = create_model("vivit_t16x2_st", num_frames=8, image_size=32, num_classes=5)
    params = scenic_params(vivit)
    kernel = params["embedding"]["kernel"]  # (t, p, p, C, D) -> an image ViT's (p, p, C, D)
    params["embedding"]["kernel"] = kernel[kernel.shape[0] // 2].copy()
    params["Transformer"]["posembed_input"]["pos_embedding"] = np.random.default_rng(0).standard_normal(
        (1, 1 + 4, 192)).astype(np.float32)
    path = tmp_path / "vit"
    path.write_bytes(serialize({"params": params}))
    with pytest.raises(CheckpointError, match="image ViT.*train --init"):
        import_scenic(path)
    state = read_init_weights(path)
    model = create_model("vivit_t16x2_fe", num_frames=8, image_size=32, num_classes=5)
    from vivit_desktop.model.importers import init_from_image_vit

    left = init_from_image_vit(model, state)
    assert not any(k.startswith("backbone.spatial.blocks.") for k in left)  # the image ViT's blocks were used
    assert torch.equal(model.backbone.spatial.blocks[0].attn.qkv.weight, vivit.backbone.encoder.blocks[0].attn.qkv.weight)


def test_find_params_names_what_it_found_when_there_are_none():
    with pytest.raises(ValueError, match="no ViViT parameters.*holds: hello"):
        find_params({"hello": {"world": np.zeros(3)}})


def test_the_converter_is_pure_and_reads_flattened_names():
    model = create_model("vivit_t16x2_fe", num_frames=8, image_size=32, num_classes=5)
    params = scenic_params(model)
    flat = {}

    def walk(tree, prefix=""):
        for k, v in tree.items():
            walk(v, f"{prefix}{k}/") if isinstance(v, dict) else flat.__setitem__(prefix + k, v)

    walk(params)
    before = {k: v.copy() for k, v in flat.items()}
    state, config = convert_scenic_vivit(flat)
    assert config.variant == "factorised_encoder" and config.temporal_depth == model.config.temporal_depth
    assert all(np.array_equal(before[k], flat[k]) for k in flat)  # inputs untouched
    assert set(state) == set(model.state_dict())


# -- the command line ---------------------------------------------------------------------------

def test_import_command_writes_a_model_that_analyses_with_shipped_labels(tmp_path):
    src = tmp_path / "checkpoint"
    reference = write_scenic_checkpoint(src, "fe", "optimizer", num_classes=397)
    out = tmp_path / "ek"
    done = run("import", str(src), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "epic-kitchens-100" in done.stdout and "Model 2" in done.stdout
    model = load_model(out.with_suffix(".safetensors"))
    card = model.card
    assert card.multi_head and [h[0] for h in card.head_slices()] == ["verb", "noun"]
    assert card.labels[0] == label_list("epic_kitchens_100_nouns")[0]
    assert card.value_range() == pytest.approx((-1.0, 1.0)) and card.resize_shorter == round(32 * 256 / 224)
    assert card.frame_stride == 1  # scenic's Epic-Kitchens config samples every frame (Kinetics: every 2nd)
    assert card.provenance["source"] == "scenic"
    x = torch.randn(1, 8, 3, 32, 32)
    assert torch.allclose(_logits(model, x), _logits(reference, x), atol=1e-6)
    probs = model.probabilities(_logits(model, x))[0]
    assert probs[:300].sum() == pytest.approx(1, abs=1e-5) and probs[300:].sum() == pytest.approx(1, abs=1e-5)


def _garbage(path):
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))


def _truncated(path):
    write_scenic_checkpoint(path, "st", "bare")
    path.write_bytes(path.read_bytes()[:3000])


def _unrelated(path):
    path.write_bytes(msgpack.packb({"hello": "world", "numbers": [1, 2, 3]}))


def _resnet(path):
    tree = {"params": {"conv_init": {"kernel": np.zeros((7, 7, 3, 64), np.float32)},
                       "output_projection": {"kernel": np.zeros((64, 10), np.float32), "bias": np.zeros(10)}}}
    path.write_bytes(serialize(tree))


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    (_truncated, "truncated"),
    (_garbage, "not a Flax"),
    (_unrelated, "no ViViT parameters"),
    (_resnet, "missing parameter embedding/kernel"),
])
def test_bad_checkpoints_get_one_line_exit_1_and_no_output(tmp_path, make, message):
    src = tmp_path / "checkpoint"
    make(src)
    out = tmp_path / "out"
    done = run("import", str(src), "-o", str(out))
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [src]


def test_import_refuses_to_overwrite_without_force_and_keeps_the_old_files(tmp_path):
    src = tmp_path / "checkpoint"
    write_scenic_checkpoint(src, "st", "bare")
    out = tmp_path / "m"
    assert run("import", str(src), "-o", str(out), "--num-frames", "8").returncode == 0
    before = out.with_suffix(".safetensors").read_bytes()
    write_scenic_checkpoint(src, "st", "bare", num_classes=3)
    done = run("import", str(src), "-o", str(out), "--num-frames", "8")
    assert done.returncode == 1 and "--force" in done.stderr
    assert out.with_suffix(".safetensors").read_bytes() == before
    done = run("import", str(src), "-o", str(out), "--num-frames", "8", "--force", "--labels", "kinetics400")
    assert done.returncode == 1 and "5 classes but 400 labels" not in done.stderr and "400 labels" in done.stderr


# -- labels -------------------------------------------------------------------------------------

def test_shipped_label_lists_have_their_lengths_and_known_entries():
    k400, k600 = label_list("kinetics400"), label_list("kinetics600")
    assert len(k400) == 400 and k400[0] == "abseiling" and k400[116] == "eating spaghetti" and k400[-1] == "zumba"
    assert len(k600) == 600 and k600[1] == "acting in play" and k600[-1] == "zumba"
    verbs, nouns = label_list("epic_kitchens_100_verbs"), label_list("epic_kitchens_100_nouns")
    assert len(verbs) == 97 and verbs[:3] == ("take", "put", "wash") and verbs[79] == "let-go"
    assert len(nouns) == 300 and nouns[:3] == ("tap", "spoon", "plate") and nouns[222] == "label"
    for labels in (k400, k600, verbs, nouns):
        assert len(set(labels)) == len(labels)
    assert len(label_set("epic-kitchens-100")) == 397 and guess_label_set(600).name == "kinetics600"
    assert guess_label_set(5) is None


# -- several heads ------------------------------------------------------------------------------

def _two_head_card(**extra):
    config = create_model("vivit_t16x2_st", num_frames=8, image_size=32, num_classes=5).config
    return ModelCard(arch=config, labels=("onion", "pan", "knife", "cut", "wash"),
                     heads=(("verb", 3, 2), ("noun", 0, 3)), **extra)


def test_a_card_with_heads_round_trips_and_bad_heads_are_refused():
    card = _two_head_card()
    again = ModelCard.from_json(card.to_json())
    assert again == card and again.qualified_labels[3] == "verb: cut"
    assert json.loads(card.to_json())["heads"][0] == {"name": "verb", "start": 3, "size": 2}
    for heads, message in [((("a", 0, 2), ("b", 3, 2)), "gap or overlap"), ((("a", 0, 2),), "cover 2"),
                           ((("a", 0, 3), ("a", 3, 2)), "unique")]:
        with pytest.raises(ConfigError, match=message):
            card.replace(heads=heads)


def test_results_of_a_two_head_model_name_both_heads(tmp_path):
    from vivit_desktop.engine.results import AnalysisResult, WindowResult

    card = _two_head_card(frame_stride=1)
    # nouns: onion wins; verbs: cut wins in the first window, wash in the second
    p1 = np.array([0.7, 0.2, 0.1, 0.9, 0.1])
    p2 = np.array([0.6, 0.3, 0.1, 0.2, 0.8])
    windows = [WindowResult(0, 3, tuple(range(0, 8)), p1, np.full(8, 1 / 8), 0.01),
               WindowResult(1, 11, tuple(range(8, 16)), p2, np.full(8, 1 / 8), 0.01)]
    result = AnalysisResult("clip.mp4", 8.0, 16, 0, 16, card, 8, windows, 0.1)
    segments = result.segments()
    assert [s["label"] for s in segments] == ["cut + onion", "wash + onion"]
    assert segments[0]["confidence"] == pytest.approx(0.9 * 0.7)
    data = result.to_dict(top_k=1)
    assert data["windows"][0]["top"] == [["verb: cut", 0.9], ["noun: onion", 0.7]]
    assert data["frames"][0]["heads"] == {"verb": ["cut", 0.9], "noun": ["onion", 0.7]}
    assert data["model"]["heads"][1] == {"name": "noun", "start": 0, "size": 3}
    json.dumps(data, allow_nan=False)
    written = result.write_csv(tmp_path / "r.csv")
    header = [line for line in written[0].read_text().splitlines() if not line.startswith("#")][0]
    assert "p_verb: cut" in header and "p_noun: onion" in header
    again = AnalysisResult.from_dict(result.to_dict(per_frame=False), card)
    assert again.segments() == segments
