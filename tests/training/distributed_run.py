"""Trains the tiny recipe in a process of its own and prints its history as JSON on the last line.

python -m tests.training.distributed_run mirrored DATA_DIR OUTPUT_DIR
    two logical CPU devices and MirroredStrategy over them;
TF_CONFIG=... python -m tests.training.distributed_run multi_worker DATA_DIR OUTPUT_DIR
    the strategy `train` picks itself from TF_CONFIG (MultiWorkerMirroredStrategy), as
    `keras-t2t train` does: keras_t2t is imported first, which must leave TensorFlow's runtime
    unstarted for the strategy to configure its collective ops.
"""

import json
import sys

import tensorflow as tf

from keras_t2t.training import train
from tests.training.conftest import LEARNING, tiny_recipe


def main(mode: str, data_dir: str, output_dir: str) -> None:
    strategy = None
    if mode == "mirrored":
        # Before anything initialises TensorFlow's devices.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    result = train(tiny_recipe(data_dir, output_dir, **LEARNING), strategy=strategy)
    print(json.dumps({"replicas": result.model.distribute_strategy.num_replicas_in_sync, **result.history}))


if __name__ == "__main__":
    main(*sys.argv[1:])
