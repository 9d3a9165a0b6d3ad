"""Batch-1 latency of keras_t2t's artifacts in their runtimes, beside the Keras model and the
official model in the same runtimes, on this machine and in one run.

    python benchmarks/runtimes.py --models t2t_vit_7 t2t_vit_14 --rounds 2

Rows (median step time after warm-up, milliseconds per step, float32 throughout, random weights);
the Keras row runs in a fresh process, the others in this one: OpenVINO runs about 7 times slower
in a process started by multiprocessing (spawn or forkserver) than in a plain one, for the
official model as for ours (cause not found):
- keras_t2t `predict_on_batch` (TensorFlow);
- `keras_t2t.export.artifact` files: `.onnx` in ONNX Runtime, `.tflite` in LiteRT's interpreter,
  `.xml` in OpenVINO (`INFERENCE_PRECISION_HINT` f32, `PERFORMANCE_HINT` LATENCY);
- the PyTorch rendering of the official model (tests/convert/torch_reference.py) converted to ONNX
  (`torch.onnx.export`) for ONNX Runtime, and by `openvino.convert_model` for OpenVINO.
A runtime whose extra is missing (`keras_t2t[onnx]`, `[litert]`, `[openvino]`) is left out.
"""

import argparse
import importlib.util
import os
import queue as queue_module
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from peers import bfloat16_instructions, cpu_name, openvino_worker, torch_model  # noqa: E402

from keras_t2t.benchmark import measure, median_step_seconds  # noqa: E402
from keras_t2t.runtimes import load_artifact  # noqa: E402

RUNTIME_MODULES = {"ONNX Runtime": "onnxruntime", "LiteRT": "ai_edge_litert", "OpenVINO": "openvino"}
QUANTIZED_ROWS = [
    ("TensorFlow", "dynamic_int8"),
    ("LiteRT", "float16"),
    ("LiteRT", "dynamic_int8"),
    ("LiteRT", "int8"),
    ("OpenVINO", "int8"),
]


def _ours_seconds(config: dict) -> float:
    import numpy as np

    import keras_t2t
    from keras_t2t import export

    size, runtime, precision = config["image_size"], config["runtime"], config["precision"]
    model = keras_t2t.create_model(config["model"], input_shape=(size, size, 3))
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (config["batch_size"], size, size, 3)).astype("float32")
    if runtime == "TensorFlow":
        model = export.in_precision(model, precision)
        return median_step_seconds(lambda: model.predict_on_batch(images), config["warmup"], config["steps"])
    suffix = {"ONNX Runtime": ".onnx", "LiteRT": ".tflite", "OpenVINO": ".xml"}[runtime]
    # Random weights and images: the calibration only has to run, for the timing.
    calibration = [rng.uniform(0, 255, (4, size, size, 3)).astype("float32") for _ in range(4)]
    with tempfile.TemporaryDirectory() as folder:
        path = export.artifact(
            model,
            os.path.join(folder, f"model{suffix}"),
            precision=precision,
            calibration_data=calibration if precision in export.CALIBRATED_PRECISIONS else None,
        )
        artifact = load_artifact(path)
        return median_step_seconds(lambda: artifact(images), config["warmup"], config["steps"])


def _official_onnx_seconds(config: dict) -> float:
    import numpy as np
    import torch

    size = config["image_size"]
    model = torch_model(config["model"], size)
    images = np.random.default_rng(0).random((config["batch_size"], 3, size, size), dtype=np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "official.onnx")
        with torch.no_grad():
            torch.onnx.export(model, (torch.from_numpy(images),), path, dynamo=False)
        artifact = load_artifact(path)
        return median_step_seconds(lambda: artifact(images), config["warmup"], config["steps"])


def _milliseconds(row: tuple[str, str, str], config: dict) -> float:
    source, runtime, precision = row
    if runtime == "TensorFlow" and precision == "float32":
        result = measure(
            config["model"],
            "inference",
            "float32",
            False,
            config["batch_size"],
            config["image_size"],
            config["warmup"],
            config["steps"],
        )
        return 1e3 * config["batch_size"] / result.images_per_second
    config = {**config, "runtime": runtime, "precision": precision}
    if source == "keras_t2t":
        return 1e3 * _ours_seconds(config)
    if runtime == "ONNX Runtime":
        return 1e3 * _official_onnx_seconds(config)
    queue = queue_module.SimpleQueue()  # peers' worker reports on a queue
    openvino_worker({**config, "precision": "f32"}, queue)
    return 1e3 * config["batch_size"] / queue.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["t2t_vit_7", "t2t_vit_14"])
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2, help="passes over every row (default 2)")
    parser.add_argument(
        "--quantized",
        action="store_true",
        help="also keras_t2t's quantized precisions (random weights: latency only)",
    )
    args = parser.parse_args()

    available = [name for name, module in RUNTIME_MODULES.items() if importlib.util.find_spec(module)]
    rows = [("keras_t2t", "TensorFlow", "float32")] + [
        ("keras_t2t", runtime, "float32") for runtime in available
    ]
    rows += [("official", runtime, "float32") for runtime in available if runtime != "LiteRT"]
    if args.quantized:
        rows += [
            ("keras_t2t", runtime, precision)
            for runtime, precision in QUANTIZED_ROWS
            if runtime == "TensorFlow" or runtime in available
        ]
    print(f"CPU: {cpu_name()}; {os.cpu_count()} cores; {bfloat16_instructions()}")
    print(f"runtimes: {', '.join(available) or 'none besides TensorFlow'}")

    times: dict[tuple, list[float]] = {}
    for _ in range(args.rounds):
        for model in args.models:
            config = dict(
                model=model,
                batch_size=args.batch_size,
                image_size=args.image_size,
                warmup=args.warmup,
                steps=args.steps,
            )
            for row in rows:
                milliseconds = _milliseconds(row, config)
                times.setdefault((model, *row), []).append(milliseconds)
                print(f"  {model} {row[0]} in {row[1]} {row[2]}: {milliseconds:.1f} ms", flush=True)

    print()
    print(
        f"| model | model's code | runtime | precision | ms / batch of {args.batch_size} "
        "| ms ours / ms official float32 |"
    )
    print("|---|---|---|---|---|---|")
    for (model, source, runtime, precision), values in times.items():
        official = times.get((model, "official", runtime, "float32"))
        ratio = (
            f"{statistics.median(values) / statistics.median(official):.2f}"
            if source == "keras_t2t" and official
            else ""
        )
        print(f"| {model} | {source} | {runtime} | {precision} | {statistics.median(values):.1f} | {ratio} |")


if __name__ == "__main__":
    main()
