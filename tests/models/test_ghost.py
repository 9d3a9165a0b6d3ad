import keras
import numpy as np
import pytest

import keras_t2t
from keras_t2t.complexity import count_params
from keras_t2t.layers import GhostBlock

TINY = dict(input_shape=(32, 32, 3), depth=1, embed_dim=16, num_heads=2, token_dim=8, classes=5)
# Per ViT-S/16 block (counted in test_vit): qkv 768 x 2304 becomes q, k, v of 768 x 384 plus 3 x 384
# cheap scales; fc1 768 x 2304 (+ bias) becomes 768 x 768 (+ bias) plus 2 x 768 cheap scales.
QKV_CHANGE = 3 * 768 * 384 + 3 * 384 - 768 * 2304
FC1_CHANGE = (768 * 768 + 768 + 2 * 768) - (768 * 2304 + 2304)
VIT_GHOST_CHANGE = 8 * (QKV_CHANGE + FC1_CHANGE)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("t2t_vit_16_ghost", (16_253_262, 16_173_518)),  # the reference table of the official release
        ("vit_ghost", (48_754_408 + VIT_GHOST_CHANGE, 48_603_112 + VIT_GHOST_CHANGE)),
    ],
)
def test_parameter_counts(name, expected):
    model = keras_t2t.create_model(name)
    assert count_params(model) == expected
    blocks = model.get_layer("backbone").transformer_blocks
    assert all(isinstance(block, GhostBlock) for block in blocks)


def test_block_weights_mirror_the_official_layout():
    backbone = keras_t2t.create_model("t2t_vit_16_ghost", mlp_ratio=3.0, **TINY).get_layer("backbone")
    block = [w for w in backbone.weights if w.path.startswith("block_0/")]
    shapes = {w.path.removeprefix("block_0/"): tuple(w.shape) for w in block}
    # official blocks.0.<key> with Linear weights transposed and depthwise (C, 1, 1) kernels as (1, C, 1)
    assert shapes == {
        "norm1/gamma": (16,),
        "norm1/beta": (16,),
        "attn/q/kernel": (16, 8),
        "attn/k/kernel": (16, 8),
        "attn/v/kernel": (16, 8),
        "attn/cheap_operation_q/kernel": (1, 8, 1),
        "attn/cheap_operation_k/kernel": (1, 8, 1),
        "attn/cheap_operation_v/kernel": (1, 8, 1),
        "attn/proj/kernel": (16, 16),
        "attn/proj/bias": (16,),
        "norm2/gamma": (16,),
        "norm2/beta": (16,),
        "mlp/fc1/kernel": (16, 16),
        "mlp/fc1/bias": (16,),
        "mlp/cheap_operation2/kernel": (1, 16, 1),
        "mlp/cheap_operation3/kernel": (1, 16, 1),
        "mlp/fc2/kernel": (48, 16),
        "mlp/fc2/bias": (16,),
    }


@pytest.mark.parametrize("name", ["t2t_vit_16_ghost", "vit_ghost"])
def test_keras_save_load_round_trip(tmp_path, name):
    model = keras_t2t.create_model(name, **TINY)
    model.save(tmp_path / "ghost.keras")
    restored = keras.saving.load_model(tmp_path / "ghost.keras")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(images)), keras.ops.convert_to_numpy(restored(images))
    )


def test_mixed_precision_forward_is_finite():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = keras_t2t.create_model("t2t_vit_16_ghost", include_preprocessing=False, **TINY)
    out = keras.ops.convert_to_numpy(
        model(np.random.default_rng(0).normal(0, 40, (2, 32, 32, 3)).astype("float32"))
    )
    assert out.dtype == np.float32 and np.all(np.isfinite(out))


def test_ghost_needs_an_integer_mlp_ratio():
    with pytest.raises(ValueError, match="integer mlp_ratio"):
        keras_t2t.create_model("vit_ghost", **{**TINY, "mlp_ratio": 2.5})
