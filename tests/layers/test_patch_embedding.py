import keras
import numpy as np
import pytest

from keras_t2t.layers import PatchEmbedding


def test_embeds_each_patch_linearly_in_row_major_order():
    images = np.random.default_rng(0).normal(size=(2, 8, 12, 3)).astype("float32")
    layer = PatchEmbedding(embed_dim=5, patch_size=4)
    out = keras.ops.convert_to_numpy(layer(images))
    assert out.shape == (2, 2 * 3, 5)
    kernel = keras.ops.convert_to_numpy(layer.proj.kernel).reshape(
        4 * 4 * 3, 5
    )  # (row, col, channel) x embed
    bias = keras.ops.convert_to_numpy(layer.proj.bias)
    for row in range(2):
        for col in range(3):
            patch = images[:, 4 * row : 4 * row + 4, 4 * col : 4 * col + 4, :].reshape(2, -1)
            np.testing.assert_allclose(out[:, 3 * row + col], patch @ kernel + bias, atol=1e-5)


def test_initialised_like_pytorch_conv2d():
    layer = PatchEmbedding(embed_dim=64, patch_size=8)
    layer.build((None, 16, 16, 3))
    bound = 1 / np.sqrt(8 * 8 * 3)
    for weight in (layer.proj.kernel, layer.proj.bias):
        values = keras.ops.convert_to_numpy(weight)
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound


def test_sizes_the_patches_do_not_tile_are_rejected():
    layer = PatchEmbedding(embed_dim=8, patch_size=16)
    assert layer.token_grid(32, 48) == (2, 3)
    with pytest.raises(ValueError, match="multiples of 16"):
        layer(np.zeros((1, 40, 32, 3), "float32"))
    assert PatchEmbedding.from_config(layer.get_config()).patch_size == 16
