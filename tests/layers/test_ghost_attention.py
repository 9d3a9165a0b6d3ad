import keras
import numpy as np
import pytest

from keras_t2t.layers import GhostAttention
from tests import numpy_reference as ref


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_matches_numpy_reference(qkv_bias):
    x = np.random.default_rng(0).normal(size=(2, 6, 24)).astype("float32")
    layer = GhostAttention(num_heads=3, qkv_bias=qkv_bias)
    out, scores = layer(x, return_attention_scores=True)

    x64 = x.astype("float64")
    q, k, v = (
        ref.ghost_projection(x64, projection, cheap)
        for projection, cheap in (
            (layer.q, layer.cheap_operation_q),
            (layer.k, layer.cheap_operation_k),
            (layer.v, layer.cheap_operation_v),
        )
    )
    attended, probs = ref.attention(q, k, v, num_heads=3, scale=8**-0.5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), ref.dense(attended, layer.proj), atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scores), probs, atol=1e-6)


def test_half_width_projections_replace_qkv():
    layer = GhostAttention(num_heads=2)
    layer.build((None, 5, 16))
    assert not hasattr(layer, "qkv")
    assert layer.q.kernel.shape == (16, 8) and layer.q.bias is None
    assert layer.cheap_operation_v.kernel.shape == (1, 8, 1)
    # q, k, v: 3 x (16 * 8 + 8 cheap scales); proj: 16 * 16 + 16.
    assert layer.count_params() == 3 * (16 * 8 + 8) + 16 * 16 + 16
    cheap = keras.ops.convert_to_numpy(layer.cheap_operation_q.kernel)
    assert np.all(np.abs(cheap) <= 1.0)  # PyTorch's default init for a 1x1 depthwise convolution


def test_odd_width_is_rejected():
    with pytest.raises(ValueError, match="must be even"):
        GhostAttention(num_heads=1)(np.zeros((1, 2, 7), "float32"))
