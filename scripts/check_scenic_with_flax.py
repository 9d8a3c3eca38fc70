"""Check the scenic importer against real Flax, where JAX and Flax are installed (they are not a
dependency of the program; `pip install jax flax` in a separate environment, with torch).

1. The reader: trees written by `flax.serialization.to_bytes` (float32, bfloat16, a chunked
   array, numpy scalars, optimizer-like state) come back equal.
2. The converter: a Model 1 built from Flax's own layers, named as scenic's
   scenic/projects/vivit/model.py names them (embedding, cls, Transformer/posembed_input,
   encoderblock_N/{LayerNorm_0, MultiHeadDotProductAttention_0, LayerNorm_1, MlpBlock_0/Dense_0,1},
   encoder_norm, output_projection), gives the logits of the converted PyTorch model.

    python scripts/check_scenic_with_flax.py       # prints the largest differences; exit 1 if off
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flax.linen as nn  # noqa: E402
import flax.serialization as serialization  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import torch  # noqa: E402

from vivit_desktop.model.scenic import convert_scenic_vivit, read_flax_checkpoint  # noqa: E402
from vivit_desktop.model.vivit import ViViT  # noqa: E402


class MlpBlock(nn.Module):
    mlp_dim: int

    @nn.compact
    def __call__(self, x):
        y = nn.Dense(self.mlp_dim)(x)  # Dense_0
        y = nn.gelu(y)  # approximate=True, as scenic's attention_layers.MlpBlock uses it
        return nn.Dense(x.shape[-1])(y)  # Dense_1


class EncoderBlock(nn.Module):
    mlp_dim: int
    num_heads: int

    @nn.compact
    def __call__(self, inputs):
        x = nn.LayerNorm()(inputs)
        x = nn.MultiHeadDotProductAttention(num_heads=self.num_heads)(x, x)
        x = x + inputs
        y = nn.LayerNorm()(x)
        y = MlpBlock(self.mlp_dim)(y)
        return x + y


class Encoder(nn.Module):
    depth: int
    mlp_dim: int
    num_heads: int

    @nn.compact
    def __call__(self, x):
        pos = self.param("posembed_input", lambda k: {"pos_embedding": 0.02 * jax.random.normal(k, (1,) + x.shape[1:])})
        x = x + pos["pos_embedding"]
        for i in range(self.depth):
            x = EncoderBlock(self.mlp_dim, self.num_heads, name=f"encoderblock_{i}")(x)
        return nn.LayerNorm(name="encoder_norm")(x)


class Model1(nn.Module):
    """scenic's ViViT with attention_config.type 'spacetime', classifier 'token'."""
    hidden: int = 48
    depth: int = 2
    heads: int = 4
    mlp: int = 96
    classes: int = 7
    tubelet: tuple = (2, 8, 8)

    @nn.compact
    def __call__(self, x):  # (B, T, H, W, C)
        x = nn.Conv(self.hidden, self.tubelet, strides=self.tubelet, padding="VALID", name="embedding")(x)
        n, t, h, w, c = x.shape
        x = x.reshape(n, t * h * w, c)
        cls = self.param("cls", nn.initializers.normal(0.02), (1, 1, c))
        x = jnp.concatenate([jnp.tile(cls, [n, 1, 1]), x], axis=1)
        x = Encoder(self.depth, self.mlp, self.heads, name="Transformer")(x)
        return nn.Dense(self.classes, name="output_projection")(x[:, 0])


def check_reader(folder: Path) -> float:
    rng = np.random.default_rng(0)
    big = rng.standard_normal((64, 33)).astype(np.float32)
    tree = {"optimizer": {"target": {"a": rng.standard_normal((3, 4)).astype(np.float32), "big": big,
                                     "b16": jnp.asarray(rng.standard_normal(10), dtype=jnp.bfloat16),
                                     "i": np.arange(5, dtype=np.int32)},
                          "state": {"step": np.int64(3), "c": 1.5 + 2j}}}
    old = serialization.MAX_CHUNK_SIZE
    serialization.MAX_CHUNK_SIZE = 1024  # the big array is written chunked
    try:
        data = serialization.to_bytes(tree)
    finally:
        serialization.MAX_CHUNK_SIZE = old
    path = folder / "checkpoint_12"
    path.write_bytes(data)
    back = read_flax_checkpoint(folder)["optimizer"]
    target = back["target"]
    assert np.array_equal(target["a"], tree["optimizer"]["target"]["a"])
    assert np.array_equal(target["big"], big), "chunked array"
    assert np.array_equal(target["i"], np.arange(5))
    assert back["state"]["step"] == 3 and back["state"]["c"] == 1.5 + 2j
    b16 = np.asarray(tree["optimizer"]["target"]["b16"], dtype=np.float32)
    return float(np.abs(target["b16"] - b16).max())


def check_model(folder: Path) -> float:
    model = Model1()
    x = np.random.default_rng(1).standard_normal((2, 8, 32, 32, 3)).astype(np.float32)
    params = model.init(jax.random.PRNGKey(0), x)["params"]
    # the output projection starts at zero in scenic; give it values so the check means something
    params = jax.tree_util.tree_map(lambda p: p + 0.05 * jax.random.normal(jax.random.PRNGKey(2), p.shape), params)
    reference = np.asarray(model.apply({"params": params}, x))
    path = folder / "model1"
    path.write_bytes(serialization.to_bytes({"params": params, "opt_state": {"mu": params}}))
    from vivit_desktop.model.scenic import find_params

    state, config = convert_scenic_vivit(find_params(read_flax_checkpoint(path)), num_frames=8, image_size=32)
    torch_model = ViViT(config)
    torch_model.load_state_dict(state)
    with torch.no_grad():
        ours = torch_model(torch.from_numpy(x).permute(0, 1, 4, 2, 3).contiguous()).numpy()  # (B, T, C, H, W)
    return float(np.abs(ours - reference).max())


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        b16 = check_reader(Path(tmp))
        logits = check_model(Path(tmp))
    print(f"reader: float32, int, scalars, complex and a chunked array equal; bfloat16 max diff {b16:.1e}")
    print(f"Model 1 of Flax layers vs the converted PyTorch model: max logit diff {logits:.2e}")
    ok = b16 == 0.0 and logits < 1e-4
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
