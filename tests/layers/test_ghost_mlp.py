import keras
import numpy as np
import pytest

from keras_t2t.layers import GhostMlp
from tests import numpy_reference as ref


def test_matches_numpy_reference_with_the_official_names():
    x = np.random.default_rng(0).normal(size=(2, 5, 16)).astype("float32")
    layer = GhostMlp(hidden_dim=48, output_dim=12)
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (2, 5, 12)
    assert [op.name for op in layer.cheap_operations] == ["cheap_operation2", "cheap_operation3"]
    assert layer.fc1.kernel.shape == (16, 16) and layer.fc2.kernel.shape == (48, 12)
    np.testing.assert_allclose(out, ref.ghost_mlp(x.astype("float64"), layer), atol=1e-5)


def test_width_ratio_sets_the_number_of_cheap_operations():
    layer = GhostMlp(hidden_dim=32, output_dim=8)
    layer.build((None, 3, 8))
    assert len(layer.cheap_operations) == 3
    assert GhostMlp.from_config(layer.get_config()).hidden_dim == 32


def test_hidden_width_must_be_a_multiple_of_the_input_width():
    with pytest.raises(ValueError, match="multiple of 16"):
        GhostMlp(hidden_dim=40, output_dim=16)(np.zeros((1, 2, 16), "float32"))
