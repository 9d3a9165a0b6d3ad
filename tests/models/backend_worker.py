"""Runs the jobs of tests/models/test_backends.py under the Keras backend of its environment.

    KERAS_BACKEND=jax python -m tests.models.backend_worker JOB_DIR

Reads `JOB_DIR/jobs.json` and the files it names, and writes `JOB_DIR/results.json` plus one
`.npy` per output: the models' outputs on the given images with the given weights, the parameter
counts of full-size models, the outputs of `.keras` files saved by TensorFlow, a `.keras` file
saved here, and an official checkpoint converted here.
"""

import json
import os
import sys

import keras
import numpy as np

import keras_t2t
from keras_t2t.complexity import count_params
from keras_t2t.convert import load_torch_checkpoint


def main(job_dir: str) -> None:
    with open(os.path.join(job_dir, "jobs.json")) as f:
        jobs = json.load(f)
    images = np.load(os.path.join(job_dir, "images.npy"))
    results = {"backend": keras.config.backend(), "parameters": {}}
    for name, kwargs in jobs["weights"].items():
        weights = os.path.join(job_dir, f"{name}.weights.h5")
        model = keras_t2t.create_model(name, weights=weights, **_with_tuples(kwargs))
        np.save(os.path.join(job_dir, f"{name}.out.npy"), keras.ops.convert_to_numpy(model(images)))
    for name, size in jobs["parameters"]:
        model = keras_t2t.create_model(name, input_shape=(size, size, 3))
        results["parameters"][f"{name}@{size}"] = list(count_params(model))
    for name in jobs["keras_files"]:
        model = keras_t2t.load_model(os.path.join(job_dir, f"{name}.keras"))
        np.save(os.path.join(job_dir, f"{name}.keras.out.npy"), keras.ops.convert_to_numpy(model(images)))
        # And back: saved on this backend, for TensorFlow to load.
        model.save(os.path.join(job_dir, f"{name}.{results['backend']}.keras"))
    checkpoint = jobs["checkpoint"]
    model = keras_t2t.create_model(checkpoint["model"], **_with_tuples(checkpoint["kwargs"]))
    load_torch_checkpoint(model, os.path.join(job_dir, "checkpoint.pth.tar"))
    checkpoint_images = np.load(os.path.join(job_dir, "checkpoint_images.npy"))
    np.save(os.path.join(job_dir, "checkpoint.out.npy"), keras.ops.convert_to_numpy(model(checkpoint_images)))
    with open(os.path.join(job_dir, "results.json"), "w") as f:
        json.dump(results, f)


def _with_tuples(kwargs: dict) -> dict:
    """JSON's lists (input shapes) as the tuples the builders take."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in kwargs.items()}


if __name__ == "__main__":
    main(sys.argv[1])
