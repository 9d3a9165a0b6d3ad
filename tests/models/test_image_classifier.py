"""The keras-hub task classes: T2TViTImageConverter, its preprocessor, and T2TViTImageClassifier."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import keras_t2t
from keras_t2t.data import eval_transform
from keras_t2t.models.image_converter import IMAGENET_OFFSET, IMAGENET_SCALE
from keras_t2t.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD

TINY = dict(input_shape=(32, 32, 3), depth=1, embed_dim=32, num_heads=2, token_dim=8)


def _raw(height: int, width: int, batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (batch, height, width, 3)).astype("float32")


def _normalise(images: np.ndarray) -> np.ndarray:
    return (np.asarray(images) / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)


def test_the_converter_is_the_evaluation_transform_then_imagenet_normalisation():
    converter = keras_t2t.T2TViTImageConverter(image_size=(32, 32))
    images = _raw(50, 70)
    expected = _normalise(np.stack([eval_transform(image, (32, 32)) for image in images]))
    np.testing.assert_allclose(converter(images), expected, atol=1e-5)
    # One image, and a list of images of different sizes.
    np.testing.assert_allclose(converter(images[0]), expected[0], atol=1e-5)
    mixed = [images[0], _raw(40, 33, batch=1)[0]]
    second = _normalise(eval_transform(mixed[1], (32, 32)))
    np.testing.assert_allclose(converter(mixed), np.stack([expected[0], second]), atol=1e-5)


def test_the_converter_leaves_images_of_its_size_uncropped():
    images = _raw(32, 32)
    geometric = keras_t2t.T2TViTImageConverter(image_size=(32, 32), scale=None, offset=None)
    np.testing.assert_array_equal(geometric(images), images)
    normalising = keras_t2t.T2TViTImageConverter(image_size=(32, 32))
    np.testing.assert_allclose(normalising(images), _normalise(images), atol=1e-5)
    # Inside a tf.function with unknown sizes, both cases take the right branch.
    traced = tf.function(geometric, input_signature=[tf.TensorSpec([None, None, None, 3])])
    np.testing.assert_array_equal(traced(images), images)
    other = _raw(48, 40)
    np.testing.assert_allclose(traced(other), eval_transform(other, (32, 32)), atol=1e-5)


def test_the_converter_config_round_trips_and_bad_options_are_explained():
    converter = keras_t2t.T2TViTImageConverter(image_size=(24, 40), crop_pct=0.75, interpolation="bilinear")
    restored = keras_t2t.T2TViTImageConverter.from_config(converter.get_config())
    images = _raw(61, 47)
    np.testing.assert_array_equal(restored(images), converter(images))
    assert restored.crop_pct == 0.75 and tuple(restored.scale) == IMAGENET_SCALE
    assert tuple(restored.offset) == IMAGENET_OFFSET
    with pytest.raises(ValueError, match="crop_pct"):
        keras_t2t.T2TViTImageConverter(crop_pct=1.5)
    with pytest.raises(ValueError, match="does not take.*pad_to_aspect_ratio"):
        keras_t2t.T2TViTImageConverter(pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match=r"with 3 channels.*\(2, 8, 8, 1\)"):
        converter(np.zeros((2, 8, 8, 1), "float32"))


def test_builders_return_the_classifier_with_typed_parts():
    model = keras_t2t.create_model("t2t_vit_7", classes=3, **TINY)
    assert isinstance(model, keras_t2t.T2TViTImageClassifier)
    assert isinstance(model, keras_hub.models.ImageClassifier)
    assert isinstance(model.backbone, keras_t2t.T2TViTBackbone)
    assert isinstance(model.preprocessor, keras_t2t.T2TViTImageClassifierPreprocessor)
    assert model.head.units == model.num_classes == 3
    assert model.include_preprocessing and model.preprocessor.image_converter.scale is None
    assert not model.returns_logits
    assert not model.compiled  # as keras.applications models
    bare = keras_t2t.create_model("t2t_vit_7", classes=3, include_preprocessing=False, **TINY)
    assert bare.normalization is None and bare.preprocessor is None


def test_predict_takes_raw_images_of_any_size():
    model = keras_t2t.create_model("t2t_vit_7", classes=3, **TINY)

    def outputs(images):
        return keras.ops.convert_to_numpy(model(images))

    images = _raw(45, 60)
    expected = outputs(np.stack([eval_transform(image, (32, 32)) for image in images]))
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-6)
    # Images of different sizes: a list through the preprocessor.
    mixed = [images[0], _raw(70, 33, batch=1)[0]]
    expected = outputs(np.stack([eval_transform(image, (32, 32)) for image in mixed]))
    np.testing.assert_allclose(outputs(model.preprocessor(mixed)), expected, atol=1e-6)
    # Images already at the model's size, e.g. from the training pipeline, go in as they are.
    sized = _raw(32, 32)
    np.testing.assert_allclose(model.predict(sized, verbose=0), outputs(sized), atol=1e-6)


def test_a_classifier_normalising_twice_is_refused():
    backbone = keras_t2t.T2TViTBackbone(
        embed_dim=32, depth=1, num_heads=2, image_shape=(32, 32, 3), token_dim=8
    )
    converter = keras_t2t.T2TViTImageConverter(image_size=(32, 32))
    preprocessor = keras_t2t.T2TViTImageClassifierPreprocessor(converter)
    with pytest.raises(ValueError, match="normalised twice"):
        keras_t2t.T2TViTImageClassifier(backbone, 3, preprocessor=preprocessor, include_preprocessing=True)
    with pytest.raises(ValueError, match="pooling"):
        keras_t2t.T2TViTImageClassifier(backbone, 3, pooling="gap")
    with pytest.raises(ValueError, match="num_classes"):
        keras_t2t.T2TViTImageClassifier(backbone, 0)


def test_a_keras_hub_style_classifier_fits_with_default_compilation_on_two_classes():
    backbone = keras_t2t.T2TViTBackbone(
        embed_dim=32, depth=1, num_heads=2, image_shape=(32, 32, 3), token_dim=8
    )
    preprocessor = keras_t2t.T2TViTImageClassifierPreprocessor(
        keras_t2t.T2TViTImageConverter(image_size=(32, 32))
    )
    classifier = keras_t2t.T2TViTImageClassifier(backbone, 2, preprocessor=preprocessor)
    assert classifier.compiled and classifier.returns_logits
    images, labels = _raw(40, 40, batch=4), np.array([0, 1, 0, 1])
    history = classifier.fit(images, labels, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "accuracy" in history.history
    # One-hot labels with a loss of the user's choice work with the default metrics too.
    classifier.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    classifier.fit(images, np.eye(2)[labels], epochs=1, batch_size=2, verbose=0)


def test_the_classifier_round_trips_through_keras_and_keras_hub_presets(tmp_path):
    model = keras_t2t.create_model("t2t_vit_7", classes=3, pooling="avg", **TINY)
    images = _raw(40, 52)
    expected = model.predict(images, verbose=0)

    model.save(tmp_path / "model.keras")
    loaded = keras_t2t.load_model(tmp_path / "model.keras")
    assert type(loaded) is keras_t2t.T2TViTImageClassifier and loaded.pooling == "avg"
    assert not loaded.compiled  # saved uncompiled
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), expected)

    model.save_to_preset(str(tmp_path / "preset"))
    classifier = keras_hub.models.ImageClassifier.from_preset(str(tmp_path / "preset"))
    assert type(classifier) is keras_t2t.T2TViTImageClassifier
    assert type(classifier.preprocessor.image_converter) is keras_t2t.T2TViTImageConverter
    assert classifier.compiled  # as keras-hub's presets come
    np.testing.assert_array_equal(classifier.predict(images, verbose=0), expected)
    backbone = keras_hub.models.Backbone.from_preset(str(tmp_path / "preset"))
    assert type(backbone) is keras_t2t.T2TViTBackbone
    x = keras_t2t.preprocess_input(_raw(32, 32))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(backbone(x)["pooled_output"]),
        keras.ops.convert_to_numpy(model.backbone(x)["pooled_output"]),
    )


def test_the_head_dtype_survives_saving(tmp_path):
    backbone = keras_t2t.T2TViTBackbone(
        embed_dim=32, depth=1, num_heads=2, image_shape=(32, 32, 3), token_dim=8, dtype="mixed_bfloat16"
    )
    classifier = keras_t2t.T2TViTImageClassifier(backbone, 3, head_dtype="float32", compile=False)
    classifier.save(tmp_path / "model.keras")
    loaded = keras_t2t.load_model(tmp_path / "model.keras")
    assert loaded.head.dtype_policy.name == "float32"
    assert loaded.backbone.dtype_policy.name == "mixed_bfloat16"
    images = _raw(32, 32)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(images)), keras.ops.convert_to_numpy(classifier(images))
    )


def test_a_trained_classifier_keeps_its_optimizer_and_weight_average_through_save_and_load(tmp_path):
    model = keras_t2t.create_model("t2t_vit_7", classes=3, **TINY)
    model.compile(
        keras.optimizers.AdamW(1e-3, use_ema=True, ema_momentum=0.5), "sparse_categorical_crossentropy"
    )
    model.fit(_raw(32, 32, batch=4), np.array([0, 1, 2, 0]), epochs=2, batch_size=2, verbose=0)
    model.save(tmp_path / "trained.keras")
    loaded = keras_t2t.load_model(tmp_path / "trained.keras")
    assert isinstance(loaded.optimizer, keras.optimizers.AdamW) and loaded.optimizer.built
    assert int(loaded.optimizer.iterations) == 4
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(restored), keras.ops.convert_to_numpy(saved), err_msg=saved.path
        )
