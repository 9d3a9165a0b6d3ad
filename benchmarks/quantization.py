"""Quantized models beside float32 on a trained classifier: top-1 on a dataset's evaluation split,
agreement with float32, size on disk and batch-1 latency, on this machine and in one run.

    keras-t2t demo && python benchmarks/quantization.py --weights runs/demo/best.keras

Rows (a runtime whose extra is missing is left out):
- Keras `predict_on_batch` in float32, and after `quantize("int8")` (`export.in_precision(model,
  "dynamic_int8")`); size: the `.keras` file;
- the TF Serving SavedModel's `serving_default` in float32 and `precision="dynamic_int8"`; size: the
  version folder;
- `export.artifact` files: LiteRT in float32, float16, dynamic_int8 and int8; OpenVINO in float32
  and int8 (NNCF); ONNX Runtime in float32.
int8 calibrates on `--calibration-steps` batches of 16 images of the training split
(`keras_t2t.data.calibration_dataset`), never on the evaluated images. Latency: the median of
`--steps` timed batch-1 calls after warm-up, each row in this process, one after another. Export
and calibration time is printed beside each row.
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from peers import cpu_name  # noqa: E402
from trained_model import add_arguments, evaluation_split  # noqa: E402
from trained_model import probabilities as batched_probabilities  # noqa: E402

import keras_t2t  # noqa: E402
from keras_t2t import data, export  # noqa: E402
from keras_t2t.benchmark import median_step_seconds  # noqa: E402
from keras_t2t.runtimes import RUNTIME_MODULES, load_artifact  # noqa: E402

ARTIFACT_ROWS = [
    ("LiteRT", ".tflite", "float32"),
    ("LiteRT", ".tflite", "float16"),
    ("LiteRT", ".tflite", "dynamic_int8"),
    ("LiteRT", ".tflite", "int8"),
    ("OpenVINO", ".xml", "float32"),
    ("OpenVINO", ".xml", "int8"),
    ("ONNX Runtime", ".onnx", "float32"),
]


def int8_instructions() -> str:
    with open("/proc/cpuinfo") as f:
        flags = set(next((line for line in f if line.startswith("flags")), "").split())
    found = [name for name in ("amx_int8", "avx512_vnni", "avx_vnni") if name in flags]
    return ", ".join(found) or "no int8 dot-product instructions"


def folder_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--calibration-steps", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()

    model = keras_t2t.load_model(args.weights)
    size = model.input_shape[1:3]
    images, labels = evaluation_split(args, size)
    calibration = data.calibration_dataset(
        args.data,
        image_size=size,
        steps=args.calibration_steps,
        crop_pct=args.crop_pct,
        data_dir=args.data_dir,
    )
    print(f"CPU: {cpu_name()}; {os.cpu_count()} cores; {int8_instructions()}")
    print(f"{args.weights} ({model.name}, {size[0]}x{size[1]}) on {len(images)} images of {args.data}")

    rows = []  # (name, predict function, size in bytes, export seconds)
    folder = tempfile.mkdtemp()
    for precision in ("float32", "dynamic_int8"):
        # Both saved without the training run's optimizer.
        start = time.perf_counter()
        copy = export.in_precision(model, precision)
        copy.save(os.path.join(folder, f"{precision}.keras"))
        size_on_disk = folder_size(os.path.join(folder, f"{precision}.keras"))
        rows.append((f"Keras {precision}", copy.predict_on_batch, size_on_disk, time.perf_counter() - start))
    for precision in ("float32", "dynamic_int8"):
        start = time.perf_counter()
        export_dir = os.path.join(folder, f"saved_model_{precision}")
        version = export.saved_model(model, export_dir, precision=precision, warmup_requests=False)
        serve = tf.saved_model.load(version).signatures["serving_default"]
        rows.append(
            (
                f"SavedModel {precision}",
                lambda x, serve=serve: serve(images=tf.constant(x))["probabilities"],
                folder_size(version),
                time.perf_counter() - start,
            )
        )
    for runtime, suffix, precision in ARTIFACT_ROWS:
        if importlib.util.find_spec(RUNTIME_MODULES[suffix]) is None:
            continue
        start = time.perf_counter()
        path = export.artifact(
            model,
            os.path.join(folder, f"{precision}{suffix}"),
            precision=precision,
            calibration_data=calibration if precision == "int8" else None,
        )
        elapsed = time.perf_counter() - start
        bytes_on_disk = folder_size(path)
        if suffix == ".xml":
            bytes_on_disk += folder_size(path.removesuffix(".xml") + ".bin")
        rows.append((f"{runtime} {precision}", load_artifact(path), bytes_on_disk, elapsed))

    results = {}
    for name, predict, bytes_on_disk, elapsed in rows:
        probabilities = batched_probabilities(predict, images, args.batch_size)
        milliseconds = 1e3 * median_step_seconds(
            lambda predict=predict: predict(images[:1]), args.warmup, args.steps
        )
        results[name] = (probabilities, bytes_on_disk, milliseconds, elapsed)
        print(f"  {name}: {milliseconds:.2f} ms at batch 1, export {elapsed:.1f} s", flush=True)

    reference = results["Keras float32"][0]
    reference_accuracy = 100 * np.mean(reference.argmax(1) == labels)
    print(
        "| model | top-1 | vs float32 | top-1 agrees with float32 | largest probability difference "
        "| size | batch-1 ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, (probabilities, bytes_on_disk, milliseconds, _) in results.items():
        accuracy = 100 * np.mean(probabilities.argmax(1) == labels)
        agreement = 100 * np.mean(probabilities.argmax(1) == reference.argmax(1))
        drop = accuracy - reference_accuracy
        flag = " (more than 1 point lost)" if drop < -1 else ""
        difference = np.abs(probabilities - reference).max()
        print(
            f"| {name} | {accuracy:.2f}% | {drop:+.2f}{flag} | {agreement:.2f}% | {difference:.4f} | "
            f"{bytes_on_disk / 2**20:.2f} MiB | {milliseconds:.2f} |"
        )


if __name__ == "__main__":
    main()
