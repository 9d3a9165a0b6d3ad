"""Writes what benchmarks/gpu_check.py compares the JAX backend with: tiny versions of every
registered model, their weights and TensorFlow's outputs on fixed images.

    python benchmarks/device_fixture.py .device_fixture
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import keras_t2t  # noqa: E402
from keras_t2t.models import list_models  # noqa: E402

TINY = dict(input_shape=[32, 32, 3], depth=1, embed_dim=32, num_heads=2, token_dim=8, classes=5)
# A dense stack of two groups of one block, growing by 16 channels.
TINY_DENSE = dict(depth=2, dense_blocks=[1, 1], growth_rate=16)


def main(folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.save(os.path.join(folder, "images.npy"), images)
    jobs = {}
    for name in list_models():
        kwargs = {**TINY, **TINY_DENSE} if name == "t2t_vit_dense" else TINY
        model = keras_t2t.create_model(
            name, **{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
        )
        model.head.kernel.assign(model.head.kernel * 20.0)  # probabilities that follow the features
        model.save_weights(os.path.join(folder, f"{name}.weights.h5"))
        np.save(os.path.join(folder, f"{name}.expected.npy"), np.asarray(model(images)))
        jobs[name] = kwargs
    with open(os.path.join(folder, "jobs.json"), "w") as f:
        json.dump({"weights": jobs}, f)


if __name__ == "__main__":
    main(sys.argv[1])
