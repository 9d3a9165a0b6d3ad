import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2t.layers import TokenDense
from tests import numpy_reference as ref
from tests.kernels import executed_op_types, requires_onednn


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
@requires_onednn()
def test_matmul_bias_and_gelu_run_as_one_fused_kernel(tmp_path):
    """Why the layer exists: on 3-D tokens, TensorFlow fuses its matmul, bias and GELU on CPU."""
    layer = TokenDense(16, activation="gelu")
    layer.build((None, 8, 32))
    op_types = executed_op_types(tf.function(layer), tf.random.normal((4, 8, 32)), logdir=tmp_path)
    assert any("FusedMatMul" in op for op in op_types), sorted(op_types)
    assert not {"BiasAdd", "Erfc", "Erf"} & op_types, sorted(op_types)


def _output_and_gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    return y, tape.gradient(y, [x, *layer.trainable_weights], output_gradients=tf.ones_like(y))


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("use_bias", [True, False])
def test_training_gelu_and_its_gradient_match_numpy(use_bias):
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(2, 5, 7)) * 2, tf.float32)
    layer = TokenDense(3, activation="gelu", use_bias=use_bias, bias_initializer="random_normal")
    y, (dx, *dweights) = _output_and_gradients(layer, x)
    x64 = x.numpy().astype("float64")
    pre_activation = ref.dense(x64, layer)
    # d GELU / dh = Phi(h) + h * phi(h)
    slope = ref.gelu(pre_activation) / pre_activation + pre_activation * np.exp(
        -0.5 * pre_activation**2
    ) / np.sqrt(2 * np.pi)
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    np.testing.assert_allclose(y, ref.gelu(pre_activation), atol=1e-5)
    np.testing.assert_allclose(dx, slope @ kernel.T, atol=1e-5)
    np.testing.assert_allclose(dweights[0], x64.reshape(-1, 7).T @ slope.reshape(-1, 3), atol=1e-4)
    if use_bias:
        np.testing.assert_allclose(dweights[1], slope.reshape(-1, 3).sum(0), atol=1e-4)


@pytest.mark.tensorflow_only
def test_training_gelu_under_mixed_bfloat16_follows_float32():
    x = tf.constant(np.random.default_rng(3).normal(size=(4, 9, 16)), tf.float32)
    layer = TokenDense(32, activation="gelu", bias_initializer="random_normal")
    layer.build(x.shape)
    mixed = TokenDense(32, activation="gelu", dtype="mixed_bfloat16")
    mixed.build(x.shape)
    mixed.set_weights(layer.get_weights())
    y, gradients = _output_and_gradients(layer, x)
    y_mixed, gradients_mixed = _output_and_gradients(mixed, x)
    assert y_mixed.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y_mixed, tf.float32), y, atol=0.05, rtol=0.02)
    for got, expected in zip(gradients_mixed, gradients, strict=True):
        scale = float(tf.reduce_max(tf.abs(expected)))
        np.testing.assert_allclose(tf.cast(got, tf.float32), expected, atol=0.02 * scale)


@pytest.mark.tensorflow_only
def test_training_gelu_runs_compiled_without_elementwise_kernels(tmp_path):
    """In a training step the GELU and its gradient are XLA fusions, not TensorFlow's Erfc, Exp and
    Mul kernels."""
    layer = TokenDense(16, activation="gelu")
    layer.build((None, 8, 32))
    step = tf.function(lambda x: _output_and_gradients(layer, x))
    op_types = executed_op_types(step, tf.random.normal((4, 8, 32)), logdir=tmp_path)
    assert any("fusion" in op for op in op_types), sorted(op_types)
    assert not {"Erfc", "Erf", "Exp", "Mul", "Square"} & op_types, sorted(op_types)


def test_config_round_trip():
    layer = TokenDense(4, activation="gelu", use_bias=False, name="fc")
    clone = TokenDense.from_config(layer.get_config())
    assert (clone.units, clone.use_bias, clone.name) == (4, False, "fc")
    assert clone.activation is keras.activations.gelu
