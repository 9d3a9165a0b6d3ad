import keras
import numpy as np

from keras_t2t.layers import SqueezeExcitationAttention
from tests import numpy_reference as ref


def test_gates_the_projected_attention_output():
    x = np.random.default_rng(0).normal(size=(2, 6, 32)).astype("float32")
    layer = SqueezeExcitationAttention(num_heads=4, reduction=8)
    out, scores = layer(x, return_attention_scores=True)

    q, k, v = np.split(ref.dense(x.astype("float64"), layer.qkv), 3, axis=-1)
    attended, probs = ref.attention(q, k, v, num_heads=4, scale=8**-0.5)
    expected = ref.squeeze_excitation(ref.dense(attended, layer.proj), layer.se_layer)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), expected, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scores), probs, atol=1e-6)
    assert layer.se_layer.fc1.kernel.shape == (32, 4)


def test_config_keeps_the_reduction():
    config = SqueezeExcitationAttention(num_heads=2, reduction=4, qk_scale=0.1).get_config()
    restored = SqueezeExcitationAttention.from_config(config)
    assert (restored.reduction, restored.qk_scale, restored.num_heads) == (4, 0.1, 2)
