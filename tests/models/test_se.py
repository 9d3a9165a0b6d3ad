import keras
import numpy as np
import pytest

import keras_t2t
from keras_t2t.complexity import count_params
from keras_t2t.layers import SqueezeExcitationBlock

TINY = dict(input_shape=(32, 32, 3), depth=1, embed_dim=32, num_heads=2, token_dim=8, classes=5)
# Each block's SE adds Dense 768 -> 48 and 48 -> 768 without bias to ViT-S/16 (counted in test_vit).
VIT_SE_EXTRA = 8 * 2 * 768 * (768 // 16)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("t2t_vit_14_se", (21_803_598, 21_723_854)),  # the reference table of the official release
        ("vit_se", (48_754_408 + VIT_SE_EXTRA, 48_603_112 + VIT_SE_EXTRA)),
    ],
)
def test_parameter_counts(name, expected):
    model = keras_t2t.create_model(name)
    assert count_params(model) == expected
    blocks = model.get_layer("backbone").transformer_blocks
    assert all(isinstance(block, SqueezeExcitationBlock) for block in blocks)


def test_se_weights_mirror_the_official_layout():
    backbone = keras_t2t.create_model("t2t_vit_14_se", **TINY).get_layer("backbone")
    se = {tuple(w.path.split("/")[2:]): tuple(w.shape) for w in backbone.weights if "/se_layer/" in w.path}
    # official blocks.0.attn.se_layer.fc.0.weight (2, 32) and fc.2.weight (32, 2), transposed
    assert se == {("se_layer", "fc1", "kernel"): (32, 2), ("se_layer", "fc2", "kernel"): (2, 32)}


@pytest.mark.parametrize("name", ["t2t_vit_14_se", "vit_se"])
def test_keras_save_load_round_trip(tmp_path, name):
    model = keras_t2t.create_model(name, **TINY)
    model.save(tmp_path / "se.keras")
    restored = keras.saving.load_model(tmp_path / "se.keras")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(images)), keras.ops.convert_to_numpy(restored(images))
    )


def test_mixed_precision_forward_is_finite():
    keras.config.set_dtype_policy("mixed_float16")
    model = keras_t2t.create_model("t2t_vit_14_se", include_preprocessing=False, **TINY)
    out = keras.ops.convert_to_numpy(
        model(np.random.default_rng(0).normal(0, 40, (2, 32, 32, 3)).astype("float32"))
    )
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
