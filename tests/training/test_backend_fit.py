"""`model.fit` on the JAX and PyTorch backends: the recipe's AdamW, schedule and EMA on tf.data
input, on JAX with `keras.distribution.DataParallel` over two host CPU devices, in a subprocess
(Keras fixes its backend when first imported)."""

import importlib.util
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.subprocesses import run_worker


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_fit_with_the_recipe(tmp_path, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 1)):
        for label in ("a", "b"):
            os.makedirs(tmp_path / split / label)
            for i in range(count):
                image = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
                (tmp_path / split / label / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    result_path = tmp_path / "result.json"
    run_worker(
        "tests.training.fit_worker",
        str(tmp_path),
        str(result_path),
        backend=backend,
        timeout=600,
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    result = json.loads(result_path.read_text())
    assert result["backend"] == backend
    if backend == "jax":
        assert result["devices"] == 2 and result["kernel_devices"] == 2  # replicated on both devices
    assert len(result["losses"]) == 2 and all(np.isfinite(result["losses"]))
    assert result["top5"] == [1.0, 1.0]  # 2 classes: the label is always among the best 5
    assert result["weights_changed"]
    assert result["ema"] and result["fit_left_the_averages"]
    assert result["iterations"] == 6
    assert result["learning_rate"] == pytest.approx(result["expected_learning_rate"], rel=1e-6)
