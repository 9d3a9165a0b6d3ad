import math

import numpy as np
import pytest
import tensorflow as tf

from keras_t2t.data import transforms


def seeds(count: int) -> list[tf.Tensor]:
    return [tf.constant([7, i], tf.int64) for i in range(count)]


def crop_boxes(shape, scale, ratio, count=200):
    box = tf.function(lambda seed: transforms.random_resized_crop_box(seed, shape, scale, ratio))
    return np.stack([box(s) for s in seeds(count)])


def test_random_resized_crop_boxes_lie_inside_and_within_scale_and_ratio():
    height, width = 90, 160
    boxes = crop_boxes(tf.constant([height, width, 3]), (0.08, 1.0), (3 / 4, 4 / 3))
    top, left, h, w = boxes.T
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= height).all() and (left + w <= width).all()
    # Sides are rounded to whole pixels: allow for that in the area and the ratio.
    area = h * w / (height * width)
    assert area.min() >= 0.08 * 0.9 and area.max() <= 1.0
    ratio = w / h
    assert ratio.min() >= 0.75 * 0.9 and ratio.max() <= 4 / 3 * 1.1
    # Spread over the range; a 90x160 image fits at most 120x90 at ratio 4/3, 75% of its area.
    assert area.min() < 0.2 and area.max() > 0.65
    assert len(set(top)) > 20 and len(set(left)) > 20


def test_random_resized_crop_falls_back_to_the_centre_crop_with_clamped_ratio():
    # No box of >= 99% of a 10x1000 image has a ratio in [3/4, 4/3]: the fallback is the centre
    # 10 x round(10 * 4/3) box.
    boxes = crop_boxes(tf.constant([10, 1000, 3]), (0.99, 1.0), (3 / 4, 4 / 3), count=20)
    np.testing.assert_array_equal(boxes, np.tile([[0, (1000 - 13) // 2, 10, 13]], (20, 1)))


@pytest.mark.parametrize("probability, flipped", [(1.0, True), (0.0, False)])
def test_random_flip(probability, flipped):
    image = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    out = transforms.random_flip(tf.constant([1, 2]), image, probability).numpy()
    np.testing.assert_array_equal(out, image[:, ::-1] if flipped else image)


def test_random_flip_flips_about_half():
    image = np.arange(4, dtype=np.float32).reshape(1, 4, 1)
    flip = tf.function(lambda seed: transforms.random_flip(seed, image)[0, 0, 0] == 3)
    flips = [bool(flip(s)) for s in seeds(200)]
    assert 70 < sum(flips) < 130


def test_random_erasing_erases_one_box_of_the_right_size_with_normalised_noise():
    height, width = 120, 150
    image = np.full((height, width, 3), 7.0, np.float32)  # no noise value is exactly 7
    erased_pixels = []
    for seed in seeds(20):
        out = transforms.random_erasing(seed, image, probability=1.0).numpy()
        changed = (out != 7.0).any(-1)
        rows, cols = np.nonzero(changed)
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        box_h, box_w = bottom - top, right - left
        # One axis-aligned box, all its pixels changed, nothing outside it.
        assert changed[top:bottom, left:right].all() and changed.sum() == box_h * box_w
        assert 0.02 * 0.85 <= box_h * box_w / (height * width) <= 1 / 3 * 1.1
        assert 0.3 * 0.85 <= box_w / box_h <= 1 / 0.3 * 1.15
        assert box_h < height and box_w < width
        erased_pixels.append(out[top:bottom, left:right].reshape(-1, 3))
    values = np.concatenate(erased_pixels)
    assert values.min() >= 0.0 and values.max() <= 255.0
    # N(0, 1) in the model's normalised space is 255 * (mean + std * N(0, 1)) here; clipping to
    # 0..255 cuts ~2% on each side, which barely moves the mean and shrinks the deviation ~5%.
    np.testing.assert_allclose(values.mean(0), 255 * np.array(transforms.IMAGENET_MEAN), atol=2.0)
    np.testing.assert_allclose(values.std(0), 255 * np.array(transforms.IMAGENET_STD), rtol=0.08)


def test_random_erasing_probability():
    image = np.full((16, 16, 3), 7.0, np.float32)
    erase = tf.function(lambda s: tf.reduce_any(transforms.random_erasing(s, image, 0.25) != 7.0))
    hits = sum(bool(erase(s)) for s in seeds(400))
    assert 70 < hits < 130  # 100 expected
    assert (transforms.random_erasing(seeds(1)[0], image, 0.0).numpy() == 7.0).all()


def test_resize_random_interpolation_uses_both_methods():
    image = np.kron(np.indices((4, 4)).sum(0) % 2, np.ones((5, 5)))[..., None] * 255.0
    bilinear = tf.image.resize(image, (9, 9), "bilinear", antialias=True).numpy()
    bicubic = np.clip(tf.image.resize(image, (9, 9), "bicubic", antialias=True).numpy(), 0, 255)
    methods = []
    for seed in seeds(40):
        out = transforms.resize_random_interpolation(seed, image, (9, 9)).numpy()
        assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 255
        methods.append("bilinear" if np.allclose(out, bilinear) else "bicubic")
        assert np.allclose(out, bilinear) or np.allclose(out, bicubic)
    assert 10 < methods.count("bilinear") < 30


def test_channel_statistics_of_grey_are_the_luma_of_rgb():
    mean, std = transforms.channel_statistics(1)
    luma = np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(mean, [luma @ transforms.IMAGENET_MEAN], rtol=1e-6)
    np.testing.assert_allclose(std, [luma @ transforms.IMAGENET_STD], rtol=1e-6)
    with pytest.raises(ValueError, match="1 \\(grey\\) or 3"):
        transforms.channel_statistics(4)


def test_sample_box_reports_when_nothing_fits():
    found, *_ = transforms.sample_box(tf.constant([1, 1]), 4, 4, (2.0, 3.0), (0.0, math.log(2)))
    assert not found
