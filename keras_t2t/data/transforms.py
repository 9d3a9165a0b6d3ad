"""Per-image transforms: the geometric and erasing parts of the training transform (the evaluation
transform is `keras_t2t.models.image_converter.eval_transform`). Every random one takes a
stateless seed, a `(2,)` integer tensor, and draws all its randomness from it (see
`keras_t2t.data` for why).
"""

import math

import tensorflow as tf

from keras_t2t.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD

# Candidate boxes drawn per image before falling back, for both the crop and the erased box.
MAX_ATTEMPTS = 10


def sample_box(
    seed: tf.Tensor,
    height: tf.Tensor,
    width: tf.Tensor,
    scale: tuple[float, float],
    log_ratio: tuple[float, float],
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Draws a box of random area and log-uniform aspect ratio (width / height) inside an image.

    `MAX_ATTEMPTS` candidates are drawn at once; the first that fits wins, as in timm's
    RandomResizedCrop and RandomErasing, which draw them one after the other.

    Args:
        seed: stateless seed, `(2,)` int.
        height, width: the image's size, scalar int32 tensors.
        scale: range of the box area as a fraction of the image area.
        log_ratio: range of log(width / height).

    Returns:
        `(found, top, left, box_height, box_width)`: scalar bool and int32 tensors; when no
        candidate fits, `found` is False and the box is meaningless.
    """
    area_seed, ratio_seed, top_seed, left_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    area = tf.cast(height * width, tf.float32) * tf.random.stateless_uniform(
        [MAX_ATTEMPTS], area_seed, minval=scale[0], maxval=scale[1]
    )
    ratio = tf.exp(tf.random.stateless_uniform([MAX_ATTEMPTS], ratio_seed, log_ratio[0], log_ratio[1]))
    box_width = tf.cast(tf.round(tf.sqrt(area * ratio)), tf.int32)
    box_height = tf.cast(tf.round(tf.sqrt(area / ratio)), tf.int32)
    fits = (box_width > 0) & (box_width <= width) & (box_height > 0) & (box_height <= height)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    box_height, box_width = box_height[first], box_width[first]
    # Uniform integer offsets in [0, height - box_height] and [0, width - box_width].
    top = _uniform_int(top_seed, height - box_height + 1)
    left = _uniform_int(left_seed, width - box_width + 1)
    return tf.reduce_any(fits), top, left, box_height, box_width


def _uniform_int(seed: tf.Tensor, upper: tf.Tensor) -> tf.Tensor:
    """A uniform integer in [0, upper), `upper` >= 1 not required (gives 0 otherwise)."""
    upper = tf.maximum(upper, 1)
    return tf.random.stateless_uniform([], seed, minval=0, maxval=upper, dtype=tf.int32)


def random_resized_crop_box(
    seed: tf.Tensor,
    image_shape: tf.Tensor,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tf.Tensor:
    """The crop window of RandomResizedCrop for an image of `image_shape` (`(h, w, ...)`).

    A box covering `scale` of the area with an aspect ratio log-uniform in `ratio`; when none of
    the attempts fits, the centre crop of the whole image with its ratio clamped into `ratio`.
    `tf.image.stateless_sample_distorted_bounding_box` is not used: it draws the ratio uniformly
    (timm draws its log uniformly) and falls back to the whole image.

    Returns:
        `[top, left, height, width]` int32, the window `tf.image.decode_and_crop_jpeg` takes.
    """
    height, width = tf.cast(image_shape[0], tf.int32), tf.cast(image_shape[1], tf.int32)
    found, top, left, box_height, box_width = sample_box(
        seed, height, width, scale, (math.log(ratio[0]), math.log(ratio[1]))
    )
    image_ratio = tf.cast(width, tf.float32) / tf.cast(height, tf.float32)
    clamped = tf.clip_by_value(image_ratio, ratio[0], ratio[1])
    fallback_width = tf.minimum(width, tf.cast(tf.round(tf.cast(height, tf.float32) * clamped), tf.int32))
    fallback_height = tf.minimum(height, tf.cast(tf.round(tf.cast(width, tf.float32) / clamped), tf.int32))
    fallback = tf.stack(
        [(height - fallback_height) // 2, (width - fallback_width) // 2, fallback_height, fallback_width]
    )
    return tf.where(found, tf.stack([top, left, box_height, box_width]), fallback)


def resize_random_interpolation(seed: tf.Tensor, image: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Resizes to `size` with bilinear or bicubic interpolation (even odds), antialiased like PIL.

    Returns:
        `(H, W, C)` float32, clipped to 0..255 (bicubic overshoots).
    """
    image = tf.cast(image, tf.float32)
    resized = tf.cond(
        tf.random.stateless_uniform([], seed) < 0.5,
        lambda: tf.image.resize(image, size, "bilinear", antialias=True),
        lambda: tf.image.resize(image, size, "bicubic", antialias=True),
    )
    return tf.clip_by_value(resized, 0.0, 255.0)


def random_flip(seed: tf.Tensor, image: tf.Tensor, probability: float = 0.5) -> tf.Tensor:
    """Mirrors `(H, W, C)` left-right with the given probability."""
    image = tf.convert_to_tensor(image)
    flip = tf.random.stateless_uniform([], seed) < probability
    return tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: image)


def random_erasing(
    seed: tf.Tensor,
    image: tf.Tensor,
    probability: float = 0.25,
    scale: tuple[float, float] = (0.02, 1 / 3),
    log_ratio: tuple[float, float] = (math.log(0.3), math.log(1 / 0.3)),
) -> tf.Tensor:
    """Random erasing in timm's "pixel" mode, one box, on a 0..255 image.

    timm erases after normalisation with per-pixel N(0, 1) values. The model here normalises
    inside, so the same values in 0..255 space are `255 * (mean_c + std_c * N(0, 1))` per channel
    (a normal with mean 255 * mean_c and deviation 255 * std_c), which normalise back to N(0, 1).
    They are clipped to 0..255 so the pipeline's images stay pixel values: that cuts the normal at
    about +-2.1 deviations and changes ~3% of the erased values.

    Args:
        seed: stateless seed, `(2,)` int.
        image: `(H, W, C)` float32, C 3 (RGB) or 1 (grey: the luma of the RGB statistics).
        probability: the chance of erasing a box at all.
        scale, log_ratio: ranges of the box area (fraction of the image) and log aspect ratio.

    Returns:
        `(H, W, C)` float32 0..255.
    """
    image = tf.convert_to_tensor(image, tf.float32)
    apply_seed, box_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    found, top, left, box_height, box_width = sample_box(box_seed, height, width, scale, log_ratio)
    # timm wants the box strictly smaller than the image on both sides.
    found &= (box_height < height) & (box_width < width)
    erase = found & (tf.random.stateless_uniform([], apply_seed) < probability)
    mean, std = channel_statistics(image.shape[-1])
    noise = 255.0 * (mean + std * tf.random.stateless_normal(shape, noise_seed))
    rows = tf.range(height)[:, None, None]
    cols = tf.range(width)[None, :, None]
    in_box = (rows >= top) & (rows < top + box_height) & (cols >= left) & (cols < left + box_width)
    return tf.where(erase & in_box, tf.clip_by_value(noise, 0.0, 255.0), image)


def channel_statistics(channels: int) -> tuple[tf.Tensor, tf.Tensor]:
    """ImageNet mean and std (0..1) for RGB, or their ITU-R 601 luma for one grey channel."""
    mean, std = tf.constant(IMAGENET_MEAN), tf.constant(IMAGENET_STD)
    if channels == 1:
        luma = tf.constant([0.299, 0.587, 0.114])
        return tf.reduce_sum(mean * luma, keepdims=True), tf.reduce_sum(std * luma, keepdims=True)
    if channels != 3:
        raise ValueError(f"Images must have 1 (grey) or 3 (RGB) channels; received {channels}.")
    return mean, std
