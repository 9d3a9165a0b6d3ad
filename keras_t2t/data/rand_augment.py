"""RandAugment as timm's "rand-m9-mstd0.5-inc1" defines it, in stateless TF ops.

Each image gets `num_ops` operations drawn uniformly, with replacement, from the 15 of timm's
"increasing" set; each is applied with probability 0.5, at a magnitude drawn per operation from
N(magnitude, magnitude_std) clipped to [0, 10]. "Increasing" means a larger magnitude always
means a stronger change (fewer posterize bits, a lower solarize threshold, enhance factors
further from 1). Arguments at level `l = magnitude / 10`, with a random sign where marked (+-):

| operation | argument |
|---|---|
| Rotate | +-30 l degrees |
| ShearX, ShearY | +-0.3 l |
| TranslateX, TranslateY | +-0.45 l of the image width / height |
| Posterize | keep 4 - floor(4 l) bits |
| Solarize | invert pixels >= 256 - floor(256 l) |
| SolarizeAdd | add floor(110 l) to pixels < 128 |
| Color, Contrast, Brightness, Sharpness | factor max(0.1, 1 +- 0.9 l) |
| AutoContrast, Equalize, Invert | none |

Images are float32 `(H, W, C)` 0..255 (C 1 or 3). timm works on 8-bit PIL images, so the input is
rounded to whole grey levels first and each operation returns whole levels. Geometric operations
resample bilinearly and fill with the ImageNet mean colour, as timm does with its default hparams.
"""

import math
from collections.abc import Callable

import tensorflow as tf

from keras_t2t.models.preprocessing import IMAGENET_MEAN

MAX_LEVEL = 10.0
FILL_COLOUR = tuple(round(255 * m) for m in IMAGENET_MEAN)  # (124, 116, 104)


def _grey(image: tf.Tensor) -> tf.Tensor:
    """`(H, W, 1)` ITU-R 601 luma, rounded like PIL's `convert("L")`."""
    if image.shape[-1] == 1:
        return image
    return tf.round(tf.reduce_sum(image * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True))


def _blend(degenerate: tf.Tensor, image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """PIL's `ImageEnhance`: `degenerate + factor * (image - degenerate)`, as 8-bit values."""
    return tf.clip_by_value(tf.round(degenerate + factor * (image - degenerate)), 0.0, 255.0)


def auto_contrast(image: tf.Tensor) -> tf.Tensor:
    """Stretches each channel's range [lo, hi] to [0, 255]; flat channels are left alone."""
    lo = tf.reduce_min(image, axis=[0, 1], keepdims=True)
    hi = tf.reduce_max(image, axis=[0, 1], keepdims=True)
    stretched = tf.floor((image - lo) * (255.0 / tf.maximum(hi - lo, 1.0)))
    return tf.where(hi > lo, stretched, image)


def equalize(image: tf.Tensor) -> tf.Tensor:
    """PIL's `ImageOps.equalize`, per channel: a lookup table from the cumulative histogram."""

    def equalize_channel(channel: tf.Tensor) -> tf.Tensor:
        values = tf.cast(channel, tf.int32)
        histogram = tf.math.bincount(tf.reshape(values, [-1]), minlength=256, maxlength=256)
        # PIL leaves out the count of the highest grey level present.
        step = (tf.reduce_sum(histogram) - histogram[tf.reduce_max(values)]) // 255
        lut = (tf.cumsum(histogram, exclusive=True) + step // 2) // tf.maximum(step, 1)
        lut = tf.cast(tf.minimum(lut, 255), tf.float32)
        return tf.where(step > 0, tf.gather(lut, values), channel)

    return tf.stack([equalize_channel(c) for c in tf.unstack(image, axis=-1)], axis=-1)


def invert(image: tf.Tensor) -> tf.Tensor:
    return 255.0 - image


def posterize(image: tf.Tensor, bits: tf.Tensor) -> tf.Tensor:
    """Keeps the `bits` high bits of each 8-bit value."""
    step = tf.pow(2.0, 8.0 - tf.cast(bits, tf.float32))
    return tf.floor(image / step) * step


def solarize(image: tf.Tensor, threshold: tf.Tensor) -> tf.Tensor:
    """Inverts the values at or above `threshold`."""
    return tf.where(image >= tf.cast(threshold, tf.float32), 255.0 - image, image)


def solarize_add(image: tf.Tensor, addition: tf.Tensor, threshold: float = 128.0) -> tf.Tensor:
    """Adds `addition` to the values below `threshold`, saturating at 255."""
    added = tf.minimum(image + tf.cast(addition, tf.float32), 255.0)
    return tf.where(image < threshold, added, image)


def color(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Saturation: blends with the grey image (0 grey, 1 unchanged)."""
    return _blend(_grey(image), image, factor)


def contrast(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Blends with the flat image of the mean grey level (rounded, as PIL does)."""
    mean = tf.floor(tf.reduce_mean(_grey(image)) + 0.5)
    return _blend(mean, image, factor)


def brightness(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Blends with black."""
    return _blend(tf.zeros_like(image), image, factor)


def sharpness(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Blends with PIL's SMOOTH-filtered image (3x3 kernel, 5 in the centre, /13), borders kept."""
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    channels = image.shape[-1]
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, channels, 1])
    smooth = tf.round(tf.nn.depthwise_conv2d(image[None], kernel, [1, 1, 1, 1], "VALID")[0])
    degenerate = tf.pad(smooth, [[1, 1], [1, 1], [0, 0]])
    border = tf.pad(tf.zeros_like(smooth, tf.bool), [[1, 1], [1, 1], [0, 0]], constant_values=True)
    return _blend(tf.where(border, image, degenerate), image, factor)


def affine(image: tf.Tensor, transform: tf.Tensor) -> tf.Tensor:
    """Resamples `image` bilinearly at `transform` (8 numbers mapping output (x, y) to the input
    position `((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`, `k = c0 x + c1 y + 1`), filling
    what falls outside with `FILL_COLOUR`."""
    fill = tf.constant(FILL_COLOUR, tf.float32)[: image.shape[-1]]
    # The op fills with one scalar: shift the fill colour to 0, transform, shift back.
    moved = tf.raw_ops.ImageProjectiveTransformV3(
        images=(image - fill)[None],
        transforms=tf.cast(transform, tf.float32)[None],
        output_shape=tf.shape(image)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )[0]
    return tf.clip_by_value(tf.round(moved + fill), 0.0, 255.0)


def rotate(image: tf.Tensor, degrees: tf.Tensor) -> tf.Tensor:
    """Rotates counter-clockwise (as seen) by `degrees` about the image centre."""
    angle = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    shape = tf.cast(tf.shape(image), tf.float32)
    cy, cx = (shape[0] - 1.0) / 2.0, (shape[1] - 1.0) / 2.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Output pixel (x, y) reads the input at the point rotated clockwise about the centre.
    return affine(
        image,
        [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0],
    )


def shear_x(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Output (x, y) reads input (x + factor * y, y)."""
    return affine(image, [1.0, factor, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])


def shear_y(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Output (x, y) reads input (x, y + factor * x)."""
    return affine(image, [1.0, 0.0, 0.0, factor, 1.0, 0.0, 0.0, 0.0])


def translate_x(image: tf.Tensor, pixels: tf.Tensor) -> tf.Tensor:
    """Output (x, y) reads input (x + pixels, y): the content moves left by `pixels`."""
    return affine(image, [1.0, 0.0, pixels, 0.0, 1.0, 0.0, 0.0, 0.0])


def translate_y(image: tf.Tensor, pixels: tf.Tensor) -> tf.Tensor:
    """Output (x, y) reads input (x, y + pixels): the content moves up by `pixels`."""
    return affine(image, [1.0, 0.0, 0.0, 0.0, 1.0, pixels, 0.0, 0.0])


def _enhance_factor(level: tf.Tensor, sign: tf.Tensor) -> tf.Tensor:
    return tf.maximum(0.1, 1.0 + sign * 0.9 * level)


def _size(image: tf.Tensor, axis: int) -> tf.Tensor:
    return tf.cast(tf.shape(image)[axis], tf.float32)


# name -> f(image, level in [0, 1], random sign +-1) -> image, in timm's order.
OPERATIONS: dict[str, Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]] = {
    "AutoContrast": lambda image, level, sign: auto_contrast(image),
    "Equalize": lambda image, level, sign: equalize(image),
    "Invert": lambda image, level, sign: invert(image),
    "Rotate": lambda image, level, sign: rotate(image, sign * 30.0 * level),
    "Posterize": lambda image, level, sign: posterize(image, 4.0 - tf.floor(4.0 * level)),
    "Solarize": lambda image, level, sign: solarize(image, 256.0 - tf.floor(256.0 * level)),
    "SolarizeAdd": lambda image, level, sign: solarize_add(image, tf.floor(110.0 * level)),
    "Color": lambda image, level, sign: color(image, _enhance_factor(level, sign)),
    "Contrast": lambda image, level, sign: contrast(image, _enhance_factor(level, sign)),
    "Brightness": lambda image, level, sign: brightness(image, _enhance_factor(level, sign)),
    "Sharpness": lambda image, level, sign: sharpness(image, _enhance_factor(level, sign)),
    "ShearX": lambda image, level, sign: shear_x(image, sign * 0.3 * level),
    "ShearY": lambda image, level, sign: shear_y(image, sign * 0.3 * level),
    "TranslateX": lambda image, level, sign: translate_x(image, sign * 0.45 * level * _size(image, 1)),
    "TranslateY": lambda image, level, sign: translate_y(image, sign * 0.45 * level * _size(image, 0)),
}


def rand_augment(
    seed: tf.Tensor,
    image: tf.Tensor,
    num_ops: int = 2,
    magnitude: float = 9.0,
    magnitude_std: float = 0.5,
    probability: float = 0.5,
) -> tf.Tensor:
    """Applies `num_ops` random operations of `OPERATIONS` to one image.

    Args:
        seed: stateless seed, `(2,)` int.
        image: `(H, W, C)` float32 0..255.
        num_ops: operations drawn per image (with replacement).
        magnitude: mean magnitude, 0..10.
        magnitude_std: deviation of the per-operation magnitude noise.
        probability: chance that each drawn operation is applied.

    Returns:
        `(H, W, C)` float32, whole values 0..255.
    """
    if not 0.0 <= magnitude <= MAX_LEVEL:
        raise ValueError(f"RandAugment magnitude must be in [0, {MAX_LEVEL}]; received {magnitude}.")
    shape = image.shape
    image = tf.round(tf.clip_by_value(image, 0.0, 255.0))
    for op_seed in tf.unstack(tf.random.experimental.stateless_split(seed, num_ops)):
        image = _random_operation(op_seed, image, magnitude, magnitude_std, probability)
        image = tf.ensure_shape(image, shape)
    return image


def _random_operation(
    seed: tf.Tensor, image: tf.Tensor, magnitude: float, magnitude_std: float, probability: float
) -> tf.Tensor:
    choice_seed, apply_seed, magnitude_seed, sign_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4)
    )
    index = tf.random.stateless_uniform([], choice_seed, 0, len(OPERATIONS), tf.int32)
    noisy = magnitude + magnitude_std * tf.random.stateless_normal([], magnitude_seed)
    level = tf.clip_by_value(noisy, 0.0, MAX_LEVEL) / MAX_LEVEL
    sign = tf.where(tf.random.stateless_uniform([], sign_seed) < 0.5, -1.0, 1.0)
    branches = [lambda op=op: op(image, level, sign) for op in OPERATIONS.values()]
    return tf.cond(
        tf.random.stateless_uniform([], apply_seed) < probability,
        lambda: tf.switch_case(index, branches),
        lambda: image,
    )
