import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2t.layers import TokenLayerNormalization
from tests import numpy_reference as ref
from tests.kernels import executed_op_types


@pytest.mark.parametrize("shape", [(6, 10), (2, 5, 10)])
def test_matches_numpy_layer_normalisation(shape):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=shape).astype("float32")
    layer = TokenLayerNormalization(
        epsilon=1e-5, gamma_initializer="random_normal", beta_initializer="random_normal"
    )
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out, ref.norm(x.astype("float64"), layer), atol=1e-5)


def test_unknown_batch_and_token_counts_in_a_graph():
    layer = TokenLayerNormalization(epsilon=1e-5, gamma_initializer="random_normal")
    layer.build((None, None, 10))
    function = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 10), tf.float32)])
    x = np.random.default_rng(2).normal(size=(3, 4, 10)).astype("float32")
    np.testing.assert_allclose(function(x), ref.norm(x.astype("float64"), layer), atol=1e-5)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_gradients_match_keras_layer_normalization(jit_compile):
    x = tf.constant(np.random.default_rng(3).normal(2.0, 3.0, size=(2, 7, 12)).astype("float32"))
    weights = np.random.default_rng(4).normal(size=(2, 12)).astype("float32")
    token, plain = TokenLayerNormalization(epsilon=1e-5), keras.layers.LayerNormalization(epsilon=1e-5)
    for layer in (token, plain):
        layer.build(x.shape)
        layer.set_weights(list(weights))

    def gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) * tf.range(12, dtype=tf.float32))
        return tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])

    computed = tf.function(lambda: gradients(token), jit_compile=jit_compile)()
    for got, expected in zip(computed, gradients(plain), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("after_a_reshape", [False, True])
def test_runs_as_one_fused_kernel_in_an_inference_graph(tmp_path, after_a_reshape):
    """Why the layer has its form: on CPU, TensorFlow rewrites it into oneDNN's layer norm kernel,
    with the static shapes Keras traces its predict function with, and also where the tokens come
    straight from a reshape (as from a soft split)."""
    layer = TokenLayerNormalization(epsilon=1e-5)
    layer.build((None, 8, 32))
    if after_a_reshape:
        function, x = tf.function(lambda t: layer(tf.reshape(t, (4, 8, 32)))), tf.random.normal((4, 256))
    else:
        function, x = tf.function(layer), tf.random.normal((4, 8, 32))
    op_types = executed_op_types(function, x, logdir=tmp_path)
    assert "_MklLayerNorm" in op_types, sorted(op_types)
    assert not {"Mean", "Rsqrt", "FusedBatchNormV3", "_MklNativeFusedBatchNormV3"} & op_types


def test_computes_in_float32_and_returns_the_policy_dtype():
    x = np.random.default_rng(1).normal(size=(4, 10)).astype("float32")
    full = TokenLayerNormalization(epsilon=1e-5)
    half = TokenLayerNormalization(epsilon=1e-5, dtype="mixed_bfloat16")
    out = half(x.astype("float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    np.testing.assert_allclose(np.asarray(out, "float32"), np.asarray(full(x)), atol=2e-2)


def test_refuses_settings_it_does_not_implement():
    for kwargs in ({"axis": 1}, {"center": False}, {"scale": False}):
        with pytest.raises(ValueError, match="keras.layers.LayerNormalization"):
            TokenLayerNormalization(**kwargs)


def test_config_round_trip():
    layer = TokenLayerNormalization(epsilon=1e-5, name="norm1")
    clone = TokenLayerNormalization.from_config(layer.get_config())
    assert (clone.epsilon, clone.name) == (1e-5, "norm1")
