import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2t.layers import TokenDense
from tests import numpy_reference as ref
from tests.kernels import executed_op_types


@pytest.mark.parametrize("shape", [(5, 7), (2, 5, 7), (2, 3, 4, 7)])
@pytest.mark.parametrize("activation", [None, "gelu"])
def test_matches_numpy_for_any_leading_axes(shape, activation):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    layer = TokenDense(3, activation=activation, bias_initializer="random_normal")
    out = keras.ops.convert_to_numpy(layer(x))
    expected = ref.dense(x.astype("float64"), layer)
    if activation:
        expected = ref.gelu(expected)
    assert out.shape == (*shape[:-1], 3)
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.tensorflow_only
def test_unknown_batch_and_token_counts_in_a_graph():
    layer = TokenDense(3)
    layer.build((None, None, 7))
    function = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 7), tf.float32)])
    x = np.random.default_rng(1).normal(size=(2, 6, 7)).astype("float32")
    np.testing.assert_allclose(function(x), ref.dense(x.astype("float64"), layer), atol=1e-5)


@pytest.mark.tensorflow_only
def test_matmul_bias_and_gelu_run_as_one_fused_kernel(tmp_path):
    """Why the layer exists: on 3-D tokens, TensorFlow fuses its matmul, bias and GELU on CPU."""
    layer = TokenDense(16, activation="gelu")
    layer.build((None, 8, 32))
    op_types = executed_op_types(tf.function(layer), tf.random.normal((4, 8, 32)), logdir=tmp_path)
    assert any("FusedMatMul" in op for op in op_types), sorted(op_types)
    assert not {"BiasAdd", "Erfc", "Erf"} & op_types, sorted(op_types)


def test_config_round_trip():
    layer = TokenDense(4, activation="gelu", use_bias=False, name="fc")
    clone = TokenDense.from_config(layer.get_config())
    assert (clone.units, clone.use_bias, clone.name) == (4, False, "fc")
    assert clone.activation is keras.activations.gelu
