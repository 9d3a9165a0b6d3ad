import keras
import numpy as np
import pytest

import keras_t2t
from keras_t2t.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD

TINY = dict(input_shape=(32, 32, 3), depth=1, embed_dim=32, num_heads=2, token_dim=8, classes=5)


def _images(shape=(2, 32, 32, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=shape).astype("float32")


def test_default_model_is_an_imagenet_classifier():
    model = keras_t2t.T2TViT7()
    assert model.name == "t2t_vit_7"
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    probs = keras.ops.convert_to_numpy(model(_images((1, 224, 224, 3))))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "pooling, shape", [(None, (2, 1 + 4, 32)), ("token", (2, 32)), ("avg", (2, 32)), ("max", (2, 32))]
)
def test_feature_extractor_pooling(pooling, shape):
    model = keras_t2t.create_model("t2t_vit_7", include_top=False, pooling=pooling, **TINY)
    out = keras.ops.convert_to_numpy(model(_images()))
    assert out.shape == shape
    backbone = model.get_layer("backbone")
    seq = keras.ops.convert_to_numpy(backbone(keras_t2t.preprocess_input(_images()))["sequence_output"])
    expected = {None: seq, "token": seq[:, 0], "avg": seq[:, 1:].mean(1), "max": seq[:, 1:].max(1)}
    np.testing.assert_allclose(out, expected[pooling], atol=1e-5)


def test_in_model_preprocessing_equals_preprocess_input():
    with_pre = keras_t2t.create_model("t2t_vit_7", **TINY)
    without = keras_t2t.create_model("t2t_vit_7", include_preprocessing=False, **TINY)
    without.set_weights(with_pre.get_weights())
    images = _images()
    manual = (images / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras_t2t.preprocess_input(images)), manual, atol=1e-6
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(with_pre(images)),
        keras.ops.convert_to_numpy(without(manual.astype("float32"))),
        atol=1e-5,
    )


def test_non_square_multiple_of_16_works_and_other_sizes_explain_themselves():
    model = keras_t2t.create_model("t2t_vit_7", **{**TINY, "input_shape": (32, 48, 3)})
    assert model(_images((1, 32, 48, 3))).shape == (1, 5)
    assert model.get_layer("backbone").token_grid == (2, 3)
    with pytest.raises(ValueError, match="multiples of 16"):
        keras_t2t.T2TViT14(input_shape=(100, 100, 3))


def test_input_tensor_is_used_as_the_input():
    inputs = keras.Input((32, 32, 3))
    model = keras_t2t.create_model("t2t_vit_t_14", input_tensor=inputs, **{**TINY, "input_shape": None})
    assert model.inputs[0] is inputs


def test_builder_arguments_reach_the_layers():
    model = keras_t2t.create_model(
        "t2t_vit_7", drop_rate=0.2, drop_path_rate=0.3, qk_scale=0.5, **{**TINY, "depth": 3}
    )
    backbone = model.get_layer("backbone")
    blocks = [backbone.get_layer(f"block_{i}") for i in range(3)]
    assert [b.drop_path for b in blocks] == pytest.approx([0.0, 0.15, 0.3])
    assert all(b.attn.scale == 0.5 and b.dropout == 0.2 for b in blocks)
    logits_model = keras_t2t.create_model("t2t_vit_7", classifier_activation=None, **TINY)
    assert logits_model.get_layer("predictions").activation is keras.activations.linear


@pytest.mark.parametrize("name", ["t2t_vit_7", "t2t_vit_t_14"])
def test_keras_save_load_round_trip_gives_identical_outputs(tmp_path, name):
    model = keras_t2t.create_model(name, **TINY)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    images = _images()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(images)), keras.ops.convert_to_numpy(restored(images))
    )
    if name == "t2t_vit_7":
        original = model.get_layer("backbone").tokens_to_token.attention1.random_matrix
        loaded = restored.get_layer("backbone").tokens_to_token.attention1.random_matrix
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(original), keras.ops.convert_to_numpy(loaded)
        )


def test_weights_file_round_trip_and_mismatch_error(tmp_path):
    model = keras_t2t.create_model("t2t_vit_7", **TINY)
    path = str(tmp_path / "tiny.weights.h5")
    model.save_weights(path)
    reloaded = keras_t2t.create_model("t2t_vit_7", weights=path, **TINY)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(_images())), keras.ops.convert_to_numpy(reloaded(_images()))
    )
    with pytest.raises(ValueError, match="another configuration"):
        keras_t2t.create_model("t2t_vit_7", weights=path, **{**TINY, "classes": 7})


def test_corrupt_weights_file_raises_a_clear_error(tmp_path):
    path = tmp_path / "broken.weights.h5"
    path.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="corrupt"):
        keras_t2t.create_model("t2t_vit_7", weights=str(path), **TINY)


@pytest.mark.parametrize(
    "weights, error, match",
    [
        ("imagenet.h5", ValueError, "neither None, 'imagenet', a Keras weights file"),
        ("missing.weights.h5", FileNotFoundError, "not found"),
        (3, TypeError, "file path"),
    ],
)
def test_bad_weights_arguments(weights, error, match):
    with pytest.raises(error, match=match):
        keras_t2t.create_model("t2t_vit_7", weights=weights, **TINY)


@pytest.mark.parametrize(
    "name, scale",
    [
        # What each official builder sets as qk_scale for pretrained weights (official models/*.py).
        ("t2t_vit_7", 256**-0.5),
        ("t2t_vit_t_24", 512**-0.5),
        ("t2t_vit_14_wide", 512**-0.5),  # not 768 ** -0.5: the official builder says 512
        ("t2t_vit_14_se", 384**-0.5),
        ("t2t_vit_16_ghost", 384**-0.5),
        ("vit_small_patch16_224", 768**-0.5),
        ("t2t_vit_dense", None),  # the official builder keeps head_dim ** -0.5
        ("vit_dn", None),  # no official builder
    ],
)
def test_checkpoint_qk_scale_follows_the_official_builders(name, scale):
    assert keras_t2t.models.VARIANTS[name].checkpoint_qk_scale == scale


def test_unknown_model_name_suggests_close_names():
    with pytest.raises(ValueError, match="Did you mean 't2t_vit_14'"):
        keras_t2t.create_model("t2t_vit14")


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="pooling"):
        keras_t2t.create_model("t2t_vit_7", pooling="cls", **TINY)
    with pytest.raises(ValueError, match="include_preprocessing=False"):
        keras_t2t.create_model("t2t_vit_7", **{**TINY, "input_shape": (32, 32, 1)})
    grey = keras_t2t.create_model(
        "t2t_vit_7", include_preprocessing=False, **{**TINY, "input_shape": (32, 32, 1)}
    )
    assert grey.output_shape == (None, 5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("name", ["t2t_vit_7", "t2t_vit_t_14"])
def test_mixed_precision_forward_is_finite_on_large_values(policy, name):
    keras.config.set_dtype_policy(policy)
    model = keras_t2t.create_model(name, include_preprocessing=False, **TINY)
    out = keras.ops.convert_to_numpy(model(_images() * 40.0))  # far outside the normalised range
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
