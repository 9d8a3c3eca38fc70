"""Native checkpoints: round trips, refusal to overwrite, and every bad file named clearly."""

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from conftest import tiny_overrides
from vivit_desktop.model import CheckpointError, ModelCard, create_model, load_model, save_model
from vivit_desktop.model.config import CARD_FORMAT

CODES = ("st", "fe", "fsa", "fdp")


def saved(tmp_path: Path, code: str = "st", name: str = "m"):
    model = create_model(f"vivit_t16x2_{code}", labels=[f"label {i}" for i in range(5)],
                         **{k: v for k, v in tiny_overrides().items() if k != "num_classes"}).eval()
    weights, card = save_model(model, tmp_path / name)
    return model, weights, card


@pytest.mark.parametrize("code", CODES)
def test_round_trip_gives_the_same_logits_and_card(tmp_path, code):
    model, weights, card = saved(tmp_path, code)
    assert weights.name == "m.safetensors" and card.name == "m.json"
    loaded = load_model(weights)
    assert loaded.card == model.card and not loaded.training
    x = torch.randn(1, 8, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), atol=0, rtol=0)
    # the card, the stem, or the weights path all name the same checkpoint
    assert load_model(card).card.labels[1] == "label 1"
    assert load_model(tmp_path / "m").card.variant == model.card.variant


def test_card_json_is_plain_and_documented(tmp_path):
    _, _, card = saved(tmp_path, "fe")
    data = json.loads(card.read_text())
    assert data["format"] == CARD_FORMAT and data["version"] == 1
    assert data["arch"]["variant"] == "factorised_encoder" and data["arch"]["num_frames"] == 8
    for key in ("labels", "frame_stride", "mean", "std", "value_scale", "value_offset", "provenance", "evaluation"):
        assert key in data
    assert ModelCard.from_dict(data).labels == tuple(f"label {i}" for i in range(5))


def test_save_refuses_to_overwrite_and_leaves_no_partial_files(tmp_path):
    model, weights, card = saved(tmp_path)
    before = weights.read_bytes()
    other = create_model("vivit_t16x2_st", **tiny_overrides())
    with pytest.raises(FileExistsError, match="already exists"):
        save_model(other, tmp_path / "m")
    assert weights.read_bytes() == before
    save_model(other, tmp_path / "m", overwrite=True)
    assert weights.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


def test_loading_a_plain_pytorch_state_dict_works(tmp_path):
    model, weights, card = saved(tmp_path)
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    (tmp_path / "plain.json").write_text(card.read_text())
    loaded = load_model(tmp_path / "plain.pt")
    torch.testing.assert_close(loaded.head.weight, model.head.weight)


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {_Exploit.marker}",))


def _plain_pickle(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f)


@pytest.mark.parametrize("write, filename", [(_plain_pickle, "evil.pt"), (torch.save, "evil.pth")],
                         ids=["legacy-pickle", "zip-pytorch"])
def test_a_pickle_carrying_code_is_refused_and_never_run(tmp_path, write, filename):
    _, _, card = saved(tmp_path)
    _Exploit.marker = tmp_path / "pwned"
    write({"head.weight": _Exploit()}, tmp_path / filename)
    (tmp_path / filename).with_suffix(".json").write_text(card.read_text())
    with pytest.raises(CheckpointError, match=rf"{filename.replace('.', '[.]')}.*pickled Python objects.*refused"):
        load_model(tmp_path / filename)
    assert not _Exploit.marker.exists()


def test_truncated_safetensors_is_named(tmp_path):
    _, weights, _ = saved(tmp_path)
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"m\.safetensors.*truncated or corrupt"):
        load_model(weights)


def test_empty_file_is_named(tmp_path):
    _, weights, _ = saved(tmp_path)
    weights.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"m\.safetensors.*empty"):
        load_model(weights)


def test_weights_of_another_variant_are_named(tmp_path):
    _, st_weights, _ = saved(tmp_path, "st", "st")
    _, fe_weights, fe_card = saved(tmp_path, "fe", "fe")
    st_weights.replace(fe_weights)  # Model 1 weights under Model 2's card
    with pytest.raises(CheckpointError, match=r"fe\.safetensors.*weights are for a spatio_temporal model but "
                                              r"the card says factorised_encoder"):
        load_model(fe_weights)


def test_asking_for_another_variant_is_an_error(tmp_path):
    _, weights, _ = saved(tmp_path, "fsa")
    with pytest.raises(CheckpointError, match="factorised_self_attention checkpoint, not spatio_temporal"):
        load_model(weights, variant="spatio_temporal")


def _rewrite(weights: Path, change):
    from safetensors.torch import load_file

    state = load_file(str(weights))
    change(state)
    save_file(state, str(weights))


def test_missing_keys_are_listed(tmp_path):
    _, weights, _ = saved(tmp_path)
    _rewrite(weights, lambda s: s.pop("head.bias"))
    with pytest.raises(CheckpointError, match=r"m\.safetensors: missing 1 weight\(s\): head\.bias"):
        load_model(weights)


def test_extra_keys_are_listed(tmp_path):
    _, weights, _ = saved(tmp_path)
    _rewrite(weights, lambda s: s.__setitem__("head.extra", torch.zeros(3)))
    with pytest.raises(CheckpointError, match=r"unexpected 1 weight\(s\): head\.extra"):
        load_model(weights)


def test_wrong_shapes_are_listed(tmp_path):
    _, weights, _ = saved(tmp_path)
    _rewrite(weights, lambda s: s.__setitem__("head.weight", torch.zeros(7, 192)))
    with pytest.raises(CheckpointError, match=r"head\.weight is \(7, 192\), expected \(5, 192\)"):
        load_model(weights)


def test_nan_weights_are_refused(tmp_path):
    _, weights, _ = saved(tmp_path)
    _rewrite(weights, lambda s: s["head.bias"].fill_(float("nan")))
    with pytest.raises(CheckpointError, match="NaN or infinity: head.bias"):
        load_model(weights)


def test_missing_and_broken_cards_are_named(tmp_path):
    _, weights, card = saved(tmp_path)
    text = card.read_text()
    card.unlink()
    with pytest.raises(CheckpointError, match=r"m\.json: the model card is missing"):
        load_model(weights)
    card.write_text("{not json")
    with pytest.raises(CheckpointError, match=r"m\.json: invalid model card: .*not valid JSON"):
        load_model(weights)
    data = json.loads(text)
    data["arch"]["__import__"] = "os"
    card.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="unknown arch field"):
        load_model(weights)
    data = json.loads(text)
    data["arch"]["depth"] = "12"
    card.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="arch field 'depth' must be int"):
        load_model(weights)
    data = json.loads(text)
    data["labels"] = ["only one"]
    card.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="1 labels but the model has 5 classes"):
        load_model(weights)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"nothing\.safetensors: no such checkpoint"):
        load_model(tmp_path / "nothing")
