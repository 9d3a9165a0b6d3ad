"""The export as TF Serving meets it: a bare process, saved_model_cli, REST and gRPC, warm-up."""

import base64
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from keras_t2t import export
from keras_t2t.data import eval_transform
from tests.export.conftest import CLASS_NAMES, encode, random_image, small_classifier
from tests.export.tf_serving import rest_predict

BARE_PROCESS = textwrap.dedent(
    """
    import os
    import sys

    # As if not installed: a None entry in sys.modules makes `import` fail and find_spec miss.
    for name in ["keras", "keras_t2t", "tf_keras"]:
        sys.modules[name] = None
    import numpy as np
    import tensorflow as tf

    saved_model_dir, inputs_dir, outputs_dir = sys.argv[1:]
    images = np.load(f"{inputs_dir}/images.npy")
    image_bytes = np.load(f"{inputs_dir}/image_bytes.npy", allow_pickle=True)
    signatures = tf.saved_model.load(saved_model_dir).signatures
    images = signatures["serving_default"](images=tf.constant(images))
    named = signatures["serving_bytes"](image_bytes=tf.constant(list(image_bytes)))
    os.makedirs(outputs_dir)
    np.savez(
        f"{outputs_dir}/outputs.npz",
        probabilities=images["probabilities"].numpy(),
        bytes_probabilities=named["probabilities"].numpy(),
        names=named["top_k_class_names"].numpy().astype(str),
    )
    loaded = sorted(
        name
        for name, module in sys.modules.items()
        if module is not None and name.partition(".")[0] in {"keras", "keras_t2t", "tf_keras"}
    )
    print("keras modules loaded:", loaded)
    """
)


def _images(batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (batch, 32, 32, 3)).astype(np.float32)


def _encoded_pictures() -> list[bytes]:
    return [encode(random_image(40, 60, seed=1), "jpeg"), encode(random_image(90, 45, seed=2), "png")]


def _bytes_expectation(model, encoded):
    decoded = [tf.io.decode_image(data, channels=3) for data in encoded]
    return np.asarray(model(np.stack([eval_transform(d, (32, 32)) for d in decoded])))


@pytest.fixture(scope="module")
def processes(exported, tmp_path_factory):
    """Starts the out-of-process checks together, as each spends most of its time importing
    TensorFlow; a test waits for its own. Inputs: `_images(3)` and `_encoded_pictures()`."""
    work = tmp_path_factory.mktemp("processes")
    encoded = _encoded_pictures()
    np.save(work / "images.npy", _images(3))
    np.save(work / "image_bytes.npy", np.array(encoded, dtype=object), allow_pickle=True)
    (work / "serve.py").write_text(BARE_PROCESS)
    cli_run = ["saved_model_cli", "run", "--dir", exported, "--tag_set", "serve"]
    commands = {
        "bare": [sys.executable, str(work / "serve.py"), exported, str(work), str(work / "bare")],
        "show": ["saved_model_cli", "show", "--dir", exported, "--all"],
        "run_images": cli_run
        + ["--signature_def", "serving_default", "--outdir", str(work / "run_images")]
        + ["--inputs", f"images={work / 'images.npy'}"],
        "run_bytes": cli_run
        + ["--signature_def", "serving_bytes", "--outdir", str(work / "run_bytes")]
        + ["--inputs", f"image_bytes={work / 'image_bytes.npy'}"],
    }
    # No PYTHONPATH and another working directory: keras_t2t is not reachable from the source tree.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = {
        name: subprocess.Popen(
            command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name, command in commands.items()
    }
    yield work, started
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


def _wait(processes, name: str) -> str:
    """The stdout of a started process, once it has succeeded."""
    stdout, stderr = processes[1][name].communicate(timeout=300)
    assert processes[1][name].returncode == 0, stderr[-3000:]
    return stdout


def test_loads_and_runs_in_a_process_without_keras(tiny_t2t, processes):
    assert "keras modules loaded: []" in _wait(processes, "bare")
    outputs = np.load(processes[0] / "bare" / "outputs.npz")
    images = _images(3)
    np.testing.assert_allclose(outputs["probabilities"], np.asarray(tiny_t2t(images)), atol=1e-5)
    encoded = _encoded_pictures()
    expected = _bytes_expectation(tiny_t2t, encoded)
    np.testing.assert_allclose(outputs["bytes_probabilities"], expected, atol=1e-5)
    best = np.argsort(-expected, axis=1)[:, :3]
    np.testing.assert_array_equal(outputs["names"], np.array(CLASS_NAMES)[best])


def test_saved_model_cli_shows_both_signatures(processes):
    stdout = _wait(processes, "show")
    for line in [
        "signature_def['serving_default']:",
        "signature_def['serving_bytes']:",
        "inputs['images'] tensor_info:",
        "shape: (-1, 32, 32, 3)",
        "inputs['image_bytes'] tensor_info:",
        "outputs['top_k_class_names'] tensor_info:",
        "Method name is: tensorflow/serving/predict",
    ]:
        assert line in stdout, line


def test_saved_model_cli_runs_both_signatures(tiny_t2t, processes):
    _wait(processes, "run_images")
    _wait(processes, "run_bytes")
    work = processes[0]
    probabilities = np.load(work / "run_images" / "probabilities.npy")
    np.testing.assert_allclose(probabilities, np.asarray(tiny_t2t(_images(3))), atol=1e-5)
    encoded = _encoded_pictures()
    bytes_probabilities = np.load(work / "run_bytes" / "probabilities.npy")
    np.testing.assert_allclose(bytes_probabilities, _bytes_expectation(tiny_t2t, encoded), atol=1e-5)
    names = np.load(work / "run_bytes" / "top_k_class_names.npy", allow_pickle=True)
    assert names.shape == (2, 3) and set(names.ravel().astype(str)) <= set(CLASS_NAMES)


def test_rest_row_and_columnar_requests(tiny_t2t, servable):
    images = _images(2)
    expected = np.asarray(tiny_t2t(images))
    rows = json.loads(rest_predict(servable, json.dumps({"instances": images.tolist()})))
    assert [sorted(p) for p in rows["predictions"]] == [
        ["probabilities", "top_k_classes", "top_k_scores"]
    ] * 2
    np.testing.assert_allclose([p["probabilities"] for p in rows["predictions"]], expected, atol=1e-5)
    columns = json.loads(
        rest_predict(
            servable,
            json.dumps({"signature_name": "serving_default", "inputs": {"images": images.tolist()}}),
        )
    )
    np.testing.assert_allclose(columns["outputs"]["probabilities"], expected, atol=1e-5)


def test_rest_base64_image_bytes(tiny_t2t, servable):
    encoded = _encoded_pictures()
    instances = [{"image_bytes": {"b64": base64.b64encode(data).decode()}} for data in encoded]
    body = json.dumps({"signature_name": "serving_bytes", "instances": instances})
    response = json.loads(rest_predict(servable, body))
    expected = _bytes_expectation(tiny_t2t, encoded)
    predictions = response["predictions"]
    np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, atol=1e-5)
    best = np.argsort(-expected, axis=1)[:, :3]
    assert [p["top_k_class_names"] for p in predictions] == np.array(CLASS_NAMES)[best].tolist()
    assert [p["top_k_classes"] for p in predictions] == best.tolist()


def test_grpc_predict_both_signatures(tiny_t2t, grpc_stub):
    images = _images(2)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny_t2t"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(images))
    response = grpc_stub.Predict(request, timeout=60)
    assert response.model_spec.signature_name == "serving_default"
    probabilities = tf.make_ndarray(response.outputs["probabilities"])
    np.testing.assert_allclose(probabilities, np.asarray(tiny_t2t(images)), atol=1e-5)

    encoded = _encoded_pictures()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny_t2t"
    request.model_spec.signature_name = "serving_bytes"
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(encoded))
    response = grpc_stub.Predict(request, timeout=60)
    expected = _bytes_expectation(tiny_t2t, encoded)
    probabilities = tf.make_ndarray(response.outputs["probabilities"])
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    names = tf.make_ndarray(response.outputs["top_k_class_names"]).astype(str)
    np.testing.assert_array_equal(names, np.array(CLASS_NAMES)[np.argsort(-expected, 1)[:, :3]])


def test_warmup_requests_replay_for_each_signature(exported, grpc_stub):
    path = os.path.join(exported, "assets.extra", "tf_serving_warmup_requests")
    logs = [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(path)
    ]
    requests = [log.predict_log.request for log in logs]
    assert [r.model_spec.signature_name for r in requests] == ["serving_default", "serving_bytes"]
    assert {r.model_spec.name for r in requests} == {"tiny_t2t"}
    for request in requests:
        response = grpc_stub.Predict(request, timeout=60)
        probabilities = tf.make_ndarray(response.outputs["probabilities"])
        assert probabilities.shape == (1, 5)
        np.testing.assert_allclose(probabilities.sum(), 1.0, atol=1e-5)


def test_warmup_records_are_the_serving_api_messages():
    inputs = {"images": np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3), "extra": np.array([b"x"], object)}
    expected = predict_pb2.PredictRequest()
    expected.model_spec.name = "a_model"
    expected.model_spec.signature_name = "serving_bytes"
    for name, value in inputs.items():
        expected.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog.FromString(
        export.prediction_log("a_model", "serving_bytes", inputs)
    )
    assert log.WhichOneof("log_type") == "predict_log"
    assert log.predict_log.request == expected


def test_the_default_export_needs_no_serving_api(tmp_path, monkeypatch):
    # As on a plain install: `import tensorflow_serving` fails.
    for name in [name for name in sys.modules if name.startswith("tensorflow_serving")] + [
        "tensorflow_serving"
    ]:
        monkeypatch.setitem(sys.modules, name, None)
    path = export.saved_model(small_classifier(), str(tmp_path / "small"))
    records = tf.data.TFRecordDataset(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))
    logs = [prediction_log_pb2.PredictionLog.FromString(record.numpy()) for record in records]
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == [
        "serving_default",
        "serving_bytes",
    ]
    images = tf.make_ndarray(logs[0].predict_log.request.inputs["images"])
    np.testing.assert_array_equal(images, np.full((1, 16, 16, 3), 128.0, np.float32))
