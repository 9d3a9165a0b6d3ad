"""export.artifact: ONNX, LiteRT and OpenVINO files, each run by its own runtime against Keras."""

import importlib.util
import os

import keras
import numpy as np
import pytest

import keras_t2t
from keras_t2t import export
from keras_t2t.cli import main
from tests.export.conftest import plain_classifier

TINY = dict(input_shape=(32, 32, 3), depth=1, embed_dim=32, num_heads=2, token_dim=8, classes=5)


def _run_onnx(path: str, images: np.ndarray) -> np.ndarray:
    onnxruntime = pytest.importorskip("onnxruntime")
    session = onnxruntime.InferenceSession(path)
    return session.run(None, {session.get_inputs()[0].name: images})[0]


def _run_litert(path: str, images: np.ndarray) -> np.ndarray:
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(path)
    [inputs], [outputs] = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inputs["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inputs["index"], images)
    interpreter.invoke()
    return interpreter.get_tensor(outputs["index"])


def _run_openvino(path: str, images: np.ndarray) -> np.ndarray:
    openvino = pytest.importorskip("openvino")
    # float32 throughout: on CPUs with bfloat16 OpenVINO would otherwise compute in bfloat16.
    compiled = openvino.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(images)[0]


RUNTIMES = {".onnx": _run_onnx, ".tflite": _run_litert, ".xml": _run_openvino}
CONVERTERS = {".onnx": "tf2onnx", ".tflite": "tensorflow", ".xml": "openvino"}


def _images(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (batch, 32, 32, 3)).astype("float32")


def _sharpened(model: keras.Model) -> keras.Model:
    """The head scaled up, so that the probabilities are far from uniform and follow the input."""
    model.head.kernel.assign(model.head.kernel * 30.0)
    return model


@pytest.fixture(scope="module", params=["t2t_vit_7", "t2t_vit_t_14"])
def classifier(request):
    """A softmax classifier that normalises inside: performer and transformer T2T layers."""
    return _sharpened(keras_t2t.create_model(request.param, **TINY))


@pytest.mark.parametrize("suffix", list(RUNTIMES))
def test_each_runtime_gives_the_keras_probabilities_at_any_batch_size(classifier, suffix, tmp_path):
    pytest.importorskip(CONVERTERS[suffix])
    path = export.artifact(classifier, str(tmp_path / f"model{suffix}"))
    for batch in (1, 3):
        images = _images(batch, seed=batch)
        np.testing.assert_allclose(RUNTIMES[suffix](path, images), classifier(images), atol=1e-5)


@pytest.mark.parametrize("suffix", list(RUNTIMES))
def test_normalisation_and_softmax_are_added_where_the_model_lacks_them(suffix, tmp_path):
    pytest.importorskip(CONVERTERS[suffix])
    bare = keras_t2t.create_model(
        "t2t_vit_7", include_preprocessing=False, classifier_activation=None, pooling="avg", **TINY
    )
    path = export.artifact(_sharpened(bare), str(tmp_path / f"bare{suffix}"))
    images = _images(2)
    expected = keras.ops.softmax(bare(keras_t2t.preprocess_input(images)))
    np.testing.assert_allclose(RUNTIMES[suffix](path, images), expected, atol=1e-5)


def test_openvino_writes_its_weights_beside_the_xml_and_leaves_nothing_else(classifier, tmp_path):
    pytest.importorskip("openvino")
    export.artifact(classifier, str(tmp_path / "out" / "model.xml"))
    assert sorted(os.listdir(tmp_path / "out")) == ["model.bin", "model.xml"]


def test_a_failed_export_leaves_nothing_behind(classifier, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("converter broke")

    monkeypatch.setattr(keras.Model, "export", broken)
    with pytest.raises(RuntimeError, match="converter broke"):
        export.artifact(classifier, str(tmp_path / "model.tflite"))
    assert os.listdir(tmp_path) == []


def test_the_ema_weights_are_exported(tmp_path):
    pytest.importorskip("ai_edge_litert")
    model = keras_t2t.create_model("t2t_vit_7", **TINY)
    model.compile(
        keras.optimizers.SGD(0.5, use_ema=True, ema_momentum=0.5), "sparse_categorical_crossentropy"
    )
    model.fit(_images(4), np.array([0, 1, 2, 3]), epochs=2, batch_size=2, verbose=0)
    images = _images(2, seed=5)
    # fit ends by copying the averages into the model: these are the EMA weights' outputs.
    averaged = np.asarray(model(images))
    for variable in model.trainable_variables:
        variable.assign(variable * 1.5 + 0.1)
    own = np.asarray(model(images))
    assert np.abs(own - averaged).max() > 1e-3
    ema = export.artifact(model, str(tmp_path / "ema.tflite"))
    np.testing.assert_allclose(_run_litert(ema, images), averaged, atol=1e-5)
    no_ema = export.artifact(model, str(tmp_path / "own.tflite"), use_ema=False)
    np.testing.assert_allclose(_run_litert(no_ema, images), own, atol=1e-5)


def test_bad_requests_are_explained(classifier, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"suffix, one of \.onnx \(onnx\), \.tflite \(litert\), \.xml"):
        export.artifact(classifier, str(tmp_path / "model.pb"))
    with pytest.raises(ValueError, match="preprocess= and from_logits="):
        export.artifact(plain_classifier(), str(tmp_path / "plain.tflite"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "tf2onnx" else real_find_spec(name)
    )
    with pytest.raises(ImportError, match=r'needs tf2onnx: pip install "keras_t2t\[onnx\]"'):
        export.artifact(classifier, str(tmp_path / "model.onnx"))


def test_the_cli_writes_an_artifact(tmp_path, capsys):
    pytest.importorskip("ai_edge_litert")
    model = _sharpened(keras_t2t.create_model("t2t_vit_7", **TINY))
    model.save(tmp_path / "model.keras")
    argv = ["export", "--weights", str(tmp_path / "model.keras"), "--format", "litert"]
    assert main([*argv, "--output", str(tmp_path / "model.tflite")]) == 0
    assert "probabilities float32 [batch, 5]" in capsys.readouterr().out
    images = _images(2)
    np.testing.assert_allclose(_run_litert(str(tmp_path / "model.tflite"), images), model(images), atol=1e-5)
    assert main([*argv, "--output", str(tmp_path / "model.onnx")]) == 2
    assert "writes a .tflite file" in capsys.readouterr().err
    assert main([*argv, "--output", str(tmp_path / "m.tflite"), "--precision", "bfloat16"]) == 2
    assert "litert format's precisions are float32, float16, dynamic_int8, int8" in capsys.readouterr().err
