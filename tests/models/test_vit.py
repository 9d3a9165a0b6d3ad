import keras
import numpy as np
import pytest

import keras_t2t
from keras_t2t.complexity import count_macs, count_params

TINY = dict(input_shape=(32, 32, 3), depth=1, embed_dim=32, num_heads=2, classes=5)


def vit_parameter_count(dim: int, depth: int, mlp_ratio: float, tokens: int = 196, classes: int = 1000):
    """(total, trainable) of a ViT with 16x16 patches, fixed position table and no qkv bias, by hand."""
    hidden = int(dim * mlp_ratio)
    attention = 3 * dim * dim + (dim * dim + dim)
    mlp = (dim * hidden + hidden) + (hidden * dim + dim)
    block = 2 * dim + attention + 2 * dim + mlp
    trainable = (16 * 16 * 3 * dim + dim) + dim + depth * block + 2 * dim + (dim * classes + classes)
    return trainable + (1 + tokens) * dim, trainable


@pytest.mark.parametrize(
    "name, dim, depth, heads",
    [
        ("vit_small_patch16_224", 768, 8, 8),
        ("vit_dn", 384, 16, 6),
        ("vit_sw", 1024, 4, 16),
        ("vit_resnext", 768, 8, 32),
    ],
)
def test_parameter_counts_of_the_paper_vits(name, dim, depth, heads):
    model = keras_t2t.create_model(name)
    backbone = model.get_layer("backbone")
    assert (backbone.embed_dim, backbone.depth, backbone.num_heads, backbone.tokens_type) == (
        dim,
        depth,
        heads,
        "patch",
    )
    assert count_params(model) == vit_parameter_count(dim, depth, mlp_ratio=3.0)


@pytest.mark.tensorflow_only
def test_vit_s16_has_the_papers_size_and_hand_counted_macs():
    total, trainable = vit_parameter_count(768, 8, 3.0)
    assert (total, trainable) == (48_754_408, 48_603_112)
    assert round(trainable / 1e6, 1) == 48.6  # the paper's "48.6M": its learned weights
    model = keras_t2t.ViT_S16()
    tokens, dim = 197, 768
    attention = tokens * dim * 3 * dim + 2 * tokens * tokens * dim + tokens * dim * dim
    block = attention + 2 * tokens * dim * 3 * dim
    assert count_macs(model) == 196 * (16 * 16 * 3) * dim + 8 * block + dim * 1000


def test_patch_embedding_weights_mirror_the_official_layout():
    model = keras_t2t.create_model("vit_small_patch16_224", **TINY)
    backbone = model.get_layer("backbone")
    shapes = {w.path: tuple(w.shape) for w in backbone.weights if not w.path.startswith("block_")}
    assert shapes == {
        "patch_embed/proj/kernel": (16, 16, 3, 32),  # official patch_embed.proj.weight (32, 3, 16, 16)
        "patch_embed/proj/bias": (32,),
        "class_token/token": (1, 1, 32),
        "position_embedding/embedding": (1, 1 + 4, 32),
        "norm/gamma": (32,),
        "norm/beta": (32,),
    }
    assert "block_0/attn/qkv/kernel" in {w.path for w in backbone.weights}


@pytest.mark.parametrize("name", ["vit_small_patch16_224", "vit_dn"])
def test_keras_save_load_round_trip(tmp_path, name):
    model = keras_t2t.create_model(name, **TINY)
    model.save(tmp_path / "vit.keras")
    restored = keras.saving.load_model(tmp_path / "vit.keras")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(images)), keras.ops.convert_to_numpy(restored(images))
    )


def test_builders_are_documented_and_reject_untiled_sizes():
    assert "ViT patch embedding, embed_dim 384, depth 16" in keras_t2t.ViT_DN.__doc__
    assert "79.0% ImageNet top-1" in keras_t2t.ViT_DN.__doc__
    with pytest.raises(ValueError, match="multiples of 16"):
        keras_t2t.ViT_S16(input_shape=(200, 200, 3))
