import keras
import numpy as np

from keras_t2t.layers import SqueezeExcitationAttention, SqueezeExcitationBlock
from tests import numpy_reference as ref


def test_matches_numpy_reference_with_the_official_reduction():
    x = np.random.default_rng(0).normal(size=(2, 5, 32)).astype("float32")
    layer = SqueezeExcitationBlock(num_heads=2, mlp_ratio=3.0)
    out = keras.ops.convert_to_numpy(layer(x))
    assert isinstance(layer.attn, SqueezeExcitationAttention)
    assert layer.attn.se_layer.fc1.kernel.shape == (32, 32 // 16)

    attn = layer.attn
    expected = ref.block(
        x.astype("float64"),
        layer,
        lambda h: np.split(ref.dense(h, attn.qkv), 3, axis=-1),
        lambda a: ref.squeeze_excitation(ref.dense(a, attn.proj), attn.se_layer),
        lambda h: ref.mlp(h, layer.mlp),
    )
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-4)


def test_serializes_as_itself():
    layer = SqueezeExcitationBlock(num_heads=2, drop_path=0.1)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is SqueezeExcitationBlock and restored.drop_path == 0.1
