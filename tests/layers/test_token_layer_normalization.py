import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2t.layers import TokenLayerNormalization, utils
from tests import numpy_reference as ref
from tests.kernels import executed_op_types, requires_onednn

pytestmark = pytest.mark.tensorflow_only


@pytest.mark.parametrize("shape", [(6, 10), (2, 5, 10)])
def test_matches_numpy_layer_normalisation(shape):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=shape).astype("float32")
    layer = TokenLayerNormalization(
        epsilon=1e-5, gamma_initializer="random_normal", beta_initializer="random_normal"
    )
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out, ref.norm(x.astype("float64"), layer), atol=1e-5)


def test_unknown_batch_and_token_counts_in_a_graph():
    layer = TokenLayerNormalization(epsilon=1e-5, gamma_initializer="random_normal")
    layer.build((None, None, 10))
    function = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 10), tf.float32)])
    x = np.random.default_rng(2).normal(size=(3, 4, 10)).astype("float32")
    np.testing.assert_allclose(function(x), ref.norm(x.astype("float64"), layer), atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_both_forms_and_their_gradients_match_keras_layer_normalization(training, jit_compile):
    x = tf.constant(np.random.default_rng(3).normal(2.0, 3.0, size=(2, 7, 12)).astype("float32"))
    weights = np.random.default_rng(4).normal(size=(2, 12)).astype("float32")
    token, plain = TokenLayerNormalization(epsilon=1e-5), keras.layers.LayerNormalization(epsilon=1e-5)
    for layer in (token, plain):
        layer.build(x.shape)
        layer.set_weights(list(weights))

    def outputs_and_gradients(layer, **kwargs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, **kwargs)
            loss = tf.reduce_sum(y * tf.range(12, dtype=tf.float32))
        return [y, *tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])]

    computed = tf.function(lambda: outputs_and_gradients(token, training=training), jit_compile=jit_compile)()
    for got, expected in zip(computed, outputs_and_gradients(plain), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def _graph_op_types(layer, x, **kwargs) -> set[str]:
    graph = tf.function(lambda t: layer(t, **kwargs)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


def test_training_and_gpus_get_the_plain_form(monkeypatch):
    """The batch-norm form is for CPU inference: XLA compiles its gradient badly, and its fused
    kernel exists on CPU only."""
    monkeypatch.setattr(utils, "tensorflow_uses_onednn", lambda dtype="float32": True)
    layer = TokenLayerNormalization(epsilon=1e-5)
    x = tf.random.normal((2, 3, 8))
    layer.build(x.shape)
    assert "FusedBatchNormV3" in _graph_op_types(layer, x)
    assert "FusedBatchNormV3" in _graph_op_types(layer, x, training=False)
    assert "FusedBatchNormV3" not in _graph_op_types(layer, x, training=True)
    monkeypatch.setattr(
        tf.config, "list_logical_devices", lambda kind=None: ["GPU:0"] if kind == "GPU" else []
    )
    assert "FusedBatchNormV3" not in _graph_op_types(layer, x)


def test_cpus_without_onednn_get_the_plain_form(monkeypatch):
    """Without oneDNN, TensorFlow's own FusedBatchNormV3 is slower than the plain form."""
    monkeypatch.setattr(utils, "tensorflow_uses_onednn", lambda dtype="float32": False)
    layer = TokenLayerNormalization(epsilon=1e-5)
    x = tf.random.normal((2, 3, 8))
    layer.build(x.shape)
    assert "FusedBatchNormV3" not in _graph_op_types(layer, x, training=False)


def test_fit_uses_the_plain_form_and_predict_the_fused_one_inside_other_layers(monkeypatch):
    """Keras passes `training` from `fit` and `predict` down to the layer norms that a block calls
    without it."""
    from keras_t2t.layers import TransformerBlock

    monkeypatch.setattr(utils, "tensorflow_uses_onednn", lambda dtype="float32": True)
    model = keras.Sequential([keras.Input((4, 8)), TransformerBlock(num_heads=2)])
    model.compile(optimizer="sgd", loss="mse")
    calls = []
    original = tf.raw_ops.FusedBatchNormV3
    monkeypatch.setattr(tf.raw_ops, "FusedBatchNormV3", lambda **kw: calls.append(1) or original(**kw))
    x = np.random.default_rng(5).normal(size=(4, 4, 8)).astype("float32")
    model.fit(x, x, epochs=1, verbose=0)
    assert not calls
    model.predict(x, verbose=0)
    assert len(calls) == 2  # the block's norm1 and norm2


@requires_onednn()
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


@requires_onednn("bfloat16")
@pytest.mark.parametrize("policy", ["bfloat16", "mixed_bfloat16"])
def test_bfloat16_inference_runs_the_fused_kernel_on_the_bfloat16_tokens(tmp_path, policy):
    """oneDNN normalises bfloat16 with float32 statistics itself: no casts of the tokens around it
    (with bfloat16 weights, no cast at all)."""
    x = np.random.default_rng(6).normal(2.0, 3.0, size=(4, 8, 32)).astype("float32")
    layer = TokenLayerNormalization(
        epsilon=1e-5, gamma_initializer="random_normal", beta_initializer="random_normal", dtype=policy
    )
    tokens = tf.cast(x, tf.bfloat16)
    layer.build(tokens.shape)
    op_types = executed_op_types(tf.function(layer), tokens, logdir=tmp_path)
    assert "_MklLayerNorm" in op_types, sorted(op_types)
    if policy == "bfloat16":
        assert "Cast" not in op_types
    out = layer(tokens)
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    gamma, beta = (
        np.asarray(tf.cast(tf.cast(w, tf.bfloat16), tf.float32)) for w in (layer.gamma, layer.beta)
    )
    expected = ref.layer_norm(np.asarray(tf.cast(tokens, tf.float64)), gamma, beta, 1e-5)
    # bfloat16 keeps 8 significant bits: a relative error of 2**-8 on the output.
    np.testing.assert_allclose(np.asarray(tf.cast(out, tf.float32)), expected, rtol=2**-7, atol=2**-7)


def test_computes_in_float32_and_returns_the_policy_dtype():
    x = np.random.default_rng(1).normal(size=(4, 10)).astype("float32")
    full = TokenLayerNormalization(epsilon=1e-5)
    half = TokenLayerNormalization(epsilon=1e-5, dtype="mixed_bfloat16")
    out = half(x.astype("float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")),
        keras.ops.convert_to_numpy(full(x)),
        atol=2e-2,
    )


def test_refuses_settings_it_does_not_implement():
    for kwargs in ({"axis": 1}, {"center": False}, {"scale": False}):
        with pytest.raises(ValueError, match="keras.layers.LayerNormalization"):
            TokenLayerNormalization(**kwargs)


def test_config_round_trip():
    layer = TokenLayerNormalization(epsilon=1e-5, name="norm1")
    clone = TokenLayerNormalization.from_config(layer.get_config())
    assert (clone.epsilon, clone.name) == (1e-5, "norm1")


@pytest.mark.parametrize("setting", ["0", "1"])
def test_onednn_follows_tensorflows_setting(setting):
    """TF_ENABLE_ONEDNN_OPTS turns oneDNN off or on whatever the CPU, and the layers read it."""
    script = "from keras_t2t.layers.utils import tensorflow_uses_onednn; print(tensorflow_uses_onednn())"
    environment = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True
    )
    assert result.stdout.split()[-1] == str(setting == "1")
