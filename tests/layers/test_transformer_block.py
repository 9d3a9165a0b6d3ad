import keras
import numpy as np
import pytest

from keras_t2t.layers import DropPath, TransformerBlock
from tests import numpy_reference as ref


@pytest.mark.parametrize("qk_scale", [None, 0.05])
def test_matches_numpy_reference(qk_scale):
    x = np.random.default_rng(0).normal(size=(2, 7, 24)).astype("float32")
    layer = TransformerBlock(num_heads=3, mlp_ratio=2.0, qk_scale=qk_scale)
    out, scores = layer(x, return_attention_scores=True)

    x64 = x.astype("float64")
    q, k, v = np.split(ref.dense(ref.norm(x64, layer.norm1), layer.attn.qkv), 3, axis=-1)
    attended, probs = ref.attention(q, k, v, num_heads=3, scale=qk_scale or 8**-0.5)
    y = x64 + ref.dense(attended, layer.attn.proj)
    expected = y + ref.mlp(ref.norm(y, layer.norm2), layer.mlp)

    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), expected, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scores), probs, atol=1e-6)
    assert layer.mlp.fc1.kernel.shape == (24, 48)
    assert layer.attn.qkv.bias is None


def test_drop_path_acts_only_in_training():
    layer = TransformerBlock(num_heads=2, drop_path=0.5)
    x = np.random.default_rng(0).normal(size=(64, 5, 8)).astype("float32")
    inference = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_array_equal(inference, keras.ops.convert_to_numpy(layer(x, training=False)))
    trained = keras.ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(trained, inference)


def test_drop_path_zeroes_whole_samples_and_rescales_the_rest():
    x = np.ones((400, 3, 2), "float32")
    out = keras.ops.convert_to_numpy(DropPath(0.25, seed=1)(x, training=True))
    per_sample = out.reshape(400, -1)
    kept = np.all(per_sample == 1 / 0.75, axis=1)
    dropped = np.all(per_sample == 0.0, axis=1)
    assert np.all(kept | dropped)
    assert 0.15 < dropped.mean() < 0.35
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(DropPath(0.25)(x)), x)


def test_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        TransformerBlock(num_heads=5)(np.zeros((1, 3, 8), "float32"))
