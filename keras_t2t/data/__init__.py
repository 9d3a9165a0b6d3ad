"""Input pipelines for training and evaluating T2T-ViT: tfds datasets (ImageNet-2012 from its
manual download), folders of class sub-folders, Debian's Fashion-MNIST idx files; the paper's
training transform (timm's recipe) and evaluation transform.

Pipelines yield RGB float32 images in 0..255: the model normalises inside
(`include_preprocessing`).

Why the augmentations are written here as stateless TF ops rather than taken from Keras 3
(`keras.layers.RandAugment`, `MixUp`, `CutMix`, `RandomErasing`) or keras-cv:

- Resuming. Those layers draw from a stateful `keras.random.SeedGenerator`, so the numbers a batch
  gets depend on everything drawn before it in the process: a run resumed mid-epoch cannot replay
  the batches of the original run. Here every draw is `tf.random.stateless_*`, keyed by
  (seed, input pipeline, position of the image in the stream, or index of the batch), so batch k
  is the same in every run and `train_dataset(..., skip_batches=k)` resumes exactly.
- The recipe. The paper trains with timm's "rand-m9-mstd0.5-inc1": 15 operations with timm's
  magnitude ranges, each applied with probability 0.5. Keras's RandAugment has 11 (no Invert,
  SolarizeAdd, separate TranslateX/Y or ShearX/Y), its own magnitude scale and no magnitude noise.
  Keras's RandomErasing fills with `255 * N(0, 1)` clipped to the value range, not timm's per-pixel
  N(0, 1) in the normalised space (see `transforms.random_erasing`).
- keras-cv is in maintenance (superseded by keras-hub, which has no such layers) and its layers
  have the same stateful random generators.
"""

from keras_t2t.data.augmentation import Augmentation
from keras_t2t.data.pipeline import (
    CorruptImageReport,
    calibration_dataset,
    corrupt_images,
    dataset_info,
    eval_dataset,
    train_dataset,
)
from keras_t2t.data.sources import FASHION_MNIST, FASHION_MNIST_DIR, DatasetInfo
from keras_t2t.models.image_converter import eval_transform

__all__ = [
    "FASHION_MNIST",
    "FASHION_MNIST_DIR",
    "Augmentation",
    "CorruptImageReport",
    "DatasetInfo",
    "calibration_dataset",
    "corrupt_images",
    "dataset_info",
    "eval_dataset",
    "eval_transform",
    "train_dataset",
]
