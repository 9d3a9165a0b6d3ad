"""How far bfloat16 inference moves a trained classifier's predictions from float32's.

    keras-t2t demo && python benchmarks/bfloat16_agreement.py --weights runs/demo/best.keras

Runs a dataset's evaluation split (default: Fashion-MNIST's 10,000 test images, the demo's data)
through the model in float32, under `mixed_bfloat16`, with its weights stored in bfloat16
(`keras_t2t.with_dtype`), and through a `precision="bfloat16"` SavedModel export's
`serving_default` signature, and prints for each: top-1 accuracy, the share of images whose top-1
class agrees with float32's, and the largest difference of any class probability.
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from trained_model import add_arguments, evaluation_split  # noqa: E402
from trained_model import probabilities as batched_probabilities  # noqa: E402

import keras_t2t  # noqa: E402
from keras_t2t import export  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args()

    model = keras_t2t.load_model(args.weights)
    images, labels = evaluation_split(args, model.input_shape[1:3])

    def probabilities(predict) -> np.ndarray:
        return batched_probabilities(predict, images, args.batch_size)

    with tempfile.TemporaryDirectory() as export_dir:
        version = export.saved_model(model, export_dir, precision="bfloat16", warmup_requests=False)
        serve = tf.saved_model.load(version).signatures["serving_default"]
        results = {
            "float32": probabilities(model.predict_on_batch),
            "mixed_bfloat16": probabilities(keras_t2t.with_dtype(model, "mixed_bfloat16").predict_on_batch),
            "bfloat16 weights": probabilities(keras_t2t.with_dtype(model, "bfloat16").predict_on_batch),
            "bfloat16 SavedModel": probabilities(lambda x: serve(images=tf.constant(x))["probabilities"]),
        }
    reference = results["float32"]
    print(f"{args.weights} on {len(images)} images of {args.data}")
    print("| precision | top-1 | top-1 agrees with float32 | largest probability difference |")
    print("|---|---|---|---|")
    for name, result in results.items():
        accuracy = 100 * np.mean(result.argmax(1) == labels)
        agreement = 100 * np.mean(result.argmax(1) == reference.argmax(1))
        print(f"| {name} | {accuracy:.2f}% | {agreement:.2f}% | {np.abs(result - reference).max():.4f} |")


if __name__ == "__main__":
    main()
