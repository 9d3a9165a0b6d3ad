"""Builds, loads and runs models on the JAX backend with TensorFlow's imports failing, as where
it is not installed (the GPU machine), for tests/models/test_backends.py.

    KERAS_BACKEND=jax python -m tests.models.no_tensorflow_worker JOB_DIR
"""

import importlib.abc
import json
import sys


class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_text", "tensorflow_datasets"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NoTensorFlow())

import numpy as np  # noqa: E402

import keras_t2t  # noqa: E402


def main(folder: str) -> None:
    with open(f"{folder}/jobs.json") as f:
        kwargs = json.load(f)["weights"]["t2t_vit_t_14"]
    kwargs["input_shape"] = tuple(kwargs["input_shape"])
    images = np.load(f"{folder}/images.npy")
    model = keras_t2t.create_model("t2t_vit_t_14", weights=f"{folder}/t2t_vit_t_14.weights.h5", **kwargs)
    np.save(f"{folder}/no_tf.out.npy", np.asarray(model(images)))
    saved = keras_t2t.load_model(f"{folder}/t2t_vit_7.keras")
    np.save(f"{folder}/no_tf.keras.out.npy", np.asarray(saved(images)))
    loaded = [name for name in sys.modules if name.split(".")[0] == "tensorflow"]
    assert not loaded, loaded
    try:
        model.preprocessor(np.zeros((1, 40, 40, 3), "float32"))
    except ImportError as error:
        print(error)


if __name__ == "__main__":
    main(sys.argv[1])
