"""`model.fit` on the JAX or PyTorch backend with the paper's recipe, for
tests/training/test_backend_fit.py. On JAX it is data-parallel over the host's devices (Keras'
distribution API is JAX-only).

    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 \
        python -m tests.training.fit_worker IMAGE_FOLDER RESULT.json
    KERAS_BACKEND=torch python -m tests.training.fit_worker IMAGE_FOLDER RESULT.json
"""

import json
import sys

import keras
import numpy as np

import keras_t2t
from keras_t2t import data
from keras_t2t.ema import ema_weights
from keras_t2t.training.optimizer import build_optimizer, learning_rate_schedule
from keras_t2t.training.train import compile_classifier


def main(folder: str, result_path: str) -> None:
    data_parallel = keras.config.backend() == "jax"
    if data_parallel:
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    model = keras_t2t.create_model(
        "t2t_vit_7", input_shape=(32, 32, 3), depth=1, embed_dim=32, num_heads=2, token_dim=8, classes=2
    )
    steps_per_epoch, epochs = 3, 2
    schedule = learning_rate_schedule(1e-3, steps_per_epoch, epochs, warmup_epochs=1)
    optimizer = build_optimizer(model, schedule, weight_decay=0.03, ema_decay=0.9)
    compile_classifier(model, optimizer)
    # The training pipeline (tf.data, RandAugment, Mixup/CutMix, soft targets), which Keras feeds
    # to the JAX and PyTorch backends as NumPy batches.
    train = data.train_dataset(folder, image_size=(32, 32), batch_size=8)
    before = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    history = model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0)
    after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    with ema_weights(model) as swapped:
        averaged = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    result = {
        "backend": keras.config.backend(),
        "losses": [float(loss) for loss in history.history["loss"]],
        "top5": [float(accuracy) for accuracy in history.history["top5"]],
        "ema": swapped,
        # fit ends by copying the averages into the model, as on TensorFlow.
        "fit_left_the_averages": all(np.allclose(a, b) for a, b in zip(averaged, after, strict=True)),
        "weights_changed": any(not np.allclose(a, b) for a, b in zip(after, before, strict=True)),
        "iterations": int(keras.ops.convert_to_numpy(optimizer.iterations)),
        "learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
        "expected_learning_rate": float(keras.ops.convert_to_numpy(schedule(steps_per_epoch * epochs))),
    }
    if data_parallel:
        result["devices"] = len(devices)
        result["kernel_devices"] = len(model.head.kernel.value.sharding.device_set)
    with open(result_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
