import numpy as np

from keras_t2t.layers import TokenTransformer
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

    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(scores), probs, atol=1e-6)
    assert layer.attn.qkv.bias is None


def test_config_round_trip():
    layer = TokenTransformer(emb_dim=32, num_heads=2, mlp_ratio=2.0, qk_scale=0.1, name="t")
    config = TokenTransformer.from_config(layer.get_config()).get_config()
    assert config == layer.get_config()
