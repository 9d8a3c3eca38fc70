"""Foreign weights: Hugging Face ViViT (against transformers itself) and image ViTs."""

import json
import subprocess
import sys

import pytest
import torch

from vivit_desktop.model import (
    CheckpointError,
    ForeignWeightsError,
    convert_hf_vivit,
    create_model,
    image_vit_to_vivit,
    import_hf_vivit,
    init_from_image_vit,
    load_model,
)
from vivit_desktop.model.importers import inflate_patch_kernel, init_from_model1

transformers = pytest.importorskip("transformers")

LABELS = {0: "abseiling", 1: "air drumming", 2: "answering questions", 3: "applauding", 4: "archery"}


def hf_vivit(tmp_path, **overrides):
    config = transformers.VivitConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4,
                                      intermediate_size=96, image_size=32, num_frames=4, num_labels=5,
                                      id2label=LABELS, label2id={v: k for k, v in LABELS.items()}, **overrides)
    model = transformers.VivitForVideoClassification(config).eval()
    with torch.no_grad():  # make the CLS token and biases non-trivial
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    directory = tmp_path / "hf-vivit"
    model.save_pretrained(directory)
    return model, directory


@pytest.mark.parametrize("act", ["gelu_fast", "gelu"])
def test_imported_hf_vivit_gives_transformers_logits(tmp_path, act):
    hf, directory = hf_vivit(tmp_path, hidden_act=act)
    ours = import_hf_vivit(directory)
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        expected = hf(pixel_values=x).logits
        torch.testing.assert_close(ours(x), expected, atol=1e-4, rtol=0)
        logits, _ = ours.forward_with_attention(x)
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0)
    assert ours.card.labels == tuple(LABELS.values())
    assert ours.config.activation == ("gelu_tanh" if act == "gelu_fast" else "gelu")


def test_hf_preprocessing_defaults_come_from_vivit_image_processor(tmp_path):
    _, directory = hf_vivit(tmp_path)
    card = import_hf_vivit(directory).card
    proc = transformers.VivitImageProcessor()
    assert card.resize_shorter == proc.size["shortest_edge"] == 256
    assert card.value_scale == pytest.approx(proc.rescale_factor) and card.value_range() == (-1.0, 1.0)
    assert card.mean == tuple(proc.image_mean) and card.std == tuple(proc.image_std)


def test_preprocessor_config_overrides_the_defaults(tmp_path):
    _, directory = hf_vivit(tmp_path)
    (directory / "preprocessor_config.json").write_text(json.dumps({
        "size": {"shortest_edge": 40}, "rescale_factor": 1 / 255, "offset": False,
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}))
    card = import_hf_vivit(directory).card
    assert card.resize_shorter == 40 and card.value_range() == (0.0, 1.0) and card.mean[0] == 0.485


def test_both_hf_key_spellings_convert_identically(tmp_path):
    hf, directory = hf_vivit(tmp_path)
    config = json.loads((directory / "config.json").read_text())
    from safetensors.torch import load_file

    on_disk = load_file(str(directory / "model.safetensors"))  # vivit.encoder.layer.N.attention.attention.query
    in_memory = hf.state_dict()  # transformers 5: vivit.layers.N.attention.q_proj
    a, _ = convert_hf_vivit(on_disk, config)
    b, _ = convert_hf_vivit(in_memory, config)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k])


def test_pytorch_model_bin_is_read_without_unpickling_code(tmp_path):
    hf, directory = hf_vivit(tmp_path)
    (directory / "model.safetensors").unlink()
    torch.save(hf.state_dict(), directory / "pytorch_model.bin")
    x = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(import_hf_vivit(directory)(x), hf(pixel_values=x).logits, atol=1e-4, rtol=0)


def test_hf_import_errors_name_the_problem(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        import_hf_vivit(tmp_path)
    _, directory = hf_vivit(tmp_path)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "model_type": "vit"}))
    with pytest.raises(CheckpointError, match="model_type 'vit', not 'vivit'"):
        import_hf_vivit(directory)
    (directory / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    with pytest.raises(CheckpointError, match="missing .* weight"):
        import_hf_vivit(directory)
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no weights"):
        import_hf_vivit(directory)


def test_cli_import_writes_a_native_checkpoint_and_refuses_to_overwrite(tmp_path):
    hf, directory = hf_vivit(tmp_path)
    out = tmp_path / "imported"
    cmd = [sys.executable, "-m", "vivit_desktop", "import", str(directory), "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "imported" in done.stdout
    model = load_model(out.with_suffix(".safetensors"))
    x = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), hf(pixel_values=x).logits, atol=1e-4, rtol=0)
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr


def test_import_names_a_fine_tunes_placeholder_classes_from_a_labels_file(tmp_path):
    """A fine-tune's config says LABEL_0..LABEL_4: `--labels FILE` gives them names, for a Hugging
    Face folder and a native checkpoint alike; a file with another number of lines is refused."""
    _, directory = hf_vivit(tmp_path)
    names = tmp_path / "mine.txt"
    names.write_text("reach\ngrasp\nlift\nplace\nrelease\n")
    out = tmp_path / "named"
    done = subprocess.run([sys.executable, "-m", "vivit_desktop", "import", str(directory), "-o", str(out),
                           "--labels", str(names)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert load_model(out.with_suffix(".safetensors")).card.labels == ("reach", "grasp", "lift", "place", "release")
    from vivit_desktop.model.foreign import ScenicOptions, import_checkpoint

    renamed, note = import_checkpoint(out.with_suffix(".safetensors"), ScenicOptions(labels=str(names)))
    assert renamed.card.labels[0] == "reach" and "mine" in note
    names.write_text("reach\ngrasp\n")
    with pytest.raises(CheckpointError, match="name 2 classes; the checkpoint has 5"):
        import_checkpoint(directory, ScenicOptions(labels=str(names)))
    with pytest.raises(CheckpointError, match="--num-frames apply to scenic checkpoints"):
        import_checkpoint(directory, ScenicOptions(num_frames=8))


# -- initialising from an image ViT ---------------------------------------------------------------

def hf_image_vit(**overrides):
    config = transformers.ViTConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4,
                                    intermediate_size=96, image_size=32, patch_size=16, hidden_act="gelu",
                                    layer_norm_eps=1e-12, **overrides)
    model = transformers.ViTModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model


def vivit_like(vit, code, t, frames):
    return create_model(f"vivit_t16x{t}_{code}", hidden_size=64, num_heads=4, mlp_dim=96, depth=2,
                        image_size=32, num_frames=frames, num_classes=3, activation="gelu", layer_norm_eps=1e-12)


@pytest.mark.parametrize("code", ["st", "fe"])
def test_one_frame_vivit_initialised_from_a_vit_is_that_vit(code):
    """With one frame and t = 1, Models 1 and 2's spatial encoder are exactly the image ViT."""
    vit = hf_image_vit()
    model = vivit_like(vit, code, 1, 1).eval()
    init_from_image_vit(model, vit.state_dict())
    image = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = vit(pixel_values=image).last_hidden_state[:, 0]  # final LayerNorm applied, CLS
        if code == "st":
            got = model.forward_features(image.unsqueeze(1))
        else:
            got = model.backbone.encode_frames(model.patch_embed(image.unsqueeze(1)))[0][:, 0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("code", ["st", "fe", "fsa", "fdp"])
@pytest.mark.parametrize("method", ["central_frame", "filter_inflation"])
def test_every_variant_initialises_from_timm_and_hf_names(code, method):
    vit = hf_image_vit()
    model = vivit_like(vit, code, 2, 4)
    left = init_from_image_vit(model, vit.state_dict(), method)
    assert all(k.startswith(("head.", "backbone.temporal.")) or ".norm_t." in k for k in left), left
    timm_names = image_vit_to_vivit(_as_timm(vit.state_dict()), model.config, method)
    hf_names = image_vit_to_vivit(vit.state_dict(), model.config, method)
    assert timm_names.keys() == hf_names.keys()
    for k in timm_names:
        torch.testing.assert_close(timm_names[k], hf_names[k])


def _as_timm(hf_state):
    from vivit_desktop.model.importers import image_vit_to_timm

    return image_vit_to_timm(hf_state)


def test_model3_starts_as_the_spatial_model_because_temporal_attention_is_zero():
    vit = hf_image_vit()
    model = vivit_like(vit, "fsa", 2, 4)
    init_from_image_vit(model, vit.state_dict())
    block = model.backbone.encoder.blocks[0]
    assert torch.count_nonzero(block.attn_t.qkv.weight) == 0 and torch.count_nonzero(block.attn_t.proj.weight) == 0
    x = torch.randn(1, 16, 64)
    with torch.no_grad():
        out, _ = block._time(x, 4, 4, explicit=False)
    torch.testing.assert_close(out, x)


def test_tubelet_inflation_schemes():
    k2 = torch.randn(8, 3, 16, 16)
    central = inflate_patch_kernel(k2, 3, "central_frame")
    assert torch.equal(central[:, :, 1], k2) and torch.count_nonzero(central[:, :, [0, 2]]) == 0
    inflated = inflate_patch_kernel(k2, 2, "filter_inflation")
    torch.testing.assert_close(inflated.sum(2), k2)
    # on a static clip both schemes embed a tubelet exactly as the 2D kernel embeds the frame
    frame = torch.randn(1, 3, 16, 16)
    static = frame.unsqueeze(2).repeat(1, 1, 2, 1, 1)
    ref = torch.nn.functional.conv2d(frame, k2, stride=16)
    for kernel in (inflate_patch_kernel(k2, 2, "central_frame"), inflated):
        torch.testing.assert_close(torch.nn.functional.conv3d(static, kernel, stride=(2, 16, 16))[:, :, 0], ref,
                                   atol=1e-5, rtol=1e-5)


def test_position_embeddings_are_repeated_over_time_and_resized():
    vit = hf_image_vit()
    model = create_model("vivit_t16x2_st", hidden_size=64, num_heads=4, mlp_dim=96, depth=2,
                         image_size=64, num_frames=4, num_classes=3)
    weights = image_vit_to_vivit(vit.state_dict(), model.config)
    pos = weights["backbone.encoder.pos_embed"]  # (1, 1 + 2 * 16, 64): 2x2 grid resized to 4x4
    assert pos.shape == (1, 33, 64)
    torch.testing.assert_close(pos[:, 1:17], pos[:, 17:33])


def test_mismatched_image_vit_is_refused():
    vit = hf_image_vit()
    model = create_model("vivit_t16x2_st", num_frames=4, image_size=32, num_classes=3)
    with pytest.raises(ForeignWeightsError, match="2 layers of width 64.*12 of width 192"):
        init_from_image_vit(model, vit.state_dict())
    with pytest.raises(ForeignWeightsError, match="not an image ViT"):
        image_vit_to_vivit({"foo": torch.zeros(1)}, model.config)


def small(code, num_classes=3):
    return create_model(f"vivit_t16x2_{code}", hidden_size=64, num_heads=4, mlp_dim=96, depth=2, temporal_depth=1,
                        image_size=32, num_frames=4, num_classes=num_classes)


def trained_model1():
    model = small("st")
    with torch.no_grad():  # stands in for training: nothing left at its initial value
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.mark.parametrize("code", ["st", "fe", "fsa", "fdp"])
def test_every_variant_starts_from_a_trained_model1(code):
    source = trained_model1()
    model = small(code)
    left = init_from_model1(model, source.state_dict())
    assert all(k.startswith("backbone.temporal.") or ".norm_t." in k for k in left), left
    own = model.state_dict()
    for name in ("patch_embed.proj.weight", "head.weight", "head.bias"):
        assert torch.equal(own[name], source.state_dict()[name])
    if code == "st":  # Model 1 from Model 1 is the same model
        clip = torch.randn(2, 4, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(model.eval()(clip), source(clip))
    if code == "fe":  # the spatial positions are Model 1's, averaged over its two time indices
        spacetime = source.backbone.encoder.pos_embed[:, 1:].reshape(1, 2, 4, 64)
        torch.testing.assert_close(model.backbone.spatial.pos_embed[:, 1:], spacetime.mean(1))
    if code == "fsa":
        assert torch.count_nonzero(model.backbone.encoder.blocks[1].attn_t.qkv.weight) == 0


def test_model1_of_another_size_or_classes():
    source = trained_model1()
    other_classes = small("fdp", num_classes=5)
    left = init_from_model1(other_classes, source.state_dict())
    assert left == ["head.bias", "head.weight"]  # a head for other classes starts afresh
    bigger = create_model("vivit_t16x2_fdp", hidden_size=64, num_heads=4, mlp_dim=96, depth=2, image_size=48,
                          num_frames=4, num_classes=3)
    with pytest.raises(ForeignWeightsError, match="train Model 1 at the same size"):
        init_from_model1(bigger, source.state_dict())
    deeper = create_model("vivit_t16x2_fdp", hidden_size=64, num_heads=4, mlp_dim=96, depth=3, image_size=32,
                          num_frames=4, num_classes=3)
    left = init_from_model1(deeper, source.state_dict())
    assert left and all(k.startswith("backbone.encoder.blocks.2.") for k in left)
    # a deeper Model 1 into a shallower model
    with pytest.raises(ForeignWeightsError, match="do not fit the model .*start from weights of the model's size"):
        init_from_model1(small("fdp"), create_model("vivit_t16x2_st", hidden_size=64, num_heads=4, mlp_dim=96, depth=3,
                                                    image_size=32, num_frames=4, num_classes=3).state_dict())


def test_placeholder_labels_become_the_shipped_list_of_as_many_classes(tmp_path):
    """google/vivit-b-16x2-kinetics400's config names its classes LABEL_0..LABEL_399 only."""
    config = transformers.VivitConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2,
                                      intermediate_size=64, image_size=32, num_frames=4, num_labels=400)
    assert config.id2label[116] == "LABEL_116"
    directory = tmp_path / "hf-k400"
    transformers.VivitForVideoClassification(config).save_pretrained(directory)
    model = import_hf_vivit(directory)
    assert model.card.labels[116] == "eating spaghetti" and len(model.card.labels) == 400
    assert "kinetics400" in model.card.provenance["labels"]
