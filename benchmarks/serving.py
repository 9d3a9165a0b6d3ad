"""What a T2T-ViT SavedModel costs to serve: export time, size, latency of both signatures.

python benchmarks/serving.py --model t2t_vit_14 --batch-sizes 1 8 --steps 5 \
    --precisions float32 bfloat16 serving_mixed_precision

Random weights (the cost does not depend on them). Latencies are medians over `--steps` calls after
a first call, whose time is printed apart: it is what the warm-up requests take off a server's
first real request. Each precision runs in a fresh process:
- float32: the default export;
- bfloat16: `export.saved_model(precision="bfloat16")`, weights stored in bfloat16;
- serving_mixed_precision: the float32 export run as `tensorflow_model_server
  --mixed_precision=bfloat16` runs it, with grappler's `auto_mixed_precision_onednn_bfloat16`
  rewrite (a process-wide setting, made before the SavedModel is loaded).

`--frozen-weights` runs every precision again with `TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1`, as
`docker run -e TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1 tensorflow/serving` would: TensorFlow's oneDNN
matmuls then pre-pack their weights once instead of at every call (a server never changes them).
"""

import argparse
import itertools
import os
import statistics
import tempfile
import time

import numpy as np

import keras_t2t
from keras_t2t.benchmark import FROZEN_WEIGHTS_VARIABLE, in_fresh_process, set_frozen_weights

PRECISIONS = ("float32", "bfloat16", "serving_mixed_precision")


def _time_calls(function, steps: int) -> tuple[float, float]:
    """Seconds of the first call and the median of the next `steps`."""
    start = time.perf_counter()
    function()
    first = time.perf_counter() - start
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def _worker(config: dict, queue) -> None:
    # Read once, when the process's first oneDNN matmul kernel is built: nothing has run yet here.
    set_frozen_weights(config["frozen_weights"])
    import tensorflow as tf

    if config["precision"] == "serving_mixed_precision":
        tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
    size = config["image_size"]
    model = keras_t2t.create_model(config["model"], input_shape=(size, size, 3))
    lines = []
    label = config["precision"] + (", frozen weights" if config["frozen_weights"] else "")
    with tempfile.TemporaryDirectory() as export_dir:
        start = time.perf_counter()
        precision = "bfloat16" if config["precision"] == "bfloat16" else "float32"
        path = keras_t2t.export.saved_model(model, export_dir, precision=precision)
        export_seconds = time.perf_counter() - start
        megabytes = (
            sum(
                os.path.getsize(os.path.join(folder, name))
                for folder, _, names in os.walk(path)
                for name in names
            )
            / 2**20
        )
        signatures = tf.saved_model.load(path).signatures
        lines.append(
            f"{config['model']} {size}x{size}, {label}: export {export_seconds:.1f} s, {megabytes:.1f} MiB"
        )
        rng = np.random.default_rng(0)
        for batch in config["batch_sizes"]:
            images = tf.constant(rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32))
            # An ImageNet-like photo: 500x375 JPEG, resized and cropped inside the graph.
            photo = rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)
            jpegs = tf.constant([tf.io.encode_jpeg(photo).numpy()] * batch)
            runs = [
                (
                    "serving_default (float32 images)",
                    lambda images=images: signatures["serving_default"](images=images),
                ),
                (
                    "serving_bytes (JPEG 500x375)",
                    lambda jpegs=jpegs: signatures["serving_bytes"](image_bytes=jpegs),
                ),
            ]
            if config["precision"] == "float32":
                runs.insert(
                    0, ("Keras model, predict_on_batch", lambda images=images: model.predict_on_batch(images))
                )
            for name, function in runs:
                first, median = _time_calls(function, config["steps"])
                lines.append(
                    f"| {label} | {name} | {batch} | {1e3 * first:.0f} | {1e3 * median:.0f} "
                    f"| {batch / median:.1f} |"
                )
    queue.put(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="t2t_vit_14", choices=keras_t2t.list_models())
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--precisions", nargs="+", default=["float32"], choices=PRECISIONS)
    parser.add_argument(
        "--frozen-weights",
        action="store_true",
        help=f"also run each precision with {FROZEN_WEIGHTS_VARIABLE}=1",
    )
    args = parser.parse_args()

    rows = []
    for precision, frozen in itertools.product(
        args.precisions, [False, True] if args.frozen_weights else [False]
    ):
        config = dict(
            model=args.model,
            image_size=args.image_size,
            batch_sizes=args.batch_sizes,
            steps=args.steps,
            precision=precision,
            frozen_weights=frozen,
        )
        header, *lines = in_fresh_process(_worker, config)
        print(header, flush=True)
        rows += lines
    print("| precision | what | batch | first call (ms) | median (ms) | images/s |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
