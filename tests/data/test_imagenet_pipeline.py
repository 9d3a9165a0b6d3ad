"""The pipelines on the tiny ImageNet prepared by tfds (the `tiny_imagenet` fixture)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_t2t import data
from tests.data.tiny_imagenet import CLASS_COLOURS, imagenet_class_index

PLAIN = data.Augmentation(randaugment_num_ops=0, random_erasing=0.0, mixup_alpha=0.0, cutmix_alpha=0.0)


def colour_class(images: np.ndarray) -> np.ndarray:
    """The class position of flat-coloured images, from their mean colour."""
    means = images.mean(axis=(1, 2))
    return np.argmin(((means[:, None, :] - CLASS_COLOURS[None]) ** 2).sum(-1), axis=1)


def batches(dataset: tf.data.Dataset, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in dataset.take(count)]


def train(tiny_imagenet, **kwargs) -> tf.data.Dataset:
    kwargs = {"image_size": (32, 32), "batch_size": 4, "data_dir": tiny_imagenet.data_dir, **kwargs}
    return data.train_dataset("imagenet2012", **kwargs)


def test_dataset_info(tiny_imagenet):
    info = data.dataset_info("imagenet2012", data_dir=tiny_imagenet.data_dir)
    assert (info.num_classes, info.num_train_examples, info.num_eval_examples) == (1000, 12, 3)
    assert (info.train_split, info.eval_split) == ("train", "validation")
    assert info.class_names[imagenet_class_index(tiny_imagenet.wnids[0])] == tiny_imagenet.wnids[0]


def test_eval_dataset_labels_match_each_file(tiny_imagenet):
    dataset = data.eval_dataset(
        "imagenet2012", image_size=(32, 32), batch_size=2, data_dir=tiny_imagenet.data_dir
    )
    images, labels = map(np.concatenate, zip(*batches(dataset, 10), strict=True))
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.float32 and labels.dtype == np.int32
    expected = [imagenet_class_index(tiny_imagenet.wnids[c]) for c in colour_class(images)]
    np.testing.assert_array_equal(labels, expected)
    assert sorted(labels) == sorted(imagenet_class_index(w) for w in tiny_imagenet.wnids)


def test_train_dataset_labels_match_each_file(tiny_imagenet):
    smoothing = PLAIN.label_smoothing
    for images, targets in batches(train(tiny_imagenet, augmentation=PLAIN), 4):
        assert images.shape == (4, 32, 32, 3) and targets.shape == (4, 1000)
        labels = [imagenet_class_index(tiny_imagenet.wnids[c]) for c in colour_class(images)]
        np.testing.assert_allclose(targets[np.arange(4), labels], 1 - smoothing + smoothing / 1000, rtol=1e-6)
        np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-5)


def test_train_dataset_with_the_paper_augmentation(tiny_imagenet):
    class_columns = sorted(imagenet_class_index(w) for w in tiny_imagenet.wnids)
    for images, targets in batches(train(tiny_imagenet), 3):
        assert images.shape == (4, 32, 32, 3) and images.dtype == np.float32
        assert images.min() >= 0.0 and images.max() <= 255.0
        np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-5)
        # Only the tiny set's classes get more than the smoothing's share.
        assert set(np.nonzero(targets.max(0) > 0.1 / 1000 + 1e-6)[0]) <= set(class_columns)


def test_same_seed_same_batches_and_skip_resumes_exactly(tiny_imagenet):
    # 5 batches of 4 from 12 images: the run crosses two epoch boundaries.
    run = batches(train(tiny_imagenet, seed=3), 5)
    again = batches(train(tiny_imagenet, seed=3), 5)
    resumed = batches(train(tiny_imagenet, seed=3, skip_batches=3), 2)
    for (x, y), (x2, y2) in zip(run, again, strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    for (x, y), (x2, y2) in zip(run[3:], resumed, strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    other = batches(train(tiny_imagenet, seed=4), 1)
    assert not np.array_equal(run[0][0], other[0][0])


def test_input_contexts_read_disjoint_shards(tiny_imagenet):
    def shard(index):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=index)
        dataset = data.eval_dataset(
            "imagenet2012",
            image_size=(16, 16),
            batch_size=8,
            data_dir=tiny_imagenet.data_dir,
            input_context=context,
        )
        return set(np.concatenate([y for _, y in batches(dataset, 10)]).tolist())

    first, second = shard(0), shard(1)
    assert first and second and not first & second
    assert first | second == {imagenet_class_index(w) for w in tiny_imagenet.wnids}


def test_unprepared_imagenet_without_manual_dir_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="ILSVRC2012_img_train.tar"):
        data.dataset_info("imagenet2012", data_dir=str(tmp_path))
