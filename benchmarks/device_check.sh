#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py) for the lent GPU machine, which has JAX but neither
# TensorFlow nor a network. Two steps:
#   here, once:  bash benchmarks/device_check.sh --prepare
#                (Keras' and keras-hub's wheels into .whl/, TensorFlow's outputs into .device_fixture/)
#   there:       the device tool's run, carry [".whl", ".device_fixture"],
#                command "bash benchmarks/device_check.sh" (writes gpu_check.md/.json into $OUT)
# Extra arguments go to gpu_check.py (--models, --batch-size, --steps, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--prepare" ]; then
    shift
    for ignored in /.whl/ /.device_fixture/; do
        grep -qxF "$ignored" .git/info/exclude 2>/dev/null || echo "$ignored" >> .git/info/exclude
    done
    versions=$(python -c 'import keras, keras_hub; print(f"keras=={keras.__version__} keras-hub=={keras_hub.__version__}")')
    rm -rf .whl
    # shellcheck disable=SC2086
    python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl $versions namex optree kagglehub regex
    python benchmarks/device_fixture.py .device_fixture
    du -sh .whl .device_fixture
    exit 0
fi

: "${OUT:?set OUT to the folder for the results (the device tool sets it)}"
[ -d .whl ] && [ -d .device_fixture ] || { echo "run 'bash benchmarks/device_check.sh --prepare' here first, then carry .whl and .device_fixture" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 450 python3 benchmarks/gpu_check.py --fixture .device_fixture --out "$OUT" "$@"
