"""The paper's evaluation transform, as a function and as keras-hub's image converter."""

from __future__ import annotations

import math

import keras
import keras_hub
import numpy as np

from keras_t2t.models.backbone import T2TViTBackbone
from keras_t2t.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD

try:
    import tensorflow as tf
except ImportError:  # the JAX and PyTorch backends run without TensorFlow
    tf = None

# ImageNet normalisation of 0..255 RGB as keras-hub's `scale` and `offset`: x * scale + offset.
IMAGENET_SCALE = tuple(1.0 / (255.0 * s) for s in IMAGENET_STD)
IMAGENET_OFFSET = tuple(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True))


def eval_transform(
    image: tf.Tensor,
    image_size: tuple[int, int],
    crop_pct: float = 0.9,
    interpolation: str = "bicubic",
    antialias: bool = True,
) -> tf.Tensor:
    """The paper's evaluation transform: resize, keeping the aspect ratio, then centre crop.

    For a square `image_size` S the shorter side becomes `floor(S / crop_pct)` (248 for 224 at
    the paper's 0.9), the longer side keeps the aspect ratio (rounded down), and the centre
    `S x S` is cut out. A non-square `(H, W)` is covered the same way by
    `(floor(H / crop_pct), floor(W / crop_pct))`.

    Args:
        image: `(h, w, C)` image, or a `(batch, h, w, C)` batch of same-sized images, of any real
            dtype, values 0..255.
        image_size: `(H, W)` of the output.
        crop_pct: fraction of the resized image that the crop keeps, in (0, 1].
        interpolation: a `tf.image.resize` method.
        antialias: whether downscaling is antialiased, as PIL's resize is.

    Returns:
        `(H, W, C)` (or `(batch, H, W, C)`) float32, values clipped to 0..255.
    """
    check_crop_pct(crop_pct)
    height, width = image_size
    scaled_height = math.floor(height / crop_pct)
    scaled_width = math.floor(width / crop_pct)
    shape = tf.shape(image, out_type=tf.int64)
    h, w = shape[-3], shape[-2]
    # Integer arithmetic, so the side that sets the scale lands exactly on its target.
    height_sets_scale = scaled_height * w >= scaled_width * h
    new_height = tf.where(height_sets_scale, tf.constant(scaled_height, tf.int64), scaled_width * h // w)
    new_width = tf.where(height_sets_scale, scaled_height * w // h, tf.constant(scaled_width, tf.int64))
    resized = tf.image.resize(
        tf.cast(image, tf.float32),
        tf.cast(tf.stack([new_height, new_width]), tf.int32),
        method=interpolation,
        antialias=antialias,
    )
    top = tf.cast(tf.round(tf.cast(new_height - height, tf.float32) / 2.0), tf.int32)
    left = tf.cast(tf.round(tf.cast(new_width - width, tf.float32) / 2.0), tf.int32)
    cropped = tf.image.crop_to_bounding_box(resized, top, left, height, width)
    return tf.clip_by_value(cropped, 0.0, 255.0)


def check_crop_pct(crop_pct: float) -> None:
    if not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"`crop_pct` must be in (0, 1]; received crop_pct={crop_pct}.")


@keras.saving.register_keras_serializable(package="keras_t2t")
class T2TViTImageConverter(keras_hub.layers.ImageConverter):
    """Raw RGB images of any size -> the inputs of a T2T-ViT classifier.

    The paper's evaluation transform (`eval_transform`: shorter side to `size / crop_pct`,
    bicubic with antialiasing, centre crop to `image_size`), then `x * scale + offset` per
    channel, by default ImageNet's mean and std on 0..255 values. Images already at
    `image_size` are not resized or cropped (they are taken as transformed), so a training
    pipeline's crops go through `fit` as they are. A classifier that normalises inside
    (`include_preprocessing=True`, the builders' default) takes `scale=None, offset=None`.

    Takes `(h, w, C)` or `(batch, h, w, C)` images with values 0..255, or a list of images of
    different sizes; returns float32 `(..., height, width, C)`.

    Args:
        image_size: `(height, width)` of the output; None leaves the size alone (and skips the
            crop).
        crop_pct: fraction of the resized image the crop keeps, in (0, 1] (paper: 0.9).
        interpolation: a `tf.image.resize` method (paper: "bicubic").
        antialias: antialias downscaling, as PIL does (paper: True).
        scale, offset: per-channel (or scalar) factors and offsets applied after resizing, or None.
    """

    backbone_cls = T2TViTBackbone

    def __init__(
        self,
        image_size: tuple[int, int] | None = (224, 224),
        crop_pct: float = 0.9,
        interpolation: str = "bicubic",
        antialias: bool = True,
        scale=IMAGENET_SCALE,
        offset=IMAGENET_OFFSET,
        **kwargs,
    ):
        resizing_options = {"crop_to_aspect_ratio", "pad_to_aspect_ratio", "bounding_box_format"}
        if resizing_options & set(kwargs):
            raise ValueError(
                f"T2TViTImageConverter always resizes the shorter side and centre-crops (crop_pct); it "
                f"does not take {sorted(resizing_options & set(kwargs))}. Use "
                "keras_hub.layers.ImageConverter for keras-hub's other resizing modes."
            )
        check_crop_pct(crop_pct)
        super().__init__(
            image_size=image_size,
            scale=_as_list(scale),
            offset=_as_list(offset),
            interpolation=interpolation,
            antialias=antialias,
            **kwargs,
        )
        self.crop_pct = crop_pct
        # keras-hub keeps `image_size` in a Resizing layer, which `eval_transform` stands in for
        # here: it never runs, so it is built now, or `model.quantize` would refuse it unbuilt.
        self.resizing.build(None)

    def call(self, inputs):
        if tf is None:
            raise ImportError(
                "T2TViTImageConverter's evaluation transform runs in TensorFlow, which is not "
                "installed: pip install tensorflow, or call the model on images already at its size "
                "(model(images), or set model.preprocessor = None before predict)."
            )
        if isinstance(inputs, list | tuple | tf.RaggedTensor) and self.image_size is None:
            raise ValueError("Images of different sizes need an image_size to be brought to.")
        if isinstance(inputs, tf.RaggedTensor):
            # keras-hub's preprocessor hands a list of images of different sizes over as one.
            spec = tf.TensorSpec([*self.image_size, inputs.shape[-1]], tf.float32)
            return tf.map_fn(lambda image: self.call(image.to_tensor()), inputs, fn_output_signature=spec)
        if isinstance(inputs, list | tuple):
            shapes = {tuple(np.shape(image)) for image in inputs}
            if len(shapes) > 1:
                return tf.stack([self.call(image) for image in inputs])
        images = tf.convert_to_tensor(inputs)
        channels = len(self.scale) if isinstance(self.scale, list) else None
        if images.shape.rank not in (3, 4) or channels not in (None, images.shape[-1]):
            raise ValueError(
                f"T2TViTImageConverter takes images shaped (height, width, channels) or (batch, height, "
                f"width, channels){'' if channels is None else f' with {channels} channels'}; received "
                f"shape {images.shape}."
            )
        images = tf.cast(images, tf.float32)
        if self.image_size is not None:
            images = self._resize_unless_sized(images)
        if self.scale is not None:
            images = images * tf.constant(self.scale, tf.float32)
        if self.offset is not None:
            images = images + tf.constant(self.offset, tf.float32)
        return images

    def _resize_unless_sized(self, images: tf.Tensor) -> tf.Tensor:
        """`eval_transform`, except that images already at `image_size` pass unchanged: those are
        taken as transformed (a training pipeline's crops, or `eval_transform`'s output), as
        keras-hub's converters leave images of their target size alone."""
        height, width = self.image_size

        def transform():
            return eval_transform(images, self.image_size, self.crop_pct, self.interpolation, self.antialias)

        static = tuple(images.shape[-3:-1])
        if None not in static:
            return images if static == (height, width) else transform()
        shape = tf.shape(images)
        sized = tf.logical_and(tf.equal(shape[-3], height), tf.equal(shape[-2], width))
        resized = tf.cond(sized, lambda: images, transform)
        return tf.ensure_shape(resized, [*images.shape[:-3], height, width, images.shape[-1]])

    def get_config(self) -> dict:
        config = super().get_config()
        for option in ("crop_to_aspect_ratio", "pad_to_aspect_ratio", "bounding_box_format"):
            config.pop(option, None)
        config["crop_pct"] = self.crop_pct
        return config


def _as_list(value):
    """Per-channel factors as a list (what keras-hub's config stores), or None / a scalar as is."""
    return list(value) if isinstance(value, tuple | list) else value


@keras.saving.register_keras_serializable(package="keras_t2t")
class T2TViTImageClassifierPreprocessor(keras_hub.models.ImageClassifierPreprocessor):
    """keras-hub's image classifier preprocessor around a `T2TViTImageConverter`.

    Maps `x` (raw images) through the converter and passes labels and sample weights through,
    inside `T2TViTImageClassifier.fit` / `predict` / `evaluate`.
    """

    backbone_cls = T2TViTBackbone
    image_converter_cls = T2TViTImageConverter
