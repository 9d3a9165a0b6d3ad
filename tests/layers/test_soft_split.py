import keras
import numpy as np
import pytest

from keras_t2t.layers import SoftSplit
from tests.numpy_reference import soft_split


@pytest.mark.parametrize(
    "shape, kernel, stride, padding",
    [((2, 16, 16, 3), 7, 4, 2), ((1, 8, 12, 5), 3, 2, 1), ((1, 9, 7, 2), 3, 1, 0)],
)
def test_matches_loop_over_patches(shape, kernel, stride, padding):
    images = np.random.default_rng(0).normal(size=shape).astype("float32")
    layer = SoftSplit(kernel, stride, padding)
    out = keras.ops.convert_to_numpy(layer(images))
    expected = soft_split(images, kernel, stride, padding)
    assert out.shape == expected.shape == layer.compute_output_shape(shape)
    np.testing.assert_array_equal(out, expected)


def test_output_grid_follows_formula_for_non_square_images():
    layer = SoftSplit(7, 4, 2)
    assert layer.output_grid(224, 320) == (56, 80)  # (224 + 4 - 7) // 4 + 1 = 56
    assert layer.compute_output_shape((None, 224, 320, 3)) == (None, 56 * 80, 147)


def test_config_round_trip():
    layer = SoftSplit(3, 2, 1, name="split")
    clone = SoftSplit.from_config(layer.get_config())
    assert (clone.kernel_size, clone.stride, clone.padding, clone.name) == (3, 2, 1, "split")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=0, stride=1, padding=0),
        dict(kernel_size=3, stride=0, padding=0),
        dict(kernel_size=3, stride=1, padding=-1),
    ],
)
def test_rejects_invalid_geometry(kwargs):
    with pytest.raises(ValueError, match="SoftSplit needs"):
        SoftSplit(**kwargs)
