import keras
import numpy as np
import pytest

from keras_t2t.layers import TokenLayerNormalization
from tests import numpy_reference as ref


@pytest.mark.parametrize("shape", [(6, 10), (2, 5, 10)])
def test_matches_numpy_layer_normalisation(shape):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=shape).astype("float32")
    layer = TokenLayerNormalization(
        epsilon=1e-5, gamma_initializer="random_normal", beta_initializer="random_normal"
    )
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out, ref.norm(x.astype("float64"), layer), atol=1e-5)


def test_computes_in_float32_and_returns_the_policy_dtype():
    x = np.random.default_rng(1).normal(size=(4, 10)).astype("float32")
    full = TokenLayerNormalization(epsilon=1e-5)
    half = TokenLayerNormalization(epsilon=1e-5, dtype="mixed_bfloat16")
    out = half(x.astype("float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    np.testing.assert_allclose(np.asarray(out, "float32"), np.asarray(full(x)), atol=2e-2)


def test_refuses_settings_it_does_not_implement():
    for kwargs in ({"axis": 1}, {"center": False}, {"scale": False}):
        with pytest.raises(ValueError, match="keras.layers.LayerNormalization"):
            TokenLayerNormalization(**kwargs)


def test_config_round_trip():
    layer = TokenLayerNormalization(epsilon=1e-5, name="norm1")
    clone = TokenLayerNormalization.from_config(layer.get_config())
    assert (clone.epsilon, clone.name) == (1e-5, "norm1")
