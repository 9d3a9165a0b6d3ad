"""The backbone's hooks for the architecture study: `tokens_type="patch"` and `block_type`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2t import T2TViTBackbone
from keras_t2t.layers import PatchEmbedding

TINY = dict(embed_dim=32, num_heads=2, mlp_ratio=2.0, image_shape=(32, 32, 3), token_dim=8)
STUDY = [
    dict(tokens_type="patch", depth=1),
    dict(block_type="se", depth=1),
    dict(block_type="ghost", depth=1),
    dict(block_type="dense", depth=3, dense_blocks=(2, 1), growth_rate=16),
    dict(tokens_type="patch", block_type="dense", depth=2, dense_blocks=(1, 1), growth_rate=16),
]


def _images(batch=2):
    return np.random.default_rng(0).normal(size=(batch, 32, 32, 3)).astype("float32")


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("options", STUDY)
def test_every_weight_is_on_the_gradient_path(options):
    backbone = T2TViTBackbone(**TINY, **options)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(backbone(_images())["pooled_output"] ** 2)
    gradients = tape.gradient(loss, backbone.trainable_weights)
    unused = [w.path for w, g in zip(backbone.trainable_weights, gradients, strict=True) if g is None]
    assert not unused


@pytest.mark.parametrize("options", STUDY)
def test_config_round_trip_rebuilds_the_same_model(options):
    backbone = T2TViTBackbone(**TINY, **options)
    restored = T2TViTBackbone.from_config(backbone.get_config())
    restored.set_weights(backbone.get_weights())
    assert [w.path for w in restored.weights] == [w.path for w in backbone.weights]
    images = _images()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(backbone(images)["sequence_output"]),
        keras.ops.convert_to_numpy(restored(images)["sequence_output"]),
    )


def test_patch_tokens_replace_the_t2t_module():
    backbone = T2TViTBackbone(**TINY, depth=1, tokens_type="patch", patch_size=8)
    assert isinstance(backbone.get_layer("patch_embed"), PatchEmbedding)
    assert not any(layer.name == "tokens_to_token" for layer in backbone.layers)
    assert backbone.token_grid == (4, 4)
    assert backbone(_images(1))["sequence_output"].shape == (1, 1 + 16, 32)


def test_bad_structure_arguments_are_explained():
    with pytest.raises(ValueError, match="block_type must be one of"):
        T2TViTBackbone(**TINY, depth=1, block_type="resnext")
    with pytest.raises(ValueError, match="'patch'"):
        T2TViTBackbone(**TINY, depth=1, tokens_type="hard_split")
    with pytest.raises(ValueError, match="Pass depth=19"):
        T2TViTBackbone(**TINY, depth=14, block_type="dense")
    with pytest.raises(ValueError, match="multiples of 16"):
        T2TViTBackbone(**{**TINY, "image_shape": (40, 40, 3)}, depth=1, tokens_type="patch")


def test_misspelt_arguments_are_rejected_not_ignored():
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['depht'\].*'depth'"):
        T2TViTBackbone(**TINY, depth=1, depht=3)
