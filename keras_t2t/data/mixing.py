"""Batch mixing (Mixup, CutMix) with label smoothing, as timm's `Mixup` in "batch" mode.

Each batch is mixed with its own reverse (image i with image B-1-i). With probability
`mix_prob` a batch is mixed at all; then CutMix is chosen with probability `switch_prob` (when
both are on), with `lam ~ Beta(alpha, alpha)` of the chosen method. CutMix pastes a box of area
`(1 - lam)` of the image, clipped at the borders, and then sets `lam` to the area actually kept.
Targets: `lam * smooth(y) + (1 - lam) * smooth(y_reversed)`, where `smooth(y)` puts
`1 - smoothing + smoothing / classes` on the true class and `smoothing / classes` elsewhere.
"""

import tensorflow as tf


def smooth_labels(labels: tf.Tensor, num_classes: int, smoothing: float) -> tf.Tensor:
    """`(B,)` int labels -> `(B, num_classes)` float32 label-smoothed one-hot targets."""
    off = smoothing / num_classes
    return tf.one_hot(labels, num_classes, on_value=1.0 - smoothing + off, off_value=off)


def sample_beta(seed: tf.Tensor, alpha: float) -> tf.Tensor:
    """A Beta(alpha, alpha) draw from two stateless Gamma draws (TF has no stateless Beta)."""
    gammas = tf.random.stateless_gamma([2], seed, alpha=alpha)
    return gammas[0] / (gammas[0] + gammas[1])


def cutmix_box(
    seed: tf.Tensor, height: int, width: int, lam: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """timm's CutMix box: sides `int(side * sqrt(1 - lam))` about a uniform centre, clipped.

    Returns:
        `(top, bottom, left, right)` int32, rows `top:bottom` and columns `left:right`.
    """
    cut = tf.sqrt(1.0 - lam)
    cut_height = tf.cast(height * cut, tf.int32)
    cut_width = tf.cast(width * cut, tf.int32)
    y_seed, x_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    cy = tf.random.stateless_uniform([], y_seed, 0, height, tf.int32)
    cx = tf.random.stateless_uniform([], x_seed, 0, width, tf.int32)
    top = tf.clip_by_value(cy - cut_height // 2, 0, height)
    bottom = tf.clip_by_value(cy + cut_height // 2, 0, height)
    left = tf.clip_by_value(cx - cut_width // 2, 0, width)
    right = tf.clip_by_value(cx + cut_width // 2, 0, width)
    return top, bottom, left, right


def mix_batch(
    seed: tf.Tensor,
    images: tf.Tensor,
    labels: tf.Tensor,
    num_classes: int,
    mixup_alpha: float = 0.8,
    cutmix_alpha: float = 1.0,
    mix_prob: float = 1.0,
    switch_prob: float = 0.5,
    label_smoothing: float = 0.1,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Mixes one batch and returns its soft targets.

    Args:
        seed: stateless seed, `(2,)` int.
        images: `(B, H, W, C)` float32 with static H and W.
        labels: `(B,)` int class ids.
        num_classes: width of the targets.
        mixup_alpha, cutmix_alpha: Beta parameters; 0 turns the method off.
        mix_prob: chance that the batch is mixed.
        switch_prob: chance of CutMix rather than Mixup when both are on.
        label_smoothing: smoothing of both targets before they are mixed.

    Returns:
        `(images, targets)`: `(B, H, W, C)` float32 and `(B, num_classes)` float32 whose rows sum
        to 1.
    """
    targets = smooth_labels(labels, num_classes, label_smoothing)
    if mixup_alpha <= 0.0 and cutmix_alpha <= 0.0:
        return images, targets
    mix_seed, switch_seed, mixup_seed, cutmix_seed, box_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 5)
    )
    reversed_images, reversed_targets = tf.reverse(images, [0]), tf.reverse(targets, [0])
    height, width = images.shape[1], images.shape[2]

    def mixup() -> tuple[tf.Tensor, tf.Tensor]:
        lam = sample_beta(mixup_seed, mixup_alpha)
        return lam * images + (1.0 - lam) * reversed_images, lam

    def cutmix() -> tuple[tf.Tensor, tf.Tensor]:
        top, bottom, left, right = cutmix_box(box_seed, height, width, sample_beta(cutmix_seed, cutmix_alpha))
        rows = tf.range(height)[:, None, None]
        cols = tf.range(width)[None, :, None]
        pasted = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
        area = tf.cast((bottom - top) * (right - left), tf.float32)
        return tf.where(pasted, reversed_images, images), 1.0 - area / float(height * width)

    if mixup_alpha <= 0.0:
        mixed, lam = cutmix()
    elif cutmix_alpha <= 0.0:
        mixed, lam = mixup()
    else:
        mixed, lam = tf.cond(tf.random.stateless_uniform([], switch_seed) < switch_prob, cutmix, mixup)
    apply = tf.random.stateless_uniform([], mix_seed) < mix_prob
    lam = tf.where(apply, lam, 1.0)
    mixed = tf.where(apply, mixed, images)
    return mixed, lam * targets + (1.0 - lam) * reversed_targets
