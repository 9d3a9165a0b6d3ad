"""Transfer learning between keras_t2t models: `transfer_backbone`."""

import numpy as np
import pytest

import keras_t2t
from keras_t2t.convert import resize_position_embedding, transfer_backbone

TINY = dict(embed_dim=32, depth=1, num_heads=2, mlp_ratio=2.0, token_dim=8)


def test_backbone_copied_position_table_resized_head_kept():
    source = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), classes=5, seed=1, **TINY)
    target = keras_t2t.create_model("t2t_vit_7", input_shape=(48, 48, 3), classes=3, seed=2, **TINY)
    head = [np.asarray(w) for w in target.get_layer("head").weights]
    transfer_backbone(source, target)

    source_backbone, target_backbone = source.get_layer("backbone"), target.get_layer("backbone")
    table = target_backbone.position_embedding.embedding
    for source_weight, target_weight in zip(source_backbone.weights, target_backbone.weights, strict=True):
        expected = np.asarray(source_weight)
        if target_weight is table:
            expected = resize_position_embedding(expected, (3, 3))
        np.testing.assert_array_equal(np.asarray(target_weight), expected)
    for kept, weight in zip(head, target.get_layer("head").weights, strict=True):
        np.testing.assert_array_equal(np.asarray(weight), kept)


def test_another_architecture_is_refused_and_the_target_untouched():
    source = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), **TINY)
    target = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), **{**TINY, "embed_dim": 64})
    before = [np.asarray(w) for w in target.weights]
    mismatch = r"not a t2t_vit_7 backbone: its tokens_to_token/project/kernel is \(72, 32\)"
    with pytest.raises(ValueError, match=mismatch):
        transfer_backbone(source, target)
    for weight, value in zip(target.weights, before, strict=True):
        np.testing.assert_array_equal(np.asarray(weight), value)
    deeper = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), **{**TINY, "depth": 2})
    with pytest.raises(ValueError, match="its backbone has 43 weights"):
        transfer_backbone(source, deeper)
