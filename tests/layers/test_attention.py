import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2t.layers import MultiHeadSelfAttention, utils
from tests.kernels import requires_onednn


def _outputs_and_gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.cos(y))
    gradients = tape.gradient(loss, [x, *layer.trainable_weights])
    return y.numpy(), [g.numpy() for g in gradients]


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("chunk", [8, 13])  # divides the 40 tokens, or leaves a short last chunk
def test_query_chunks_give_the_same_outputs_and_gradients(chunk):
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 40, 12)).astype("float32"))
    full = MultiHeadSelfAttention(num_heads=2, output_dim=8, value_residual=True)
    chunked = MultiHeadSelfAttention(num_heads=2, output_dim=8, value_residual=True, query_chunk_size=chunk)
    full.build(x.shape)
    chunked.build(x.shape)
    chunked.set_weights(full.get_weights())
    y_full, grads_full = _outputs_and_gradients(full, x)
    y_chunked, grads_chunked = _outputs_and_gradients(chunked, x)
    np.testing.assert_allclose(y_chunked, y_full, atol=1e-5)
    for g_chunked, g_full in zip(grads_chunked, grads_full, strict=True):
        np.testing.assert_allclose(g_chunked, g_full, atol=1e-4)


def test_chunked_layer_still_returns_full_probabilities_on_request():
    x = np.random.default_rng(1).normal(size=(1, 20, 8)).astype("float32")
    layer = MultiHeadSelfAttention(num_heads=1, query_chunk_size=4)
    _, scores = layer(x, return_attention_scores=True)
    assert scores.shape == (1, 1, 20, 20)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scores).sum(-1), 1.0, rtol=1e-5)
    assert MultiHeadSelfAttention.from_config(layer.get_config()).query_chunk_size == 4


_PEAK_MEMORY_SCRIPT = """
import sys
import tensorflow as tf
from keras_t2t.benchmark import peak_rss_mib
from keras_t2t.layers import MultiHeadSelfAttention

chunk = int(sys.argv[1]) or None
layer = MultiHeadSelfAttention(1, output_dim=32, value_residual=True, query_chunk_size=chunk)
x = tf.random.normal((8, 3136, 27))
layer.build(x.shape)

@tf.function
def step(x):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) ** 2)
    return tape.gradient(loss, layer.trainable_weights)

step(x)
step(x)
print(peak_rss_mib())
"""


def _training_peak_rss_mib(chunk: int) -> float:
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY_SCRIPT, str(chunk)], capture_output=True, text=True, check=True
    )
    return float(result.stdout.split()[-1])


@pytest.mark.tensorflow_only
def test_query_chunks_lower_the_training_peak_memory():
    """8 samples of 3136 tokens (T2T-ViT's first T2T layer): full attention holds the logits,
    probabilities and their gradients for all queries at once (300 MiB each in float32). Chunks of
    784 queries hold a quarter of that at a time: ~685 MiB less at the peak (TF 2.21). If the
    backward pass recomputed all chunks at once, the saving would be ~450 MiB."""
    full, chunked = _training_peak_rss_mib(0), _training_peak_rss_mib(784)
    assert full - chunked > 560, f"full {full:.0f} MiB, chunked {chunked:.0f} MiB"


def _softmax_types(function, *args) -> list[str]:
    graph = function.get_concrete_function(*args).graph
    return [op.get_attr("T").name for op in graph.get_operations() if op.type == "Softmax"]


@pytest.mark.tensorflow_only
@requires_onednn("bfloat16")
def test_bfloat16_cpu_inference_runs_the_softmax_on_bfloat16_for_the_same_probabilities():
    """oneDNN's softmax takes bfloat16 logits in inference (no casts around it); training keeps the
    float32 softmax for its gradient. Both give the float32 probabilities rounded to bfloat16."""
    x = tf.constant(np.random.default_rng(2).normal(0, 3, size=(2, 30, 16)).astype("float32"))
    layer = MultiHeadSelfAttention(num_heads=2, dtype="mixed_bfloat16")
    inference = tf.function(lambda x: layer(x, return_attention_scores=True)[1])
    training = tf.function(lambda x: layer(x, training=True, return_attention_scores=True)[1])
    assert _softmax_types(inference, x) == ["bfloat16"]
    assert _softmax_types(training, x) == ["float32"]
    inference_scores, training_scores = (tf.cast(f(x), tf.float32).numpy() for f in (inference, training))
    assert inference_scores.dtype == np.float32 and np.isfinite(inference_scores).all()
    # bfloat16 keeps 8 significant bits: both roundings agree within one step of 2**-8 relative.
    np.testing.assert_allclose(inference_scores, training_scores, rtol=2**-8, atol=1e-6)
    np.testing.assert_allclose(inference_scores.sum(-1), 1.0, atol=2e-2)


@pytest.mark.tensorflow_only
def test_without_onednn_the_bfloat16_softmax_computes_in_float32(monkeypatch):
    """TensorFlow's own softmax computes bfloat16 in bfloat16: without oneDNN the casts stay."""
    monkeypatch.setattr(utils, "tensorflow_uses_onednn", lambda dtype="float32": False)
    x = tf.constant(np.random.default_rng(2).normal(0, 3, size=(2, 30, 16)).astype("float32"))
    layer = MultiHeadSelfAttention(num_heads=2, dtype="mixed_bfloat16")
    inference = tf.function(lambda x: layer(x, return_attention_scores=True)[1])
    assert _softmax_types(inference, x) == ["float32"]
