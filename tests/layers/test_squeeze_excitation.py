import keras
import numpy as np
import pytest

from keras_t2t.layers import SqueezeExcitation
from tests import numpy_reference as ref


def test_matches_numpy_reference():
    x = np.random.default_rng(0).normal(size=(2, 5, 32)).astype("float32")
    layer = SqueezeExcitation(reduction=4)
    out = keras.ops.convert_to_numpy(layer(x))
    assert layer.fc1.kernel.shape == (32, 8) and layer.fc2.kernel.shape == (8, 32)
    assert layer.fc1.bias is None and layer.fc2.bias is None
    np.testing.assert_allclose(out, ref.squeeze_excitation(x.astype("float64"), layer), atol=1e-6)


def test_zero_weights_gate_every_channel_by_one_half():
    layer = SqueezeExcitation(reduction=2)
    x = np.arange(24, dtype="float32").reshape(1, 3, 8)
    layer.build(x.shape)
    for weight in layer.weights:
        weight.assign(np.zeros(weight.shape))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), x / 2)


def test_gate_reads_every_token():
    x = np.random.default_rng(1).normal(size=(1, 4, 16)).astype("float32")
    layer = SqueezeExcitation(reduction=4)
    changed = x.copy()
    changed[0, 0] += 5.0  # only the first (class) token changes
    assert not np.allclose(
        keras.ops.convert_to_numpy(layer(x))[0, 1:], keras.ops.convert_to_numpy(layer(changed))[0, 1:]
    )


def test_config_round_trip_and_too_large_reduction():
    layer = SqueezeExcitation.from_config(SqueezeExcitation(reduction=8).get_config())
    assert layer.reduction == 8
    with pytest.raises(ValueError, match="at most 4"):
        SqueezeExcitation(reduction=16)(np.zeros((1, 2, 4), "float32"))
