"""A tiny ILSVRC2012 manual-download folder, prepared by tfds's own `imagenet2012` builder.

The archives have the real layout: `ILSVRC2012_img_train.tar` holds one `<wnid>.tar` per class
with `<wnid>_<n>.JPEG` files; `ILSVRC2012_img_val.tar` holds `ILSVRC2012_val_<8 digits>.JPEG`.
tfds labels the validation files by zipping their sorted names with the lines of its
`validation_labels.txt`, so the files are the first ones of the real validation set and the
classes are those of the first validation labels.
"""

import io
import os
import tarfile

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

NUM_VALIDATION_IMAGES = 3
TRAIN_IMAGES_PER_CLASS = 4
IMAGE_SHAPE = (40, 56)
# Every image of a class is a flat colour (plus a little noise), so a decoded image tells its class.
CLASS_COLOURS = np.array([(230, 30, 30), (30, 230, 30), (30, 30, 230)], np.float32)


def validation_wnids(count: int = NUM_VALIDATION_IMAGES) -> list[str]:
    """The synsets of the first `count` ILSVRC2012 validation images, from tfds's label file."""
    path = tfds.core.tfds_path("datasets/imagenet2012/validation_labels.txt")
    with open(path) as f:
        return f.read().split()[:count]


def imagenet_class_index(wnid: str) -> int:
    """The tfds label of a synset: its line in tfds's `labels.txt`."""
    with open(tfds.core.tfds_path("datasets/imagenet2012/labels.txt")) as f:
        return f.read().split().index(wnid)


def class_image(class_position: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    image = CLASS_COLOURS[class_position] + rng.uniform(-15, 15, (*IMAGE_SHAPE, 3))
    return tf.io.encode_jpeg(np.clip(image, 0, 255).astype(np.uint8), quality=95).numpy()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_manual_dir(manual_dir: str) -> list[str]:
    """Writes the two archives into `manual_dir`; returns the class wnids, in class-colour order."""
    wnids = validation_wnids()
    os.makedirs(manual_dir, exist_ok=True)
    with tarfile.open(os.path.join(manual_dir, "ILSVRC2012_img_train.tar"), "w") as train_tar:
        for position, wnid in enumerate(wnids):
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as class_tar:
                for n in range(TRAIN_IMAGES_PER_CLASS):
                    _add(class_tar, f"{wnid}_{n + 1}.JPEG", class_image(position, seed=10 * position + n))
            _add(train_tar, f"{wnid}.tar", buffer.getvalue())
    with tarfile.open(os.path.join(manual_dir, "ILSVRC2012_img_val.tar"), "w") as val_tar:
        for index, _ in enumerate(wnids):
            _add(val_tar, f"ILSVRC2012_val_{index + 1:08d}.JPEG", class_image(index, seed=100 + index))
    return wnids


def prepare_tiny_imagenet(root: str) -> tuple[str, str, list[str]]:
    """Writes the manual dir under `root` and prepares it with tfds, offline.

    Returns:
        `(data_dir, manual_dir, wnids)`: pass `data_dir` (and `manual_dir`) to the data functions;
        `wnids[i]` is the synset drawn in colour `CLASS_COLOURS[i]`.
    """
    manual_dir = os.path.join(root, "manual")
    data_dir = os.path.join(root, "tfds")
    wnids = write_manual_dir(manual_dir)
    config = tfds.download.DownloadConfig(manual_dir=manual_dir, try_download_gcs=False)
    tfds.builder("imagenet2012", data_dir=data_dir).download_and_prepare(download_config=config)
    return data_dir, manual_dir, wnids
