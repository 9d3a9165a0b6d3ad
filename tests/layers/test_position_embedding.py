import math

import keras
import numpy as np

from keras_t2t.layers import ClassToken, SinusoidalPositionEmbedding, sinusoid_table


def test_table_matches_formula_element_by_element():
    table = sinusoid_table(11, 6)
    for pos in range(11):
        for j in range(6):
            angle = pos / 10000 ** (2 * (j // 2) / 6)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(table[pos, j] - expected) < 1e-6


def test_embedding_is_a_fixed_weight_added_to_tokens():
    layer = SinusoidalPositionEmbedding()
    x = np.zeros((2, 5, 4), "float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), np.broadcast_to(sinusoid_table(5, 4), (2, 5, 4))
    )
    assert layer.trainable_weights == []
    assert layer.embedding.shape == (1, 5, 4)


def test_class_token_is_prepended_to_every_sample():
    layer = ClassToken()
    x = np.random.default_rng(0).normal(size=(3, 4, 8)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (3, 5, 8)
    np.testing.assert_array_equal(out[:, 1:], x)
    np.testing.assert_array_equal(
        out[:, 0], np.broadcast_to(keras.ops.convert_to_numpy(layer.token)[0], (3, 8))
    )
