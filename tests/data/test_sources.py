"""Image folders (with corrupt files), a tfds dataset by name, and Fashion-MNIST's idx files."""

import gzip
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_t2t import data
from keras_t2t.data import sources

COLOURS = {"ant": (200, 40, 40), "bee": (40, 200, 40)}


def write_image(path, colour, image_format="jpeg", shape=(20, 24)):
    image = np.broadcast_to(np.array(colour, np.uint8), (*shape, 3))
    encode = tf.io.encode_jpeg if image_format == "jpeg" else tf.io.encode_png
    tf.io.write_file(str(path), encode(image))


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """train/{ant,bee}: 3 images each (JPEG and PNG) plus, in ant, a truncated JPEG and a text
    file; validation/{ant,bee}: 2 images each plus a truncated JPEG in bee."""
    root = tmp_path_factory.mktemp("folder")
    for split, count in (("train", 3), ("validation", 2)):
        for name, colour in COLOURS.items():
            os.makedirs(root / split / name)
            for i in range(count):
                write_image(
                    root / split / name / f"{i}.{'png' if i % 2 else 'jpg'}",
                    colour,
                    "png" if i % 2 else "jpeg",
                )
    jpeg = tf.io.encode_jpeg(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).numpy()
    (root / "train" / "ant" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (root / "train" / "ant" / "notes.txt").write_text("not an image")
    (root / "validation" / "bee" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) * 2 // 3])
    return str(root)


def colour_labels(images):
    means = images.mean(axis=(1, 2))
    colours = np.array(list(COLOURS.values()), np.float32)
    return np.argmin(((means[:, None] - colours[None]) ** 2).sum(-1), axis=1)


def test_folder_info_counts_every_file(image_folder):
    info = data.dataset_info(image_folder)
    assert info.class_names == ["ant", "bee"] and info.num_classes == 2
    assert (info.num_train_examples, info.num_eval_examples) == (8, 5)
    assert (info.train_split, info.eval_split) == ("train", "validation")


def test_folder_eval_skips_and_counts_corrupt_images(image_folder, capsys):
    before = data.corrupt_images("eval")
    report = data.CorruptImageReport()
    dataset = data.eval_dataset(image_folder, image_size=(16, 16), batch_size=3)
    images, labels = map(np.concatenate, zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True))
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])  # file order, the truncated one dropped
    np.testing.assert_array_equal(colour_labels(images), labels)
    assert data.corrupt_images("eval") - before == 1

    report.on_epoch_end(0)
    assert "Epoch 1: skipped 0 training and 1 evaluation images" in capsys.readouterr().out
    report.on_epoch_end(1)  # nothing new: nothing printed
    assert capsys.readouterr().out == ""
    assert report.history == [{"train": 0, "eval": 1}] * 2


def test_folder_train_skips_and_counts_corrupt_images(image_folder):
    before = data.corrupt_images("train")
    no_mixing = data.Augmentation(mixup_alpha=0.0, cutmix_alpha=0.0, label_smoothing=0.0)
    dataset = data.train_dataset(image_folder, image_size=(16, 16), batch_size=3, augmentation=no_mixing)
    # 6 good images a pass: 4 batches are two passes, each of which meets both corrupt files.
    for images, targets in dataset.take(4):
        np.testing.assert_array_equal(targets.numpy().sum(1), 1.0)
        assert images.shape == (3, 16, 16, 3)
    assert data.corrupt_images("train") - before >= 4


def test_folder_shards_are_disjoint(image_folder):
    source = sources.open_source(image_folder)
    shards = [
        {p.decode() for p, _ in source.read("train", None, (i, 2)).as_numpy_iterator()} for i in range(2)
    ]
    assert not shards[0] & shards[1] and len(shards[0] | shards[1]) == 8


def test_folder_errors_are_clear(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="'train' sub-folder and one of"):
        data.dataset_info(str(tmp_path))
    (tmp_path / "val" / "b").mkdir(parents=True)
    with pytest.raises(ValueError, match="class folders that .* lacks: \\['b'\\]"):
        data.dataset_info(str(tmp_path))
    with pytest.raises(ValueError, match="not a tfds dataset name"):
        data.dataset_info("no_such_dataset_anywhere")


class TinyShapes(tfds.core.GeneratorBasedBuilder):
    """A registered tfds image classification dataset, made offline: flat PNGs of 2 colours."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(None, None, 3)),
                    "label": tfds.features.ClassLabel(names=list(COLOURS)),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(6), "test": self._generate_examples(4)}

    def _generate_examples(self, count):
        colours = list(COLOURS.values())
        for i in range(count):
            yield i, {"image": np.full((10 + i, 12, 3), colours[i % 2], np.uint8), "label": i % 2}


def test_tfds_dataset_by_name(tmp_path):
    data_dir = str(tmp_path)
    info = data.dataset_info("tiny_shapes", data_dir=data_dir)  # prepared on first use
    assert (info.num_classes, info.num_train_examples, info.num_eval_examples, info.eval_split) == (
        2,
        6,
        4,
        "test",
    )
    dataset = data.eval_dataset("tiny_shapes", image_size=(8, 8), batch_size=4, data_dir=data_dir)
    images, labels = next(iter(dataset))
    np.testing.assert_array_equal(colour_labels(images.numpy()), labels.numpy())
    images, targets = next(
        iter(data.train_dataset("tiny_shapes", image_size=(8, 8), batch_size=2, data_dir=data_dir))
    )
    assert images.shape == (2, 8, 8, 3) and targets.shape == (2, 2)


FASHION_FILES = [
    os.path.join(data.FASHION_MNIST_DIR, f"{p}-{k}-ubyte.gz")
    for p in ("train", "t10k")
    for k in ("images-idx3", "labels-idx1")
]
needs_fashion_mnist = pytest.mark.skipif(
    not all(os.path.exists(f) for f in FASHION_FILES),
    reason=f"Debian's dataset-fashion-mnist is not installed ({data.FASHION_MNIST_DIR})",
)


def raw_idx(path, header_bytes):
    with gzip.open(path) as f:
        return np.frombuffer(f.read()[header_bytes:], np.uint8)


@needs_fashion_mnist
def test_fashion_mnist_counts_pixels_and_labels():
    info = data.dataset_info(data.FASHION_MNIST)
    assert (info.num_train_examples, info.num_eval_examples, info.num_classes) == (60000, 10000, 10)
    assert info.eval_split == "test" and info.class_names[9] == "Ankle boot"
    pixels = raw_idx(FASHION_FILES[2], 16).reshape(-1, 28, 28)
    labels = raw_idx(FASHION_FILES[3], 8)
    # crop_pct 1 at 28x28 is the identity: the pipeline's pixels are the file's bytes.
    dataset = data.eval_dataset(data.FASHION_MNIST, image_size=(28, 28), batch_size=100, crop_pct=1.0)
    images, got_labels = map(
        np.concatenate, zip(*[(x.numpy(), y.numpy()) for x, y in dataset.take(3)], strict=True)
    )
    assert images.shape == (300, 28, 28, 3)
    for index in (0, 1, 137, 299):
        for channel in range(3):
            np.testing.assert_array_equal(images[index, ..., channel], pixels[index])
    np.testing.assert_array_equal(got_labels, labels[:300])
    assert got_labels.min() >= 0 and got_labels.max() <= 9


@needs_fashion_mnist
def test_fashion_mnist_grey_training_batches():
    dataset = data.train_dataset(
        data.FASHION_MNIST, image_size=(28, 28), batch_size=64, grayscale_to_rgb=False
    )
    images, targets = next(iter(dataset))
    assert images.shape == (64, 28, 28, 1) and targets.shape == (64, 10)
    assert images.numpy().min() >= 0 and images.numpy().max() <= 255
    np.testing.assert_allclose(targets.numpy().sum(1), 1.0, rtol=1e-5)
