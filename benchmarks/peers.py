"""keras_t2t inference against what a user would otherwise run, on this machine and in one run.

    python benchmarks/peers.py --models t2t_vit_7 t2t_vit_14 t2t_vit_t_14 --batch-sizes 1 16 --rounds 2

Rows, each measured in a fresh process (median step time after warm-up, images/s):
- keras_t2t `predict_on_batch`: float32, `mixed_bfloat16`, and weights stored in bfloat16
  (`keras_t2t.with_dtype(model, "bfloat16")`), the last also in a process with
  `TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1` (weights pre-packed once, for inference-only processes);
- the PyTorch rendering of the official model that the parity tests use
  (tests/convert/torch_reference.py) under `torch.inference_mode`, float32 and
  `torch.autocast("cpu", torch.bfloat16)`;
- that PyTorch model converted by OpenVINO (`openvino.convert_model`, then compiled with
  `INFERENCE_PRECISION_HINT` f32 or bf16), when the `bench` extra is installed.

OpenVINO runs several times slower in a process that multiprocessing starts (spawn or fork) than
in a plain one (cause not found; PyTorch and TensorFlow are not affected), so its rows run in a
plain child (`subprocess`), the others in multiprocessing's.

The rounds alternate over every row, so that a shared machine's drift reaches every row alike;
the table gives the median over the rounds and, per model and batch, the ratio of keras_t2t's
best to the best peer in each precision. PyTorch and OpenVINO use their default thread counts
(all cores), as keras_t2t does.
"""

import argparse
import importlib.util
import json
import os
import platform
import queue as queue_module
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keras_t2t.benchmark import in_fresh_process, measure, median_step_seconds  # noqa: E402

KERAS_ROWS = {
    "float32": "float32",
    "mixed_bfloat16": "bfloat16",
    "bfloat16": "bfloat16",
    "bfloat16_frozen_weights": "bfloat16",
}
TORCH_ROWS = {"float32": "float32", "autocast_bfloat16": "bfloat16"}
OPENVINO_ROWS = {"f32": "float32", "bf16": "bfloat16"}
PRECISIONS = ("float32", "bfloat16")


def torch_model(model_name: str, image_size: int):
    from keras_t2t.models import VARIANTS
    from tests.convert import torch_reference

    # PyTorch's default initialisation: random test weights can overflow the performer's exp and
    # time the slow paths of inf and NaN arithmetic instead of the model.
    model = torch_reference.T2TViT(
        image_size=(image_size, image_size), **VARIANTS[model_name].backbone_kwargs()
    )
    return model.eval()


def _torch_worker(config: dict, queue) -> None:
    import torch

    model = torch_model(config["model"], config["image_size"])
    images = torch.rand(config["batch_size"], 3, config["image_size"], config["image_size"])
    bfloat16 = config["precision"] == "autocast_bfloat16"

    def step():
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bfloat16):
            model(images)

    queue.put(config["batch_size"] / median_step_seconds(step, config["warmup"], config["steps"]))


def openvino_worker(config: dict, queue) -> None:
    import numpy as np
    import openvino
    import torch

    size = config["image_size"]
    model = torch_model(config["model"], size)
    with torch.no_grad():
        converted = openvino.convert_model(model, example_input=torch.rand(1, 3, size, size))
    compiled = openvino.Core().compile_model(
        converted, "CPU", {"INFERENCE_PRECISION_HINT": config["precision"], "PERFORMANCE_HINT": "LATENCY"}
    )
    request = compiled.create_infer_request()
    images = np.random.default_rng(0).random((config["batch_size"], 3, size, size), dtype=np.float32)
    step = lambda: request.infer({0: images})  # noqa: E731
    queue.put(config["batch_size"] / median_step_seconds(step, config["warmup"], config["steps"]))


def _measure(runtime: str, precision: str, config: dict) -> float:
    config = {**config, "precision": precision}
    if runtime == "keras_t2t":
        return measure(
            config["model"],
            "inference",
            precision.removesuffix("_frozen_weights"),
            False,
            config["batch_size"],
            config["image_size"],
            config["warmup"],
            config["steps"],
            frozen_weights=precision.endswith("_frozen_weights"),
        ).images_per_second
    if runtime == "PyTorch":
        return in_fresh_process(_torch_worker, config)
    child = subprocess.run(
        [sys.executable, __file__, "--openvino-row", json.dumps(config)], capture_output=True, text=True
    )
    if child.returncode:
        raise RuntimeError(f"The OpenVINO row {config} failed:\n{child.stderr[-4000:]}")
    return float(child.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["t2t_vit_7", "t2t_vit_14", "t2t_vit_t_14"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps (default: 64 / batch, at least 10, so that a row runs for long enough)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="passes over every row (default 2)")
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=PRECISIONS,
        default=list(PRECISIONS),
        help="which rows to run (default both; bfloat16 measures a slow fallback on CPUs without AVX-512)",
    )
    parser.add_argument("--openvino-row", help=argparse.SUPPRESS)  # one OpenVINO row, in this process
    args = parser.parse_args()
    if args.openvino_row:
        rate = queue_module.Queue()
        openvino_worker(json.loads(args.openvino_row), rate)
        print(rate.get())
        return

    kinds = {"keras_t2t": KERAS_ROWS, "PyTorch": TORCH_ROWS}
    if importlib.util.find_spec("openvino") is not None:
        kinds["OpenVINO"] = OPENVINO_ROWS
    else:
        print('OpenVINO not installed (pip install "keras_t2t[bench]"): no OpenVINO rows')
    rows = [
        (runtime, precision)
        for runtime, precisions in kinds.items()
        for precision, kind in precisions.items()
        if kind in args.precisions
    ]
    print(f"CPU: {cpu_name()}; {os.cpu_count()} cores; {bfloat16_instructions()}; {onednn_report()}")

    rates: dict[tuple, list[float]] = {}
    for _ in range(args.rounds):
        for model in args.models:
            for batch_size in args.batch_sizes:
                config = dict(
                    model=model,
                    batch_size=batch_size,
                    image_size=args.image_size,
                    warmup=args.warmup,
                    steps=args.steps or max(10, 64 // batch_size),
                )
                for runtime, precision in rows:
                    rate = _measure(runtime, precision, config)
                    rates.setdefault((model, batch_size, runtime, precision), []).append(rate)
                    print(f"  {model} b{batch_size} {runtime} {precision}: {rate:.1f} img/s", flush=True)

    print()
    print("| model | batch | runtime | precision | img/s |")
    print("|---|---|---|---|---|")
    for (model, batch_size, runtime, precision), values in rates.items():
        print(f"| {model} | {batch_size} | {runtime} | {precision} | {statistics.median(values):.1f} |")
    print()
    print("| model | batch | precision | keras_t2t best | best peer | ours / best peer |")
    print("|---|---|---|---|---|---|")
    for model in args.models:
        for batch_size in args.batch_sizes:
            for kind in args.precisions:
                best = {}
                for (m, b, runtime, precision), values in rates.items():
                    if (m, b) == (model, batch_size) and kinds[runtime][precision] == kind:
                        side = "ours" if runtime == "keras_t2t" else "peer"
                        rate = statistics.median(values)
                        if rate > best.get(side, (0, ""))[0]:
                            best[side] = (rate, f"{runtime} {precision}")
                (ours, ours_name), (peer, peer_name) = best["ours"], best["peer"]
                print(
                    f"| {model} | {batch_size} | {kind} | {ours:.1f} ({ours_name}) "
                    f"| {peer:.1f} ({peer_name}) | {ours / peer:.2f} |"
                )


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return names[0] if names else platform.processor()
    except OSError:
        return platform.processor() or "unknown"


def onednn_report() -> str:
    """Which precisions TensorFlow runs through oneDNN here (it runs Eigen's kernels otherwise)."""
    from keras_t2t.layers.utils import tensorflow_uses_onednn

    on = [dtype for dtype in PRECISIONS if tensorflow_uses_onednn(dtype)]
    return f"TensorFlow with oneDNN for {' and '.join(on)}" if on else "TensorFlow without oneDNN"


def bfloat16_instructions() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return "bfloat16 instructions unknown"
    if "amx_bf16" in flags:
        return "AMX (amx_bf16)"
    if "avx512_bf16" in flags:
        return "AVX512-BF16, no AMX"
    return "no bfloat16 instructions"


if __name__ == "__main__":
    main()
