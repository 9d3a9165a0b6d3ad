"""Models run as before with TensorFlow's `TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1`, for every input.

The setting makes each oneDNN matmul and convolution kernel keep its second operand from its first
call. That is right only where the operand is a weight: a matmul whose operand is an activation
would give every later input the first input's result. The reference is the same model in a process
with the setting off.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from keras_t2t.benchmark import FROZEN_WEIGHTS_VARIABLE
from keras_t2t.layers.utils import tensorflow_uses_onednn

MODELS = ("t2t_vit_7", "t2t_vit_t_14", "t2t_vit_16_ghost", "vit_small_patch16_224")

_PREDICT = """
import sys
import keras
import numpy as np
import keras_t2t

outputs = {}
for name in sys.argv[2].split(","):
    keras.utils.set_random_seed(0)
    # One block of each: every kind of layer, and of matmul, that the model has.
    model = keras_t2t.create_model(
        name, input_shape=(64, 64, 3), classes=10, classifier_activation=None, depth=1
    )
    for precision in sys.argv[3].split(","):
        copy = model if precision == "float32" else keras_t2t.with_dtype(model, precision)
        rng = np.random.default_rng(0)
        for batch in (3, 1):
            noise = rng.uniform(0, 255, (batch, 64, 64, 3)).astype("float32")
            # Two unlike inputs in turn: a kernel that kept the first would repeat its result.
            for step, images in enumerate((noise, 255 - noise)):
                outputs[f"{name} {precision} batch {batch} input {step}"] = np.asarray(
                    copy.predict_on_batch(images), "float32"
                )
np.savez(sys.argv[1], **outputs)
"""


def _predictions(tmp_path, frozen: bool, precisions: list[str]) -> dict:
    path = tmp_path / f"frozen_{int(frozen)}.npz"
    environment = {**os.environ, FROZEN_WEIGHTS_VARIABLE: "1" if frozen else "0"}
    subprocess.run(
        [sys.executable, "-c", _PREDICT, str(path), ",".join(MODELS), ",".join(precisions)],
        env=environment,
        check=True,
    )
    return dict(np.load(path))


@pytest.mark.skipif(not tensorflow_uses_onednn(), reason="a setting of TensorFlow's oneDNN kernels")
def test_every_input_gets_its_own_prediction_with_frozen_weights(tmp_path):
    precisions = ["float32"] + (["bfloat16"] if tensorflow_uses_onednn("bfloat16") else [])
    reference = _predictions(tmp_path, False, precisions)
    frozen = _predictions(tmp_path, True, precisions)
    assert frozen.keys() == reference.keys()
    for key in reference:
        if not key.endswith("input 1"):
            continue
        first, second = reference[key.replace("input 1", "input 0")], reference[key]
        # A repeated result would be off by the two inputs' difference; bfloat16 may differ by its
        # rounding, which the pre-packed kernels do in another order.
        spread = np.abs(second - first).max()
        tolerance = 1e-4 if " float32 " in key else spread / 4
        if " float32 " in key:
            assert spread > 4 * tolerance, key
        np.testing.assert_allclose(frozen[key.replace("input 1", "input 0")], first, atol=tolerance)
        np.testing.assert_allclose(frozen[key], second, atol=tolerance, err_msg=key)
