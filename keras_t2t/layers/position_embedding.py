import keras
import numpy as np
from keras import ops


def sinusoid_table(num_positions: int, dim: int) -> np.ndarray:
    """The fixed position table of "Attention Is All You Need", `(num_positions, dim)` float32.

    Entry `(p, j)` is `sin(p / 10000 ** (2 * (j // 2) / dim))` for even `j` and the cosine of the same
    angle for odd `j`: sines and cosines interleave along the feature axis.
    """
    positions = np.arange(num_positions, dtype=np.float64)[:, None]
    exponents = 2 * (np.arange(dim) // 2) / dim
    angles = positions / np.power(10000.0, exponents)[None, :]
    table = np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype("float32")


@keras.saving.register_keras_serializable(package="keras_t2t")
class SinusoidalPositionEmbedding(keras.layers.Layer):
    """Adds a fixed sinusoid table to a token sequence.

    The table is a non-trainable weight, `embedding` of shape `(1, tokens, dim)`, so it is saved and
    loaded with the model, can be replaced by a converted or interpolated table, and is never trained.

    Input shape: `(batch, tokens, dim)`. Output shape: the same.
    """

    def build(self, input_shape):
        _, tokens, dim = input_shape
        if tokens is None:
            raise ValueError(
                "SinusoidalPositionEmbedding needs a known number of tokens; give the model a fixed "
                "input_shape."
            )
        self.embedding = self.add_weight(
            shape=(1, tokens, dim),
            initializer="zeros",
            trainable=False,
            dtype="float32",
            name="embedding",
        )
        self.embedding.assign(sinusoid_table(tokens, dim)[None])

    def call(self, x):
        return x + ops.cast(self.embedding, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape
