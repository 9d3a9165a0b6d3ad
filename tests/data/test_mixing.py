import numpy as np
import tensorflow as tf

from keras_t2t.data import mixing

CLASSES = 4
LABELS = np.array([0, 2, 3])


def flat_batch() -> np.ndarray:
    """Three 8x10 images, each one flat value (10, 20, 30), so mixing shows in the pixels."""
    return np.stack([np.full((8, 10, 3), v, np.float32) for v in (10.0, 20.0, 30.0)])


def smoothed(labels: np.ndarray) -> np.ndarray:
    # Smoothing 0.1 over 4 classes: 0.1 / 4 = 0.025 off, 1 - 0.1 + 0.025 = 0.925 on.
    targets = np.full((len(labels), CLASSES), 0.025, np.float32)
    targets[np.arange(len(labels)), labels] = 0.925
    return targets


def mix(seed, **kwargs):
    images, targets = mixing.mix_batch(
        tf.constant([5, seed]), flat_batch(), tf.constant(LABELS), CLASSES, **kwargs
    )
    return images.numpy(), targets.numpy()


def test_smooth_labels_by_hand():
    np.testing.assert_allclose(mixing.smooth_labels(tf.constant(LABELS), CLASSES, 0.1), smoothed(LABELS))


def test_mixup_blends_images_and_targets_with_one_lam():
    lams = []
    for seed in range(6):
        images, targets = mix(seed, cutmix_alpha=0.0)
        # Image 0 = lam * 10 + (1 - lam) * 30 (mixed with the reversed batch's first, 30).
        lam = (30.0 - images[0, 0, 0, 0]) / 20.0
        np.testing.assert_allclose(
            images[:, 0, 0, 0], lam * np.array([10, 20, 30]) + (1 - lam) * np.array([30, 20, 10]), rtol=1e-5
        )
        np.testing.assert_allclose(images.std(axis=(1, 2, 3)), 0, atol=1e-4)  # still flat: a blend
        expected = lam * smoothed(LABELS) + (1 - lam) * smoothed(LABELS[::-1])
        np.testing.assert_allclose(targets, expected, atol=1e-5)
        np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-6)
        lams.append(lam)
    assert min(lams) >= 0 and max(lams) <= 1 and np.std(lams) > 0.05


def test_cutmix_lam_is_the_area_kept():
    areas = []
    for seed in range(6):
        images, targets = mix(seed, mixup_alpha=0.0)
        pasted = images[0, ..., 0] == 30.0  # image 0 gets its box from image 2
        assert set(np.unique(images[0])) <= {10.0, 30.0}
        rows, cols = np.nonzero(pasted)
        if len(rows):  # one rectangle
            assert pasted.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        lam = 1.0 - pasted.mean()
        np.testing.assert_array_equal(images[2] == 10.0, pasted[..., None].repeat(3, -1))
        expected = lam * smoothed(LABELS) + (1 - lam) * smoothed(LABELS[::-1])
        np.testing.assert_allclose(targets, expected, atol=1e-5)
        areas.append(pasted.mean())
    assert max(areas) > 0


def test_switches_between_mixup_and_cutmix_about_half_the_time():
    cutmix = 0
    for seed in range(40):
        images, _ = mix(seed)
        cutmix += len(np.unique(images[0])) > 1  # a flat image was blended, not pasted into
    assert 10 <= cutmix <= 30


def test_no_mixing_gives_the_smoothed_labels():
    images, targets = mix(0, mix_prob=0.0)
    np.testing.assert_array_equal(images, flat_batch())
    np.testing.assert_allclose(targets, smoothed(LABELS), rtol=1e-6)
    images, targets = mix(0, mixup_alpha=0.0, cutmix_alpha=0.0, label_smoothing=0.0)
    np.testing.assert_array_equal(targets, np.eye(CLASSES)[LABELS])


def test_beta_sample_has_the_beta_mean_and_variance():
    draws = np.array([float(mixing.sample_beta(tf.constant([1, i]), 0.8)) for i in range(400)])
    # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)) = 0.0962 for a = 0.8.
    assert abs(draws.mean() - 0.5) < 0.05
    assert abs(draws.var() - 1 / (4 * 2.6)) < 0.02
