"""`.keras` files saved by earlier keras_t2t versions still load, with the same outputs.

`data/t2t_vit_t_14_tiny_fb89122.keras` was saved by keras_t2t at commit fb89122 (before TokenDense and
TokenLayerNormalization) with

    model = keras_t2t.create_model("t2t_vit_t_14", input_shape=(32, 32, 3), classes=5, embed_dim=32,
                                   depth=1, num_heads=2, token_dim=8)
    model.save(...)

and `..._outputs.npy` holds its outputs for `images()` below.
"""

import pathlib
import warnings

import keras
import numpy as np
import pytest

import keras_t2t
from keras_t2t.models.preprocessing import imagenet_normalization

DATA = pathlib.Path(__file__).parent / "data"


def images():
    return np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")


def test_a_model_saved_before_the_token_layers_loads_every_weight():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a skipped weight group is only a warning in Keras
        model = keras.saving.load_model(DATA / "t2t_vit_t_14_tiny_fb89122.keras")
    expected = np.load(DATA / "t2t_vit_t_14_tiny_fb89122_outputs.npy")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images())), expected, atol=1e-6)


def _functional_classifier(pooling: str | None) -> keras.Model:
    """A classifier laid out as the builders made them before T2TViTImageClassifier."""
    inputs = keras.Input((32, 32, 3), name="images")
    x = imagenet_normalization()(inputs)
    backbone = keras_t2t.T2TViTBackbone(
        embed_dim=32, depth=1, num_heads=2, image_shape=(32, 32, 3), token_dim=8, name="backbone"
    )
    features = backbone(x)
    if pooling is None:
        pooled = features["pooled_output"]
    else:
        patch_tokens = keras.layers.Cropping1D((1, 0), name="patch_tokens")(features["sequence_output"])
        pooled = keras.layers.GlobalMaxPooling1D(name="max_pool")(patch_tokens)
    logits = keras.layers.Dense(3, name="head")(pooled)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(logits)
    return keras.Model(inputs, outputs, name="t2t_vit_7")


@pytest.mark.parametrize("pooling", [None, "max"])
def test_a_functional_classifier_of_earlier_versions_loads_as_the_classifier_class(tmp_path, pooling):
    old = _functional_classifier(pooling)
    old.compile(
        keras.optimizers.AdamW(1e-3, use_ema=True, ema_momentum=0.5), "sparse_categorical_crossentropy"
    )
    old.fit(images(), np.array([0, 2]), epochs=2, batch_size=1, verbose=0)
    old.save(tmp_path / "old.keras")
    model = keras_t2t.load_model(tmp_path / "old.keras")
    assert type(model) is keras_t2t.T2TViTImageClassifier
    assert (model.pooling, model.activation, model.include_preprocessing) == (
        pooling or "token",
        "softmax",
        True,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(images())), keras.ops.convert_to_numpy(old(images())), atol=1e-6
    )
    # The training state comes along: same optimizer, step count and moving average.
    assert int(model.optimizer.iterations) == 4 and model.optimizer.use_ema
    for source, target in zip(old.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(target), keras.ops.convert_to_numpy(source), err_msg=source.path
        )


def test_the_fixture_loads_as_the_classifier_class_through_keras_t2t():
    model = keras_t2t.load_model(DATA / "t2t_vit_t_14_tiny_fb89122.keras")
    assert type(model) is keras_t2t.T2TViTImageClassifier and model.num_classes == 5
    expected = np.load(DATA / "t2t_vit_t_14_tiny_fb89122_outputs.npy")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images())), expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(images(), verbose=0), expected, atol=1e-6)
