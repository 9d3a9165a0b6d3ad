"""What a T2T-ViT SavedModel costs to serve: export time, size, latency of both signatures.

python benchmarks/serving.py --model t2t_vit_14 --batch-sizes 1 8 --steps 5

Random weights (the cost does not depend on them). Latencies are medians over `--steps` calls after
a first call, whose time is printed apart: it is what the warm-up requests take off a server's
first real request.
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

import keras_t2t


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="t2t_vit_14", choices=keras_t2t.list_models())
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()

    size = args.image_size
    model = keras_t2t.create_model(args.model, input_shape=(size, size, 3))
    with tempfile.TemporaryDirectory() as export_dir:
        start = time.perf_counter()
        path = keras_t2t.export.saved_model(model, export_dir)
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

        print(f"{args.model} {size}x{size}: export {export_seconds:.1f} s, {megabytes:.1f} MiB")
        print("| what | batch | first call (ms) | median (ms) | images/s |")
        print("|---|---|---|---|---|")
        rng = np.random.default_rng(0)
        for batch in args.batch_sizes:
            images = tf.constant(rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32))
            # An ImageNet-like photo: 500x375 JPEG, resized and cropped inside the graph.
            photo = rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)
            jpegs = tf.constant([tf.io.encode_jpeg(photo).numpy()] * batch)
            runs = [
                ("Keras model, predict_on_batch", lambda images=images: model.predict_on_batch(images)),
                (
                    "serving_default (float32 images)",
                    lambda images=images: signatures["serving_default"](images=images),
                ),
                (
                    "serving_bytes (JPEG 500x375)",
                    lambda jpegs=jpegs: signatures["serving_bytes"](image_bytes=jpegs),
                ),
            ]
            for name, function in runs:
                first, median = _time_calls(function, args.steps)
                print(f"| {name} | {batch} | {1e3 * first:.0f} | {1e3 * median:.0f} | {batch / median:.1f} |")


if __name__ == "__main__":
    main()
