"""portable_graph(): the forms of SoftSplit, TokenLayerNormalization and TokenDense's GELU that other
runtimes convert, against the TensorFlow forms."""

import numpy as np
import pytest
import tensorflow as tf

from keras_t2t.layers import SoftSplit
from keras_t2t.layers.utils import TokenDense, TokenLayerNormalization, portable_graph

pytestmark = pytest.mark.tensorflow_only


def _op_types(function, *inputs) -> set[str]:
    return {op.type for op in tf.function(function).get_concrete_function(*inputs).graph.get_operations()}


@pytest.mark.parametrize("kernel_size, stride, padding, channels", [(7, 4, 2, 3), (3, 2, 1, 8), (3, 1, 1, 1)])
def test_soft_split_as_strided_slices_gives_exactly_the_patches(kernel_size, stride, padding, channels):
    layer = SoftSplit(kernel_size, stride, padding)
    images = tf.constant(np.random.default_rng(0).normal(size=(2, 16, 12, channels)), tf.float32)
    patches = layer(images)
    with portable_graph():
        portable = layer(images)
        assert "ExtractImagePatches" not in _op_types(layer, images)
    np.testing.assert_array_equal(portable, patches)
    assert "ExtractImagePatches" in _op_types(layer, images)


def test_layer_norm_takes_the_plain_form():
    layer = TokenLayerNormalization(epsilon=1e-5)
    x = tf.constant(np.random.default_rng(1).normal(3.0, 2.0, (2, 5, 16)), tf.float32)
    fused = layer(x)
    with portable_graph():
        portable = layer(x)
        ops = _op_types(lambda v: layer(v, training=False), x)
    assert not ops & {"FusedBatchNormV3", "PlaceholderWithDefault"}
    mean, variance = np.mean(x, -1, keepdims=True), np.var(x, -1, keepdims=True)
    np.testing.assert_allclose(portable, (x - mean) / np.sqrt(variance + 1e-5), atol=1e-5)
    np.testing.assert_allclose(portable, fused, atol=1e-5)


def test_gelu_goes_through_erf():
    layer = TokenDense(6, activation="gelu")
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 4, 8)), tf.float32)
    exact = layer(x)
    with portable_graph():
        portable = layer(x)
        assert "Erfc" not in _op_types(layer, x)
    np.testing.assert_allclose(portable, exact, atol=1e-6)
    assert "Erfc" in _op_types(layer, x)  # the mode ends with the block
