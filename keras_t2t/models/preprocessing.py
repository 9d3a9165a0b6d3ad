"""ImageNet normalisation: in the model (`include_preprocessing=True`) or as a function."""

import keras
from keras import ops

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess_input(images):
    """Maps RGB images with values in [0, 255] to the normalised inputs T2T-ViT was trained on.

    `(x / 255 - mean) / std` per channel, with ImageNet's mean and std. Use it with models built with
    `include_preprocessing=False`; the default models do the same inside.

    Args:
        images: `(..., 3)` array or tensor, RGB, values in [0, 255].

    Returns:
        A float32 tensor of the same shape.
    """
    images = ops.convert_to_tensor(images, "float32")
    if images.shape[-1] != 3:
        raise ValueError(
            f"preprocess_input expects RGB images with 3 channels last; got shape {images.shape}."
        )
    return (images / 255.0 - ops.array(IMAGENET_MEAN)) / ops.array(IMAGENET_STD)


def imagenet_normalization(name: str = "preprocessing") -> keras.layers.Normalization:
    """A layer doing what `preprocess_input` does, for the front of a model."""
    return keras.layers.Normalization(
        mean=[255.0 * m for m in IMAGENET_MEAN],
        variance=[(255.0 * s) ** 2 for s in IMAGENET_STD],
        name=name,
    )
