from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_t2t.layers.utils import in_portable_graph

try:
    import tensorflow as tf
except ImportError:  # the JAX and PyTorch backends run without TensorFlow
    tf = None


def soft_split_output_size(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Length of one side of the token grid after a soft split (the paper's formula (3))."""
    return (size + 2 * padding - kernel_size) // stride + 1


@keras.saving.register_keras_serializable(package="keras_t2t")
class SoftSplit(keras.layers.Layer):
    """Splits an image into overlapping patches and flattens each patch into a token.

    The image is zero-padded by `padding` on each side, then every `kernel_size` x `kernel_size` window
    taken with step `stride` becomes one token. Tokens are ordered row by row over the output grid, and
    each token vector is ordered (kernel_row, kernel_col, channel), as `tf.image.extract_patches` gives
    it (PyTorch's `nn.Unfold` orders it (channel, kernel_row, kernel_col) instead).

    Args:
        kernel_size: side of the square window.
        stride: step between windows.
        padding: zeros added on each side of the height and width.

    On TensorFlow the patches come from `tf.image.extract_patches`; on the JAX and PyTorch
    backends, and inside `portable_graph()`, from one gather of the flattened image.

    Input shape: `(batch, height, width, channels)`.
    Output shape: `(batch, out_height * out_width, kernel_size * kernel_size * channels)` where
        `out_height = (height + 2 * padding - kernel_size) // stride + 1`, and likewise `out_width`.
    """

    def __init__(self, kernel_size: int, stride: int, padding: int, **kwargs):
        super().__init__(**kwargs)
        if kernel_size < 1 or stride < 1 or padding < 0:
            raise ValueError(
                "SoftSplit needs kernel_size >= 1, stride >= 1 and padding >= 0; got "
                f"kernel_size={kernel_size}, stride={stride}, padding={padding}."
            )
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        # Nothing to build (as Keras' Dropout); `model.quantize` refuses unbuilt layers.
        self.built = True

    def output_grid(self, height: int, width: int) -> tuple[int, int]:
        """The (out_height, out_width) token grid for an input of `height` x `width`."""
        args = (self.kernel_size, self.stride, self.padding)
        return soft_split_output_size(height, *args), soft_split_output_size(width, *args)

    def call(self, images):
        _, height, width, channels = images.shape
        out_height, out_width = self.output_grid(height, width)
        p = self.padding
        if p:
            images = ops.pad(images, ((0, 0), (p, p), (p, p), (0, 0)))
        if in_portable_graph() or keras.config.backend() != "tensorflow":
            # Every patch's pixels gathered from the flattened image in one step, in (row, col,
            # channel) order: exact, in operations every backend and runtime has (LiteRT has no
            # ExtractImagePatches, and tf2onnx converts it wrongly for a dynamic batch).
            k, step = self.kernel_size, self.stride
            padded_width = width + 2 * p
            rows = step * np.arange(out_height)[:, None, None, None] + np.arange(k)[None, None, :, None]
            cols = step * np.arange(out_width)[None, :, None, None] + np.arange(k)[None, None, None, :]
            pixels = (rows * padded_width + cols).reshape(-1)
            flat = ops.reshape(images, (-1, (height + 2 * p) * padded_width, channels))
            patches = ops.take(flat, pixels.astype("int32"), axis=1)
        else:
            patches = tf.image.extract_patches(
                images,
                sizes=(1, self.kernel_size, self.kernel_size, 1),
                strides=(1, self.stride, self.stride, 1),
                rates=(1, 1, 1, 1),
                padding="VALID",
            )
        return ops.reshape(
            patches, (-1, out_height * out_width, self.kernel_size * self.kernel_size * channels)
        )

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        out_height, out_width = self.output_grid(height, width)
        return (batch, out_height * out_width, self.kernel_size * self.kernel_size * channels)

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding)
        return config
