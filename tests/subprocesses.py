"""Tests' worker modules run in a fresh Python, as Keras fixes its backend when first imported."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_worker(module: str, *args: str, backend: str, timeout: int = 900, **environment: str) -> str:
    """Runs `python -m module args...` from the repository root on the Keras `backend`, on the
    CPU; fails the test with the worker's stderr unless it succeeds. Returns its stdout."""
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout
