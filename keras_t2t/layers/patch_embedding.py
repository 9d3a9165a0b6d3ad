import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_t2t")
class PatchEmbedding(keras.layers.Layer):
    """ViT's tokenization: a hard split into non-overlapping square patches, each embedded linearly.

    A `Conv2D` named `proj` with kernel and stride `patch_size` (PyTorch's `patch_embed.proj`), then
    the grid flattened to tokens in row-major order. A layer rather than `Conv2D` + `Reshape` so that
    image sizes the patches do not tile raise an error (a strided `Conv2D` would crop them silently)
    and the weights sit under `patch_embed/proj` as in the official state dict. Its kernel and bias
    are initialised like PyTorch's default `Conv2d` (uniform, bound `1 / sqrt(fan_in)`), which the
    official ViT keeps.

    Args:
        embed_dim: width of the tokens.
        patch_size: side of the patches; image height and width must be multiples of it.

    Input shape: `(batch, height, width, channels)`, static height and width.
    Output shape: `(batch, (height / patch_size) * (width / patch_size), embed_dim)`.
    """

    def __init__(self, embed_dim: int, patch_size: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.patch_size = patch_size

    def token_grid(self, height: int, width: int) -> tuple[int, int]:
        """(rows, cols) of patches of an image of `height` x `width`.

        Raises:
            ValueError: if the patches do not tile the image exactly.
        """
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f"ViT with {self.patch_size}x{self.patch_size} patches takes images whose height and width "
                f"are multiples of {self.patch_size}; got {height}x{width}. Resize or crop the images, "
                "or pass input_shape with such sizes."
            )
        return height // self.patch_size, width // self.patch_size

    def build(self, input_shape):
        _, height, width, channels = input_shape
        if height is None or width is None or channels is None:
            raise ValueError(
                "PatchEmbedding needs static image height, width and channels (the number of tokens "
                f"fixes the position embedding); got input shape {input_shape}."
            )
        self.token_grid(height, width)
        bound = 1.0 / math.sqrt(self.patch_size * self.patch_size * channels)
        self.proj = keras.layers.Conv2D(
            self.embed_dim,
            self.patch_size,
            strides=self.patch_size,
            kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
            bias_initializer=keras.initializers.RandomUniform(-bound, bound),
            name="proj",
            dtype=self.dtype_policy,
        )
        self.proj.build(input_shape)

    def call(self, images):
        rows, cols = self.token_grid(images.shape[1], images.shape[2])
        return ops.reshape(self.proj(images), (-1, rows * cols, self.embed_dim))

    def compute_output_shape(self, input_shape):
        rows, cols = self.token_grid(input_shape[1], input_shape[2])
        return (input_shape[0], rows * cols, self.embed_dim)

    def get_config(self):
        config = super().get_config()
        config.update(embed_dim=self.embed_dim, patch_size=self.patch_size)
        return config
