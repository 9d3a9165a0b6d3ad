"""Quantized models: Keras' int8 (predict, .keras, SavedModel), LiteRT's float16 / dynamic-range /
calibrated int8 files and OpenVINO's NNCF int8, each against the float32 Keras model."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_t2t
from keras_t2t import data, export
from keras_t2t.cli import main
from keras_t2t.layers import TokenDense
from keras_t2t.runtimes import load_artifact
from tests.export.conftest import encode, random_image

TINY = dict(input_shape=(32, 32, 3), depth=1, embed_dim=32, num_heads=2, token_dim=8, classes=5)


def _images(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (batch, 32, 32, 3)).astype("float32")


def _classifier(name: str = "t2t_vit_7") -> keras.Model:
    """A tiny classifier whose head is scaled up, so that its probabilities follow the input."""
    model = keras_t2t.create_model(name, **TINY)
    model.head.kernel.assign(model.head.kernel * 30.0)
    return model


@pytest.fixture(scope="module")
def classifier():
    return _classifier()


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """train/{a,b,c}/: 4 PNG images each, sorted by class on disk; val/{a,b,c}/: one each."""
    root = tmp_path_factory.mktemp("calibration")
    for split, count in (("train", 4), ("val", 1)):
        for position, name in enumerate("abc"):
            os.makedirs(root / split / name)
            for i in range(count):
                picture = random_image(40, 48, seed=10 * position + i + 100 * (split == "val"))
                (root / split / name / f"{i}.png").write_bytes(encode(picture, "png"))
    return root


def _calibration(count: int = 16) -> list[np.ndarray]:
    return [_images(4, seed=100 + i) for i in range(count // 4)]


def test_token_dense_quantizes_as_keras_dense():
    inputs = np.random.default_rng(0).normal(size=(2, 7, 12)).astype("float32")
    ours, reference = TokenDense(6, activation="gelu"), keras.layers.Dense(6, activation="gelu")
    ours.build((None, 7, 12))
    reference.build((None, 7, 12))
    reference.set_weights(ours.get_weights())
    ours.quantize("int8")
    reference.quantize("int8")
    assert ours._kernel.dtype == "int8"
    np.testing.assert_allclose(ours(inputs), reference(inputs), atol=1e-6)


@pytest.mark.parametrize("name", ["t2t_vit_7", "t2t_vit_t_14"])
def test_keras_int8_quantizes_every_matmul_and_survives_a_save(name, tmp_path):
    model = _classifier(name)
    images = _images(3)
    expected = np.asarray(model(images))
    # Straight after building, before any call: Keras refuses to quantize unbuilt layers.
    model.quantize("int8")
    dense_layers = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dense)]
    assert dense_layers and all(layer.quantization_mode == "int8" for layer in dense_layers)
    assert all(layer._kernel.dtype == "int8" for layer in dense_layers)
    quantized = np.asarray(model(images))
    assert 0 < np.abs(quantized - expected).max() < 0.05
    model.save(tmp_path / "int8.keras")
    reloaded = keras_t2t.load_model(tmp_path / "int8.keras")
    np.testing.assert_array_equal(np.asarray(reloaded(images)), quantized)


def test_dynamic_int8_saved_model_serves_the_quantized_model(classifier, tmp_path):
    version = export.saved_model(classifier, str(tmp_path), precision="dynamic_int8", warmup_requests=False)
    assert classifier.head.kernel.dtype == "float32"  # the model passed in is not quantized
    reader = tf.train.load_checkpoint(os.path.join(version, "variables", "variables"))
    assert tf.int8 in set(reader.get_variable_to_dtype_map().values())
    images = _images(2)
    served = tf.saved_model.load(version).signatures["serving_default"](images=tf.constant(images))
    quantized = export.in_precision(classifier, "dynamic_int8")
    np.testing.assert_allclose(served["probabilities"], quantized(images), atol=1e-6)
    assert 0 < np.abs(served["probabilities"] - classifier(images)).max() < 0.05


def _litert_tensor_types(path: str) -> set:
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(path)
    return {np.dtype(tensor["dtype"]).name for tensor in interpreter.get_tensor_details()}


@pytest.mark.parametrize(
    "precision, stored, tolerance",
    [("float16", "float16", 0.01), ("dynamic_int8", "int8", 0.05), ("int8", "int8", 0.2)],
)
def test_litert_precisions(classifier, precision, stored, tolerance, tmp_path):
    pytest.importorskip("ai_edge_litert")
    calibration = _calibration() if precision == "int8" else None
    path = export.artifact(
        classifier, str(tmp_path / f"{precision}.tflite"), precision=precision, calibration_data=calibration
    )
    assert stored in _litert_tensor_types(path)
    float_path = export.artifact(classifier, str(tmp_path / "float32.tflite"))
    assert os.path.getsize(path) < 0.9 * os.path.getsize(float_path)  # the tiny model is mostly graph
    images = _images(3, seed=7)
    # Inputs and outputs stay float32; the probabilities move by the quantization's error only.
    probabilities = load_artifact(path)(images)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=tolerance)
    np.testing.assert_allclose(probabilities, classifier(images), atol=tolerance)


def test_openvino_int8_is_quantized_by_nncf(classifier, tmp_path):
    openvino = pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    path = export.artifact(
        classifier, str(tmp_path / "int8.xml"), precision="int8", calibration_data=_calibration()
    )
    assert sorted(os.listdir(tmp_path)) == ["int8.bin", "int8.xml"]
    operations = {op.get_type_name() for op in openvino.Core().read_model(path).get_ops()}
    assert "FakeQuantize" in operations
    images = _images(3, seed=7)
    np.testing.assert_allclose(load_artifact(path)(images), classifier(images), atol=0.2)


def test_calibration_accepts_datasets_of_pairs_and_counts_steps(classifier):
    pairs = tf.data.Dataset.from_tensor_slices((_images(10), np.arange(10))).batch(4)
    samples = export.calibration_samples(pairs, 2, (32, 32, 3))
    assert len(samples) == 8 and all(sample.shape == (1, 32, 32, 3) for sample in samples)
    np.testing.assert_array_equal(np.concatenate(samples), _images(10)[:8])
    assert len(export.calibration_samples(pairs, None, (32, 32, 3))) == 10


def test_calibration_dataset_samples_the_training_split_across_classes(image_folder):
    batches = list(
        data.calibration_dataset(str(image_folder), image_size=(32, 32), batch_size=3, steps=2, seed=1)
    )
    assert [batch.shape for batch in batches] == [(3, 32, 32, 3), (3, 32, 32, 3)]
    assert np.min(batches) >= 0 and np.max(batches) <= 255
    # Drawn across the classes, not the first class's files in file order.
    in_order = next(
        iter(data.eval_dataset(str(image_folder), image_size=(32, 32), batch_size=6, split="train"))
    )
    first_class = {image.tobytes() for image in in_order[0].numpy()[:4]}
    drawn = {image.tobytes() for image in np.concatenate(batches)}
    assert drawn - first_class
    # A split smaller than steps * batch_size gives what it has.
    everything = list(data.calibration_dataset(str(image_folder), image_size=(32, 32), batch_size=5, steps=9))
    assert sum(len(batch) for batch in everything) == 12


def test_bad_quantization_requests_are_explained(classifier, tmp_path):
    with pytest.raises(ValueError, match="calibrated on sample images: pass calibration_data"):
        export.artifact(classifier, str(tmp_path / "m.tflite"), precision="int8")
    with pytest.raises(ValueError, match='precision="float16" calibrates nothing'):
        export.artifact(
            classifier, str(tmp_path / "m.tflite"), precision="float16", calibration_data=_calibration()
        )
    with pytest.raises(ValueError, match="onnx format's precisions are float32; received precision='int8'"):
        export.artifact(classifier, str(tmp_path / "m.onnx"), precision="int8")
    with pytest.raises(
        ValueError, match="saved_model format's precisions are float32, bfloat16, dynamic_int8"
    ):
        export.saved_model(classifier, str(tmp_path / "sm"), precision="int8")
    with pytest.raises(ValueError, match=r"shaped \(batch, 32, 32, 3\), as the model takes them; batch 0 is"):
        export.artifact(
            classifier,
            str(tmp_path / "m.tflite"),
            precision="int8",
            calibration_data=[np.zeros((2, 28, 28, 3), "float32")],
        )
    with pytest.raises(ValueError, match="calibration_data holds no images"):
        export.artifact(classifier, str(tmp_path / "m.tflite"), precision="int8", calibration_data=[])
    assert os.listdir(tmp_path) == []


def test_the_cli_calibrates_on_a_dataset(classifier, image_folder, tmp_path, capsys):
    pytest.importorskip("ai_edge_litert")
    classifier.save(tmp_path / "model.keras")
    argv = ["export", "--weights", str(tmp_path / "model.keras"), "--format", "litert"]
    output = str(tmp_path / "int8.tflite")
    assert main([*argv, "--output", output, "--precision", "int8"]) == 2
    assert "pass calibration_data" in capsys.readouterr().err
    calibration = [
        "--calibration-data",
        str(image_folder),
        "--calibration-steps",
        "2",
        "--calibration-batch-size",
        "3",
    ]
    assert main([*argv, "--output", output, "--precision", "int8", *calibration]) == 0
    assert "the model weights, int8" in capsys.readouterr().out
    assert "int8" in _litert_tensor_types(output)
    saved_model = ["export", "--weights", str(tmp_path / "model.keras"), "--output", str(tmp_path / "sm")]
    assert main([*saved_model, "--precision", "dynamic_int8", *calibration]) == 2
    assert "--calibration-data calibrates the int8 precision of --format litert" in capsys.readouterr().err
