import gzip
import os

import numpy as np
import pytest

from keras_t2t.data import Augmentation
from keras_t2t.training import Recipe

NUM_CLASSES = 4  # of Fashion-MNIST's 10: labels 0..3 only
NO_AUGMENTATION = Augmentation.flip_only(horizontal_flip=0.0)


def textured_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` 28x28 grey images whose class (0..3) is their texture: vertical, horizontal or
    diagonal stripes, or a checkerboard, under noise. (A texture survives the per-patch LayerNorm
    of the T2T layers, which removes brightness.)"""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % NUM_CLASSES
    rows, cols = np.mgrid[:28, :28]
    textures = np.stack([cols % 4 < 2, rows % 4 < 2, (rows + cols) % 4 < 2, (rows // 2 + cols // 2) % 2 == 0])
    images = 40 + 150 * textures[labels] + rng.uniform(0, 60, (count, 28, 28))
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_idx(path: str, array: np.ndarray) -> None:
    """An idx file of unsigned bytes: big-endian magic 2048 + dims, the sizes, the data; gzipped."""
    header = np.array([2048 + array.ndim, *array.shape], ">i4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def write_textured_fashion_mnist(directory: str, train: int = 64, test: int = 32) -> str:
    """A folder of Fashion-MNIST's four idx files holding `textured_images`."""
    os.makedirs(directory, exist_ok=True)
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = textured_images(count, seed)
        write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"), images)
        write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"), labels)
    return directory


@pytest.fixture(scope="session")
def textured_data_dir(tmp_path_factory) -> str:
    return write_textured_fashion_mnist(str(tmp_path_factory.mktemp("textured_fashion_mnist")))


# Enough for the tiny model to learn the textures: the loss falls well below log(4).
LEARNING = dict(epochs=4, base_lr=1e-2, lr_base_batch=16)


def tiny_recipe(data_dir: str, output_dir: str, **overrides) -> Recipe:
    """One block of width 32 on 28 px images, 4 steps of 8 images an epoch, no augmentation."""
    settings = dict(
        model="t2t_vit_7",
        data="fashion_mnist_idx",
        data_dir=data_dir,
        image_size=28,
        small_image=True,
        embed_dim=32,
        depth=1,
        num_heads=2,
        token_dim=8,
        epochs=3,
        warmup_epochs=1,
        cooldown_epochs=0,
        batch_size=8,
        base_lr=3e-3,
        lr_base_batch=8,
        ema_decay=None,
        drop_path_rate=0.0,
        steps_per_epoch=4,
        eval_batch_size=8,
        crop_pct=1.0,
        output_dir=output_dir,
        export=False,
        progress_bar=False,
        augmentation=NO_AUGMENTATION,
    )
    settings.update(overrides)
    return Recipe(**settings)
