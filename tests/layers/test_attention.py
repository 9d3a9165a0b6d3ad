import numpy as np
import pytest
import tensorflow as tf

from keras_t2t.layers import MultiHeadSelfAttention


def _outputs_and_gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.cos(y))
    gradients = tape.gradient(loss, [x, *layer.trainable_weights])
    return y.numpy(), [g.numpy() for g in gradients]


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
    np.testing.assert_allclose(np.asarray(scores).sum(-1), 1.0, rtol=1e-5)
    assert MultiHeadSelfAttention.from_config(layer.get_config()).query_chunk_size == 4
