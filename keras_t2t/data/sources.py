"""Where examples come from: tfds datasets (ImageNet-2012 from its manual download included), a
folder of class sub-folders, and Debian's Fashion-MNIST idx files.

A source reads `(payload, label)` pairs; `load(payload)` turns a payload into an image: a scalar
string of encoded bytes (JPEG, PNG, ...) or a `(h, w, C)` uint8 array. Loading happens inside the
pipeline's error guard, so a file that cannot be read counts as corrupt like one that cannot be
decoded.
"""

import dataclasses
import functools
import gzip
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST = "fashion_mnist_idx"
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
IMAGENET = "imagenet2012"
# Encoded examples held for the element shuffle of tfds sources (on top of shuffling the files):
# about 1 GB of ImageNet JPEGs.
TFDS_SHUFFLE_BUFFER = 10_000
EVAL_SPLITS = ("validation", "val", "test")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What the pipelines and the model need to know about a dataset."""

    num_classes: int
    num_train_examples: int
    num_eval_examples: int
    class_names: list[str]
    train_split: str
    eval_split: str


class Source:
    """Base of the sources: `info`, the images' own channel count, `read` and `load`."""

    info: DatasetInfo
    channels: int  # 1 (grey) or 3

    def read(self, split: str, shuffle_seed: int | None, shard: tuple[int, int]) -> tf.data.Dataset:
        """`(payload, label int64)` pairs of `split`, shard `shard[0]` of `shard[1]`, in a fixed
        order, or shuffled (each pass over the data anew) when `shuffle_seed` is given."""
        raise NotImplementedError

    def load(self, payload: tf.Tensor) -> tf.Tensor:
        return payload

    def _check_split(self, split: str, splits: list[str]) -> None:
        if split not in splits:
            raise ValueError(f"Unknown split {split!r}; this dataset has the splits {sorted(splits)}.")


class TfdsSource(Source):
    """A tfds image classification dataset: an `Image` feature and a `ClassLabel` feature as its
    supervised keys. It is prepared on first use (`imagenet2012` from `manual_dir`)."""

    def __init__(self, name: str, data_dir: str | None = None, manual_dir: str | None = None):
        try:
            builder = tfds.builder(name, data_dir=data_dir)
        except tfds.core.registered.DatasetNotFoundError as error:
            raise ValueError(
                f"Unknown data source {name!r}: not a folder, not {FASHION_MNIST!r}, and not a tfds "
                "dataset name (see `tfds.list_builders()`)."
            ) from error
        if not builder.is_prepared():
            if name == IMAGENET and manual_dir is None:
                raise ValueError(
                    f"imagenet2012 is not prepared in data_dir={builder.data_dir!r}. Pass manual_dir, the "
                    "folder holding ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar (from "
                    "image-net.org), and tfds prepares it once."
                )
            builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
        self.builder = builder
        keys = builder.info.supervised_keys
        features = builder.info.features
        if not (
            keys
            and isinstance(features[keys[0]], tfds.features.Image)
            and isinstance(features[keys[1]], tfds.features.ClassLabel)
        ):
            raise ValueError(
                f"tfds dataset {name!r} is not an image classification dataset: its supervised keys "
                f"{keys} are not an Image and a ClassLabel feature."
            )
        self.image_key, label_key = keys
        self.channels = 1 if features[self.image_key].shape[-1] == 1 else 3
        splits = builder.info.splits
        eval_split = next((s for s in EVAL_SPLITS if s in splits), None)
        if "train" not in splits or eval_split is None:
            raise ValueError(
                f"tfds dataset {name!r} needs a 'train' split and one of {EVAL_SPLITS}; it has "
                f"{sorted(splits)}."
            )
        self.info = DatasetInfo(
            num_classes=features[label_key].num_classes,
            num_train_examples=splits["train"].num_examples,
            num_eval_examples=splits[eval_split].num_examples,
            class_names=list(features[label_key].names),
            train_split="train",
            eval_split=eval_split,
        )

    def read(self, split: str, shuffle_seed: int | None, shard: tuple[int, int]) -> tf.data.Dataset:
        self._check_split(split, list(self.builder.info.splits))
        index, count = shard
        # Even splits read only the records of their own shard.
        shard_split = tfds.even_splits(split, count)[index] if count > 1 else split
        options = tf.data.Options()
        options.deterministic = True
        dataset = self.builder.as_dataset(
            split=shard_split,
            shuffle_files=shuffle_seed is not None,
            as_supervised=True,
            decoders={self.image_key: tfds.decode.SkipDecoding()},
            read_config=tfds.ReadConfig(shuffle_seed=shuffle_seed, options=options),
        )
        dataset = dataset.map(lambda image, label: (image, tf.cast(label, tf.int64)))
        if shuffle_seed is not None:
            dataset = dataset.shuffle(TFDS_SHUFFLE_BUFFER, seed=shuffle_seed, reshuffle_each_iteration=True)
        return dataset


class FolderSource(Source):
    """`root/<split>/<class>/<image file>`; the classes are the sub-folders of `root/train`,
    sorted. Every file that is not hidden counts: one that is not an image is skipped as corrupt
    by the pipeline (and counted), not ignored. Images are read as RGB."""

    channels = 3

    def __init__(self, root: str):
        self.root = root
        self.splits = sorted(
            d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith(".")
        )
        eval_split = next((s for s in EVAL_SPLITS if s in self.splits), None)
        if "train" not in self.splits or eval_split is None:
            raise ValueError(
                f"Image folder {root} needs a 'train' sub-folder and one of {EVAL_SPLITS}, each holding "
                f"one sub-folder of images per class; it has {self.splits}."
            )
        class_names = self._visible(os.path.join(root, "train"), directories=True)
        if not class_names:
            raise ValueError(f"{os.path.join(root, 'train')} has no class sub-folders.")
        self.class_names = class_names
        self._files = {split: self._list_files(split) for split in self.splits}
        self.info = DatasetInfo(
            num_classes=len(class_names),
            num_train_examples=len(self.files("train")[0]),
            num_eval_examples=len(self.files(eval_split)[0]),
            class_names=class_names,
            train_split="train",
            eval_split=eval_split,
        )

    @staticmethod
    def _visible(folder: str, directories: bool) -> list[str]:
        return sorted(
            name
            for name in os.listdir(folder)
            if not name.startswith(".") and os.path.isdir(os.path.join(folder, name)) == directories
        )

    def files(self, split: str) -> tuple[list[str], list[int]]:
        """The paths of `split`'s files, sorted by class then name, and their labels."""
        self._check_split(split, self.splits)
        return self._files[split]

    def _list_files(self, split: str) -> tuple[list[str], list[int]]:
        split_dir = os.path.join(self.root, split)
        unknown = set(self._visible(split_dir, directories=True)) - set(self.class_names)
        if unknown:
            raise ValueError(
                f"{split_dir} has class folders that {os.path.join(self.root, 'train')} lacks: "
                f"{sorted(unknown)}."
            )
        paths, labels = [], []
        for label, name in enumerate(self.class_names):
            class_dir = os.path.join(split_dir, name)
            if os.path.isdir(class_dir):
                names = self._visible(class_dir, directories=False)
                paths += [os.path.join(class_dir, n) for n in names]
                labels += [label] * len(names)
        return paths, labels

    def read(self, split: str, shuffle_seed: int | None, shard: tuple[int, int]) -> tf.data.Dataset:
        paths, labels = self.files(split)
        dataset = tf.data.Dataset.from_tensor_slices((paths, np.array(labels, np.int64)))
        dataset = dataset.shard(shard[1], shard[0])
        if shuffle_seed is not None:
            dataset = dataset.shuffle(len(paths), seed=shuffle_seed, reshuffle_each_iteration=True)
        return dataset

    def load(self, payload: tf.Tensor) -> tf.Tensor:
        return tf.io.read_file(payload)


class FashionMnistSource(Source):
    """Fashion-MNIST's original idx files (`{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`, as
    Debian's dataset-fashion-mnist installs them), read with numpy: 60000 train and 10000 test
    28x28 grey images of 10 classes."""

    channels = 1

    def __init__(self, directory: str | None = None):
        self.directory = directory or FASHION_MNIST_DIR
        self.info = DatasetInfo(
            num_classes=len(FASHION_MNIST_CLASSES),
            num_train_examples=len(self.arrays("train")[1]),
            num_eval_examples=len(self.arrays("test")[1]),
            class_names=list(FASHION_MNIST_CLASSES),
            train_split="train",
            eval_split="test",
        )

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """`(images (N, 28, 28, 1) uint8, labels (N,) int64)` of "train" or "test"."""
        self._check_split(split, ["train", "test"])
        return read_fashion_mnist(self.directory, split)

    def read(self, split: str, shuffle_seed: int | None, shard: tuple[int, int]) -> tf.data.Dataset:
        images, labels = self.arrays(split)
        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).shard(shard[1], shard[0])
        if shuffle_seed is not None:
            dataset = dataset.shuffle(len(labels), seed=shuffle_seed, reshuffle_each_iteration=True)
        return dataset


@functools.cache
def read_fashion_mnist(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = {"train": "train", "test": "t10k"}[split]
    images = _read_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"), magic=2051, dims=3)
    labels = _read_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"), magic=2049, dims=1)
    if len(images) != len(labels):
        raise ValueError(f"{directory}: {len(images)} {split} images but {len(labels)} labels.")
    return images[..., None], labels.astype(np.int64)


def _read_idx(path: str, magic: int, dims: int) -> np.ndarray:
    """An idx file of unsigned bytes: big-endian int32 magic (2048 + dims), dims sizes, data."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} not found. Install Debian's dataset-fashion-mnist (apt-get install "
            "dataset-fashion-mnist) or pass data_dir, a folder with the four idx .gz files."
        )
    with gzip.open(path, "rb") as f:
        data = f.read()
    header = np.frombuffer(data, ">i4", count=1 + dims)
    if header[0] != magic:
        raise ValueError(f"{path} is not an idx file of {dims}-d unsigned bytes (magic {header[0]}).")
    shape = tuple(int(n) for n in header[1:])
    return np.frombuffer(data, np.uint8, offset=4 * (1 + dims)).reshape(shape)


def open_source(source: str, data_dir: str | None = None, manual_dir: str | None = None) -> Source:
    """The `Source` a name stands for: a folder path, `FASHION_MNIST`, or a tfds dataset name."""
    if os.path.isdir(source):
        return FolderSource(source)
    if source == FASHION_MNIST:
        return FashionMnistSource(data_dir)
    if os.sep in source:
        raise ValueError(f"Data source {source!r} looks like a path but is not a folder.")
    return TfdsSource(source, data_dir, manual_dir)
