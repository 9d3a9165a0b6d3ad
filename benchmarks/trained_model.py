"""What the benchmarks comparing precisions on a trained classifier share: their arguments, the
evaluation split as arrays, and predictions over it in batches."""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keras_t2t import data  # noqa: E402


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", required=True, help="a whole saved .keras classifier")
    parser.add_argument("--data", default="fashion_mnist_idx")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--crop-pct", type=float, default=1.0, help="the demo evaluates whole images (1.0)")
    parser.add_argument("--batch-size", type=int, default=500, help="batch of the accuracy passes")


def evaluation_split(args: argparse.Namespace, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The dataset's evaluation split through the evaluation transform: (images, labels)."""
    dataset = data.eval_dataset(
        args.data,
        image_size=image_size,
        batch_size=args.batch_size,
        crop_pct=args.crop_pct,
        data_dir=args.data_dir,
    )
    return np.concatenate([x for x, _ in dataset]), np.concatenate([y for _, y in dataset])


def probabilities(predict, images: np.ndarray, batch_size: int) -> np.ndarray:
    """`predict` over `images` in batches, as one float32 array."""
    outputs = [predict(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate([np.asarray(output, np.float32) for output in outputs])
