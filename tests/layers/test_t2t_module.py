import keras
import numpy as np
import pytest

from keras_t2t.layers import T2TModule
from tests import numpy_reference as ref


@pytest.mark.parametrize("tokens_type", ["performer", "transformer", "convolution"])
@pytest.mark.parametrize("size", [(32, 48), (16, 32)])
def test_output_tokens_for_square_and_non_square_images(tokens_type, size):
    height, width = size
    tokens = (height // 16) * (width // 16)
    layer = T2TModule(embed_dim=32, tokens_type=tokens_type, token_dim=16)
    layer.build((None, height, width, 3))
    out = layer(np.random.default_rng(0).uniform(size=(2, height, width, 3)).astype("float32"))
    assert out.shape == (2, tokens, 32)
    assert layer.compute_output_shape((None, height, width, 3)) == (None, tokens, 32)


def test_restructurization_feeds_the_next_soft_split_in_grid_order():
    """With identity-like T2T layers replaced by NumPy, the module equals the chained reference."""
    layer = T2TModule(embed_dim=8, tokens_type="transformer", token_dim=4)
    images = np.random.default_rng(0).normal(size=(1, 16, 32, 2)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(images))

    x = ref.soft_split(images, 7, 4, 2)
    x = keras.ops.convert_to_numpy(layer.attention1(x))
    x = ref.soft_split(x.reshape(1, 4, 8, 4), 3, 2, 1)
    x = keras.ops.convert_to_numpy(layer.attention2(x))
    x = ref.soft_split(x.reshape(1, 2, 4, 4), 3, 2, 1)
    np.testing.assert_allclose(out, ref.dense(x, layer.project), atol=1e-5)


def test_small_image_soft_splits():
    layer = T2TModule(embed_dim=16, kernel_sizes=(3, 3, 3), strides=(2, 2, 1), paddings=(1, 1, 1))
    assert layer(np.zeros((1, 28, 28, 1), "float32")).shape == (1, 49, 16)


@pytest.mark.parametrize("size", [(225, 225), (224, 200)])
def test_sizes_that_do_not_tile_raise_a_clear_error(size):
    with pytest.raises(ValueError, match="multiples of 16"):
        T2TModule(embed_dim=8).build((None, *size, 3))


def test_rejects_unknown_tokens_type_and_bad_split_lists():
    with pytest.raises(ValueError, match="tokens_type"):
        T2TModule(embed_dim=8, tokens_type="conv")
    with pytest.raises(ValueError, match="three soft splits"):
        T2TModule(embed_dim=8, kernel_sizes=(7, 3))


def test_attention_chunks_reach_the_transformer_layers_and_are_refused_elsewhere():
    layer = T2TModule(embed_dim=8, tokens_type="transformer", token_dim=4, attention_chunk_size=16)
    assert layer.attention1.attn.query_chunk_size == layer.attention2.attn.query_chunk_size == 16
    for tokens_type in ("performer", "convolution"):
        with pytest.raises(ValueError, match="attention_chunk_size applies to transformer"):
            T2TModule(embed_dim=8, tokens_type=tokens_type, attention_chunk_size=16)


def test_config_round_trip_rebuilds_the_same_module():
    layer = T2TModule(embed_dim=24, tokens_type="transformer", token_dim=8, strides=(4, 2, 2), seed=1)
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("tokens_type", ["performer", "transformer", "convolution"])
def test_token_maps_are_each_stage_on_its_grid_and_leave_the_tokens_unchanged(tokens_type):
    layer = T2TModule(embed_dim=8, tokens_type=tokens_type, token_dim=4, performer_dropout=0.0, seed=0)
    images = np.random.default_rng(0).normal(size=(2, 32, 48, 3)).astype("float32")
    tokens, maps = layer(images, return_token_maps=True)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(tokens), keras.ops.convert_to_numpy(layer(images))
    )
    assert [tuple(m.shape) for m in maps] == [(2, 8, 12, 4), (2, 4, 6, 4), (2, 2, 3, 8)]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(maps[2]).reshape(2, 6, 8), keras.ops.convert_to_numpy(tokens)
    )
    if tokens_type == "convolution":
        first = layer.conv0(np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0))))
    else:
        first = keras.ops.convert_to_numpy(layer.attention1(ref.soft_split(images, 7, 4, 2))).reshape(
            2, 8, 12, 4
        )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(maps[0]), keras.ops.convert_to_numpy(first), atol=1e-5
    )
