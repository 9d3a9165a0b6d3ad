"""The GPU check of benchmarks/device_check.sh, on Keras' JAX backend, without TensorFlow.

    KERAS_BACKEND=jax python benchmarks/gpu_check.py --fixture .device_fixture --out $OUT

1. Parity: every model of `.device_fixture` (written here by `device_check.sh --prepare`, with
   TensorFlow) loads its weights and gives TensorFlow's outputs (float32 matmuls at full precision).
2. The bfloat16 matmul peak of the device (8192 x 8192 x 8192 products).
3. Inference and training images/s of t2t_vit_7, t2t_vit_14 and t2t_vit_t_14 at `--batch-size` in
   float32 and mixed_bfloat16, XLA on (Keras' JAX backend compiles every step).
4. Peak device memory of a t2t_vit_t_14 training step at batch 64 (in a fresh process).
5. A short mixed_bfloat16 `fit` whose loss must stay finite.
Writes `gpu_check.md` (the tables) and `gpu_check.json` to `--out`; exits 1 when a check fails.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import jax
import keras
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import keras_t2t  # noqa: E402
from keras_t2t.benchmark import median_step_seconds  # noqa: E402  (TensorFlow-free)

MODELS = ("t2t_vit_7", "t2t_vit_14", "t2t_vit_t_14")


def parity(fixture: str) -> dict[str, float]:
    """Largest difference to TensorFlow's outputs, per model of the fixture."""
    with open(os.path.join(fixture, "jobs.json")) as f:
        jobs = json.load(f)
    images = np.load(os.path.join(fixture, "images.npy"))
    differences = {}
    with jax.default_matmul_precision("highest"):
        for name, kwargs in jobs["weights"].items():
            kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
            weights = os.path.join(fixture, f"{name}.weights.h5")
            model = keras_t2t.create_model(name, weights=weights, **kwargs)
            expected = np.load(os.path.join(fixture, f"{name}.expected.npy"))
            differences[name] = float(np.abs(keras.ops.convert_to_numpy(model(images)) - expected).max())
    return differences


def matmul_peak_tflops(size: int = 8192, steps: int = 10) -> float:
    a = jax.random.normal(jax.random.key(0), (size, size), "bfloat16")
    product = jax.jit(lambda x: x @ x)
    product(a).block_until_ready()
    start = time.perf_counter()
    for _ in range(steps):
        result = product(a)
    result.block_until_ready()
    return 2 * size**3 * steps / (time.perf_counter() - start) / 1e12


def compiled_classifier(name: str, policy: str, image_size: int) -> keras.Model:
    keras.config.set_dtype_policy(policy)
    model = keras_t2t.create_model(name, input_shape=(image_size, image_size, 3))
    model.preprocessor = None  # the images are the model's inputs already; no TensorFlow here
    # The recipe's optimizer; keras_t2t.training (its builder) needs TensorFlow, for tf.distribute.
    optimizer = keras.optimizers.AdamW(1e-4, weight_decay=0.05, use_ema=True, ema_momentum=0.99996)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", jit_compile=True)
    return model


def throughput(name: str, policy: str, batch: int, image_size: int, warmup: int, steps: int) -> dict:
    model = compiled_classifier(name, policy, image_size)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch, image_size, image_size, 3)).astype("float32")
    labels = rng.integers(0, 1000, batch)

    def infer():
        keras.ops.convert_to_numpy(model.predict_on_batch(images))

    def train():
        model.train_on_batch(images, labels)

    return {
        "inference": batch / median_step_seconds(infer, warmup, steps),
        "training": batch / median_step_seconds(train, warmup, steps),
    }


def peak_training_memory(batch: int, image_size: int) -> float:
    """GiB at the peak of t2t_vit_t_14 training steps, measured in a fresh process."""
    code = (
        "import sys, numpy as np, jax; sys.path.insert(0, sys.argv[1]);"
        "from gpu_check import compiled_classifier;"
        f"m = compiled_classifier('t2t_vit_t_14', 'float32', {image_size});"
        f"x = np.zeros(({batch}, {image_size}, {image_size}, 3), 'float32'); y = np.zeros({batch}, 'int32');"
        "[m.train_on_batch(x, y) for _ in range(3)];"
        "stats = jax.devices()[0].memory_stats() or {};"
        "print(stats.get('peak_bytes_in_use', -1))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__))],
        capture_output=True,
        text=True,
        check=True,
    )
    peak = int(result.stdout.strip().splitlines()[-1])
    return peak / 2**30 if peak >= 0 else float("nan")  # the CPU reports no memory statistics


def short_fit_losses(image_size: int) -> list[float]:
    model = compiled_classifier("t2t_vit_7", "mixed_bfloat16", image_size)
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (256, image_size, image_size, 3)).astype("float32")
    labels = rng.integers(0, 1000, 256)
    # Keras' own fit: keras-hub's builds a tf.data (or Grain) dataset from the arrays first.
    history = keras.Model.fit(model, images, labels, batch_size=32, epochs=2, verbose=0)
    return [float(loss) for loss in history.history["loss"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--memory-batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    device = jax.devices()[0]
    report = {
        "device": f"{device.platform} {device.device_kind}",
        "jax": jax.__version__,
        "keras": keras.__version__,
    }
    print(report, flush=True)
    report["parity"] = parity(args.fixture)
    print("parity:", report["parity"], flush=True)
    report["bf16_matmul_tflops"] = matmul_peak_tflops()
    print(f"bf16 matmul peak: {report['bf16_matmul_tflops']:.1f} TFLOP/s", flush=True)
    report["peak_training_gib"] = peak_training_memory(args.memory_batch_size, args.image_size)
    report["throughput"] = {}
    for name in args.models:
        for policy in ("float32", "mixed_bfloat16"):
            rates = throughput(name, policy, args.batch_size, args.image_size, args.warmup, args.steps)
            report["throughput"][f"{name} {policy}"] = rates
            print(f"{name} {policy}: {rates}", flush=True)
    report["fit_losses"] = short_fit_losses(args.image_size)
    keras.config.set_dtype_policy("float32")

    failures = [name for name, difference in report["parity"].items() if not difference <= 1e-4]
    if not all(np.isfinite(report["fit_losses"])):
        failures.append("fit loss not finite")
    report["failures"] = failures
    lines = [
        f"# GPU check: {report['device']}, JAX {report['jax']}, Keras {report['keras']}",
        "",
        f"- parity with TensorFlow (largest difference, {len(report['parity'])} models): "
        f"{max(report['parity'].values()):.2e}",
        f"- bf16 matmul peak: {report['bf16_matmul_tflops']:.1f} TFLOP/s",
        f"- peak memory, t2t_vit_t_14 training step at batch {args.memory_batch_size}: "
        f"{report['peak_training_gib']:.2f} GiB",
        f"- mixed_bfloat16 fit losses: {report['fit_losses']}",
        f"- failures: {failures or 'none'}",
        "",
        f"| model | precision | inference images/s (batch {args.batch_size}) | training images/s |",
        "|---|---|---|---|",
    ]
    for key, rates in report["throughput"].items():
        name, policy = key.split()
        lines.append(f"| {name} | {policy} | {rates['inference']:.0f} | {rates['training']:.0f} |")
    with open(os.path.join(args.out, "gpu_check.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
        json.dump(report, f, indent=1)
    print("\n".join(lines))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
