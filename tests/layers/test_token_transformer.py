import keras
import numpy as np

from keras_t2t.layers import MultiHeadSelfAttention, TokenTransformer
from tests import numpy_reference as ref


def test_matches_numpy_reference_with_value_residual_and_input_width_scale():
    x = np.random.default_rng(0).normal(size=(2, 12, 27)).astype("float32")
    layer = TokenTransformer(emb_dim=16)
    out, scores = layer(x, return_attention_scores=True)

    h = ref.norm(x.astype("float64"), layer.norm1)
    q, k, v = np.split(ref.dense(h, layer.attn.qkv), 3, axis=-1)
    attended, probs = ref.attention(q, k, v, num_heads=1, scale=27**-0.5)  # input_dim // heads
    y = v + ref.dense(attended, layer.attn.proj)
    expected = y + ref.mlp(ref.norm(y, layer.norm2), layer.mlp)

    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), expected, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scores), probs, atol=1e-6)
    assert layer.attn.qkv.bias is None


def test_config_round_trip():
    layer = TokenTransformer(emb_dim=32, num_heads=2, mlp_ratio=2.0, qk_scale=0.1, name="t")
    config = TokenTransformer.from_config(layer.get_config()).get_config()
    assert config == layer.get_config()


def test_query_chunk_size_makes_the_layer_attend_in_chunks(monkeypatch):
    """The layer must not ask its attention for probabilities it does not return: that rules out
    chunks (the memory they save is tested in test_attention.py)."""
    calls = []
    attend_in_chunks = MultiHeadSelfAttention._attend_in_chunks
    monkeypatch.setattr(
        MultiHeadSelfAttention,
        "_attend_in_chunks",
        lambda self, *args: calls.append(self.name) or attend_in_chunks(self, *args),
    )
    layer = TokenTransformer(emb_dim=16, query_chunk_size=16)
    layer(np.random.default_rng(3).normal(size=(2, 40, 27)).astype("float32"), training=True)
    assert calls == ["attn"]
    layer(np.random.default_rng(3).normal(size=(2, 40, 27)).astype("float32"), return_attention_scores=True)
    assert calls == ["attn"]  # the probabilities were asked for: full attention


def test_chunked_layer_matches_the_full_one():
    x = np.random.default_rng(3).normal(size=(2, 40, 27)).astype("float32")
    full, chunked = TokenTransformer(emb_dim=16), TokenTransformer(emb_dim=16, query_chunk_size=16)
    full.build(x.shape)
    chunked.build(x.shape)
    chunked.set_weights(full.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(chunked(x)), keras.ops.convert_to_numpy(full(x)), atol=1e-5
    )
