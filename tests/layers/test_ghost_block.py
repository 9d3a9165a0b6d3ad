import keras
import numpy as np

from keras_t2t.layers import GhostAttention, GhostBlock, GhostMlp
from tests import numpy_reference as ref


def test_matches_numpy_reference():
    x = np.random.default_rng(0).normal(size=(2, 5, 16)).astype("float32")
    layer = GhostBlock(num_heads=2, mlp_ratio=3.0)
    out = keras.ops.convert_to_numpy(layer(x))
    assert isinstance(layer.attn, GhostAttention) and isinstance(layer.mlp, GhostMlp)

    attn = layer.attn
    pairs = (
        (attn.q, attn.cheap_operation_q),
        (attn.k, attn.cheap_operation_k),
        (attn.v, attn.cheap_operation_v),
    )
    expected = ref.block(
        x.astype("float64"),
        layer,
        lambda h: [ref.ghost_projection(h, projection, cheap) for projection, cheap in pairs],
        lambda a: ref.dense(a, attn.proj),
        lambda h: ref.ghost_mlp(h, layer.mlp),
    )
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-4)


def test_serializes_as_itself():
    restored = keras.layers.deserialize(keras.layers.serialize(GhostBlock(num_heads=2, mlp_ratio=3.0)))
    assert type(restored) is GhostBlock and restored.mlp_ratio == 3.0
