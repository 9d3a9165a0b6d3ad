import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

import keras_t2t
from keras_t2t import export
from keras_t2t.data import eval_transform
from keras_t2t.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from tests.export.conftest import CLASS_NAMES, TINY, encode, plain_classifier, random_image, small_classifier


def _images(batch: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_writes_tf_serving_layout(exported):
    export_dir = os.path.dirname(exported)
    assert os.path.basename(exported) == "1"
    assert os.listdir(export_dir) == ["1"]  # no staging folder left behind
    for path in ["saved_model.pb", "variables", "assets.extra/tf_serving_warmup_requests"]:
        assert os.path.exists(os.path.join(exported, path)), path


def test_signatures_declare_dynamic_batch_inputs_and_their_outputs(exported):
    signatures = tf.saved_model.load(exported).signatures
    assert set(signatures) == {"serving_default", "serving_bytes"}
    images = signatures["serving_default"].structured_input_signature[1]
    assert images == {"images": tf.TensorSpec([None, 32, 32, 3], tf.float32, name="images")}
    image_bytes = signatures["serving_bytes"].structured_input_signature[1]
    assert image_bytes == {"image_bytes": tf.TensorSpec([None], tf.string, name="image_bytes")}
    expected = {
        "probabilities": ([None, 5], tf.float32),
        "top_k_classes": ([None, 3], tf.int32),
        "top_k_scores": ([None, 3], tf.float32),
    }
    named = {**expected, "top_k_class_names": ([None, 3], tf.string)}
    for name, outputs in [("serving_default", expected), ("serving_bytes", named)]:
        specs = signatures[name].structured_outputs
        assert {k: (v.shape.as_list(), v.dtype) for k, v in specs.items()} == outputs


@pytest.mark.parametrize("batch", [1, 3])
def test_image_signature_equals_the_keras_model(tiny_t2t, exported, batch):
    images = _images(batch)
    outputs = tf.saved_model.load(exported).signatures["serving_default"](images=tf.constant(images))
    probabilities = np.asarray(tiny_t2t(images))
    np.testing.assert_allclose(outputs["probabilities"], probabilities, atol=1e-5)
    best = np.argsort(-probabilities, axis=1)[:, :3]
    np.testing.assert_array_equal(outputs["top_k_classes"], best)
    np.testing.assert_allclose(outputs["top_k_scores"], np.take_along_axis(probabilities, best, 1), atol=1e-5)


def test_bytes_signature_equals_the_keras_model_on_transformed_images(tiny_t2t, exported):
    pictures = [random_image(40, 60, seed=1), random_image(90, 45, seed=2)]
    encoded = [encode(pictures[0], "png"), encode(pictures[1], "png")]
    outputs = tf.saved_model.load(exported).signatures["serving_bytes"](image_bytes=tf.constant(encoded))
    transformed = np.stack([eval_transform(p, (32, 32), crop_pct=0.9) for p in pictures])
    probabilities = np.asarray(tiny_t2t(transformed))
    np.testing.assert_allclose(outputs["probabilities"], probabilities, atol=1e-5)
    best = np.argsort(-probabilities, axis=1)[:, :3]
    np.testing.assert_array_equal(outputs["top_k_classes"], best)
    names = outputs["top_k_class_names"].numpy().astype(str)
    np.testing.assert_array_equal(names, np.array(CLASS_NAMES)[best])


def test_weights_are_saved_once(tiny_t2t, exported):
    weights_bytes = sum(np.asarray(w).nbytes for w in tiny_t2t.weights)
    data = os.path.join(exported, "variables", "variables.data-00000-of-00001")
    assert weights_bytes <= os.path.getsize(data) < 1.1 * weights_bytes


def test_endpoints_are_not_xla_compiled(exported):
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(exported, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    functions = saved_model.meta_graphs[0].graph_def.library.function
    assert functions
    assert not [f.signature.name for f in functions if f.attr["_XlaMustCompile"].b]


def test_softmax_and_preprocessing_are_added_where_the_model_lacks_them(tiny_t2t):
    defaults = export.ServingFunctions(tiny_t2t)
    assert (defaults.preprocess, defaults.from_logits) == (False, False)
    bare = keras_t2t.create_model(
        "t2t_vit_7", classifier_activation=None, include_preprocessing=False, **TINY
    )
    added = export.ServingFunctions(bare)
    assert (added.preprocess, added.from_logits) == (True, True)


def test_exported_softmax_and_preprocessing_compute_the_right_thing(tmp_path):
    model = small_classifier(activation=None)
    images = _images(2, size=16)
    normalised = (images / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    path = export.saved_model(model, str(tmp_path), warmup_requests=False)
    outputs = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(images))
    expected = _softmax(np.asarray(model(normalised.astype(np.float32)), np.float64))
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)


def test_preprocess_and_from_logits_can_be_set_explicitly(tmp_path):
    model = small_classifier(activation=None)
    images = _images(2, size=16)
    path = export.saved_model(
        model, str(tmp_path), preprocess=False, from_logits=False, warmup_requests=False
    )
    outputs = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(outputs["probabilities"], np.asarray(model(images)), atol=1e-5)


def test_versions_count_up_and_are_never_overwritten(tmp_path):
    model = small_classifier()
    export_dir = str(tmp_path / "small")

    def save(version=None):
        path = export.saved_model(model, export_dir, version, warmup_requests=False)
        return os.path.basename(path)

    assert [save(), save(), save(7), save()] == ["1", "2", "7", "8"]
    with pytest.raises(FileExistsError, match=r"next one \(9\)"):
        save(7)
    for version in [-1, "3", 2.0, True]:
        with pytest.raises(ValueError, match="non-negative integer"):
            save(version)
    assert sorted(os.listdir(export_dir)) == ["1", "2", "7", "8"]


def test_a_failed_export_leaves_no_version_behind(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "write_warmup_requests", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export.saved_model(small_classifier(), str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_ema_weights_are_exported_and_the_model_keeps_its_own(tmp_path):
    model = small_classifier()
    model.compile(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), "categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 16, 16, 3)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    # fit ends by copying the averages into the model: these are the EMA weights' outputs.
    ema_outputs = np.asarray(model(x))
    for variable in model.trainable_variables:
        variable.assign(variable * 1.5 + 0.1)
    own_outputs = np.asarray(model(x))
    assert np.abs(own_outputs - ema_outputs).max() > 1e-3

    for use_ema, expected in [(True, ema_outputs), (False, own_outputs)]:
        path = export.saved_model(
            model, str(tmp_path), use_ema=use_ema, preprocess=False, warmup_requests=False
        )
        outputs = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(x))
        np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)
        np.testing.assert_allclose(np.asarray(model(x)), own_outputs, atol=1e-6)


def test_imagenet_models_get_imagenet_class_names_and_others_their_ids():
    imagenet = export.ServingFunctions(small_classifier(classes=1000))
    assert imagenet.class_names[:2] == ["tench", "goldfish"]
    assert export.ServingFunctions(small_classifier(classes=3), top_k=2).class_names == ["0", "1", "2"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(top_k=0), r"top_k.*\[1, 4\]"),
        (dict(top_k=5), r"top_k.*\[1, 4\]"),
        (dict(class_names=["a", "b"]), "2 names but the model has 4 classes"),
        (dict(crop_pct=0.0), "crop_pct"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        export.ServingFunctions(small_classifier(), **kwargs)


def test_models_that_are_not_image_classifiers_are_explained():
    inputs = keras.Input((None, None, 3))
    any_size = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs)))
    with pytest.raises(ValueError, match=r"known H and W.*\(None, None, None, 3\)"):
        export.ServingFunctions(any_size)
    features = keras_t2t.create_model("t2t_vit_7", include_top=False, **TINY)
    with pytest.raises(ValueError, match=r"\(batch, classes\).*include_top=True"):
        export.ServingFunctions(features)


def test_other_keras_classifiers_export_once_told_how_to_treat_their_inputs_and_outputs(tmp_path):
    model = plain_classifier()
    with pytest.raises(ValueError, match="not a T2TViTImageClassifier.*preprocess= and from_logits="):
        export.ServingFunctions(model)
    images = _images(2, size=16)
    path = export.saved_model(
        model, str(tmp_path), preprocess=False, from_logits=False, warmup_requests=False
    )
    outputs = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(outputs["probabilities"], np.asarray(model(images)), atol=1e-6)


def test_a_bfloat16_export_stores_bfloat16_weights_and_serves_float32(tiny_t2t, tmp_path):
    float32_dir = export.saved_model(tiny_t2t, str(tmp_path / "f32"), warmup_requests=False)
    bfloat16_dir = export.saved_model(
        tiny_t2t, str(tmp_path / "bf16"), warmup_requests=False, precision="bfloat16"
    )
    stored = dict(tf.train.list_variables(os.path.join(bfloat16_dir, "variables", "variables")))
    reader = tf.train.load_checkpoint(os.path.join(bfloat16_dir, "variables", "variables"))
    dtypes = {reader.get_variable_to_dtype_map()[name] for name in stored if "VARIABLE_VALUE" in name}
    assert tf.bfloat16 in dtypes
    assert {variable.dtype for variable in tiny_t2t.weights} == {"float32"}  # the model is unchanged

    images = tf.constant(_images(4))
    served = tf.saved_model.load(bfloat16_dir).signatures["serving_default"](images=images)
    assert served["probabilities"].dtype == tf.float32
    expected = keras_t2t.with_dtype(tiny_t2t, "bfloat16").predict_on_batch(images.numpy())
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-6)
    float32 = tf.saved_model.load(float32_dir).signatures["serving_default"](images=images)
    np.testing.assert_allclose(served["probabilities"], float32["probabilities"], atol=0.02)
    with pytest.raises(ValueError, match="saved_model format.s precisions are float32, bfloat16"):
        export.saved_model(tiny_t2t, str(tmp_path / "f16"), precision="float16")
