"""Training under tf.distribute strategies, each run in fresh processes: devices and the
multi-worker runtime must be configured before TensorFlow initialises them."""

import json
import math
import os
import socket
import subprocess
import sys

import tensorflow as tf

from keras_t2t.training import select_strategy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 300


def start(mode: str, data_dir: str, output_dir: str, tf_config: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.training.distributed_run", mode, data_dir, output_dir],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def history(process: subprocess.Popen) -> dict:
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def assert_learns(result: dict) -> None:
    """The loss falls, on the evaluation split too, below log(4): below guessing among the 4 classes."""
    assert result["loss"][-1] < 0.7 * result["loss"][0]
    assert result["val_loss"][-1] < 0.8 * math.log(4) < result["val_loss"][0]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_mirrored_strategy_over_two_cpu_devices_learns(textured_data_dir, tmp_path):
    result = history(start("mirrored", textured_data_dir, str(tmp_path)))
    assert result["replicas"] == 2
    assert_learns(result)


def test_two_workers_from_tf_config_learn(textured_data_dir, tmp_path):
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = [
        start(
            "multi_worker",
            textured_data_dir,
            str(tmp_path),
            {"cluster": cluster, "task": {"type": "worker", "index": i}},
        )
        for i in range(2)
    ]
    chief, other = (history(worker) for worker in workers)
    assert chief["replicas"] == other["replicas"] == 2
    assert_learns(chief)
    # Synchronous training: both workers hold the same model and log the same epochs.
    assert chief["val_loss"] == other["val_loss"]
    assert os.path.exists(tmp_path / "curves.png")
    assert os.path.exists(tmp_path / "workers" / "worker_1" / "last.keras")


def test_one_device_without_tf_config_takes_the_default_strategy(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert select_strategy() is tf.distribute.get_strategy()


def test_multi_worker_fixes_leave_other_strategies_alone():
    from keras.src.backend.tensorflow import trainer

    from keras_t2t.training.multi_worker import multi_worker_fit_fixes

    before = (trainer.reduce_per_replica, trainer.TensorFlowTrainer._maybe_symbolic_build)
    with multi_worker_fit_fixes(tf.distribute.get_strategy()):
        assert (trainer.reduce_per_replica, trainer.TensorFlowTrainer._maybe_symbolic_build) == before
