"""Trains the tiny recipe in a process of its own and prints its history as JSON on the last line.

python -m tests.training.distributed_run mirrored DATA_DIR OUTPUT_DIR
    two logical CPU devices and MirroredStrategy over them;
TF_CONFIG=... python -m tests.training.distributed_run multi_worker DATA_DIR OUTPUT_DIR
    MultiWorkerMirroredStrategy from TF_CONFIG, made before keras_t2t is imported: importing
    keras_t2t.data creates variables, which initialises TensorFlow's runtime, and collective ops
    must be configured before that.
"""

import json
import sys

import tensorflow as tf


def main(mode: str, data_dir: str, output_dir: str) -> None:
    strategy = None
    if mode == "mirrored":
        # Before anything initialises TensorFlow's devices.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    elif mode == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()

    from keras_t2t.training import train
    from tests.training.conftest import LEARNING, install_plot_history_stand_in, tiny_recipe

    install_plot_history_stand_in()
    result = train(tiny_recipe(data_dir, output_dir, **LEARNING), strategy=strategy)
    print(json.dumps({"replicas": result.model.distribute_strategy.num_replicas_in_sync, **result.history}))


if __name__ == "__main__":
    main(*sys.argv[1:])
