"""The model family on the JAX and PyTorch backends (Keras 3's other backends), against the
TensorFlow backend on the same weights: every registered model's outputs, the official parameter
counts, `.keras` files moved both ways, and an official checkpoint converted there.

Each backend runs once, in a subprocess (`tests/models/backend_worker.py`): Keras fixes its
backend when it is first imported. A backend whose package is missing is skipped.
"""

import importlib.util
import json
import os

import numpy as np
import pytest

import keras_t2t
from keras_t2t.models import VARIANTS, list_models
from tests.convert.checkpoints import TINY as CHECKPOINT_TINY
from tests.convert.checkpoints import images, reference_model, reference_output, save
from tests.models.test_parameter_counts import REFERENCE_PARAMS
from tests.subprocesses import run_worker

TINY = dict(input_shape=[32, 32, 3], depth=1, embed_dim=32, num_heads=2, token_dim=8, classes=5)
# A dense stack of two groups of one block, growing by 16 channels.
TINY_KWARGS = {name: TINY for name in list_models()} | {
    "t2t_vit_dense": {**TINY, "depth": 2, "dense_blocks": [1, 1], "growth_rate": 16}
}
FULL_SIZE = [("t2t_vit_7", 224), ("t2t_vit_14", 224), ("t2t_vit_t_14", 224), ("t2t_vit_14", 384)]
KERAS_FILES = ["t2t_vit_7", "t2t_vit_t_14"]
BACKENDS = {"jax": "jax", "torch": "torch"}
# The expectations come from this process, which must be on the TensorFlow backend.
pytestmark = pytest.mark.tensorflow_only


def _tuples(kwargs: dict) -> dict:
    return {key: tuple(value) if isinstance(value, list) else value for key, value in kwargs.items()}


@pytest.fixture(scope="module")
def tensorflow_side(tmp_path_factory):
    """The jobs, and what the TensorFlow backend computes for them."""
    folder = tmp_path_factory.mktemp("backends")
    inputs = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    expected = {}
    for name, kwargs in TINY_KWARGS.items():
        model = keras_t2t.create_model(name, **_tuples(kwargs))
        # A head scaled up, so that the softmax outputs follow the features closely.
        model.head.kernel.assign(model.head.kernel * 20.0)
        model.save_weights(folder / f"{name}.weights.h5")
        expected[name] = np.asarray(model(inputs))
        if name in KERAS_FILES:
            model.save(folder / f"{name}.keras")
    checkpoint_kwargs = dict(
        input_shape=[32, 32, 3],
        classes=10,
        classifier_activation=None,
        qk_scale=VARIANTS["t2t_vit_7"].checkpoint_qk_scale,
        **CHECKPOINT_TINY,
    )
    reference = reference_model("t2t_vit_7", 32, num_classes=10, **CHECKPOINT_TINY)
    save(folder / "checkpoint.pth.tar", reference.state_dict())
    np.save(folder / "checkpoint_images.npy", images(32, batch=2))
    expected["checkpoint"] = reference_output(reference, images(32, batch=2))
    np.save(folder / "images.npy", inputs)
    jobs = {
        "weights": TINY_KWARGS,
        "parameters": FULL_SIZE,
        "keras_files": KERAS_FILES,
        "checkpoint": {"model": "t2t_vit_7", "kwargs": checkpoint_kwargs},
    }
    (folder / "jobs.json").write_text(json.dumps(jobs))
    return folder, inputs, expected


@pytest.fixture(scope="module", params=list(BACKENDS))
def backend_run(request, tensorflow_side, tmp_path_factory):
    backend = request.param
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        pytest.skip(f"{BACKENDS[backend]} is not installed")
    source, inputs, expected = tensorflow_side
    folder = tmp_path_factory.mktemp(backend)
    for name in os.listdir(source):
        os.symlink(source / name, folder / name)
    run_worker("tests.models.backend_worker", str(folder), backend=backend)
    results = json.loads((folder / "results.json").read_text())
    assert results["backend"] == backend
    return backend, folder, results, inputs, expected


@pytest.mark.parametrize("name", list_models())
def test_every_model_gives_the_tensorflow_outputs(backend_run, name):
    _, folder, _, _, expected = backend_run
    np.testing.assert_allclose(np.load(folder / f"{name}.out.npy"), expected[name], atol=1e-5)


def test_parameter_counts_equal_the_official_release(backend_run):
    _, _, results, _, _ = backend_run
    for name, size in FULL_SIZE:
        assert tuple(results["parameters"][f"{name}@{size}"]) == REFERENCE_PARAMS[(name, size)]


@pytest.mark.parametrize("name", KERAS_FILES)
def test_keras_files_move_between_backends(backend_run, name):
    backend, folder, _, inputs, expected = backend_run
    np.testing.assert_allclose(np.load(folder / f"{name}.keras.out.npy"), expected[name], atol=1e-5)
    back = keras_t2t.load_model(folder / f"{name}.{backend}.keras")
    np.testing.assert_allclose(np.asarray(back(inputs)), expected[name], atol=1e-5)


def test_official_checkpoints_convert_and_give_the_official_logits(backend_run):
    _, folder, _, _, expected = backend_run
    np.testing.assert_allclose(np.load(folder / "checkpoint.out.npy"), expected["checkpoint"], atol=1e-4)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_the_models_run_on_jax_without_tensorflow(tensorflow_side):
    folder, _, expected = tensorflow_side
    stdout = run_worker("tests.models.no_tensorflow_worker", str(folder), backend="jax", timeout=600)
    np.testing.assert_allclose(np.load(folder / "no_tf.out.npy"), expected["t2t_vit_t_14"], atol=1e-5)
    np.testing.assert_allclose(np.load(folder / "no_tf.keras.out.npy"), expected["t2t_vit_7"], atol=1e-5)
    assert "evaluation transform runs in TensorFlow, which is not installed" in stdout
