import keras
import numpy as np

from keras_t2t.layers import DenseTransformerBlock
from tests import numpy_reference as ref


def test_concatenates_the_narrowed_block_output_to_its_input():
    x = np.random.default_rng(0).normal(size=(2, 5, 16)).astype("float32")
    layer = DenseTransformerBlock(num_heads=2, growth_rate=8, mlp_ratio=2.0)
    out, scores = layer(x, return_attention_scores=True)
    assert out.shape == (2, 5, 24) and scores.shape == (2, 2, 5, 5)
    assert layer.compute_output_shape((None, 5, 16)) == (None, 5, 24)

    x64 = x.astype("float64")
    block = ref.block(
        x64,
        layer,
        lambda h: np.split(ref.dense(h, layer.attn.qkv), 3, axis=-1),
        lambda a: ref.dense(a, layer.attn.proj),
        lambda h: ref.mlp(h, layer.mlp),
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out)[..., :16], x)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out)[..., 16:], ref.dense(block, layer.dense_linear), atol=1e-5
    )


def test_config_keeps_the_growth_rate():
    layer = DenseTransformerBlock(num_heads=2, growth_rate=12, drop_path=0.2)
    restored = DenseTransformerBlock.from_config(layer.get_config())
    assert (restored.growth_rate, restored.drop_path) == (12, 0.2)
