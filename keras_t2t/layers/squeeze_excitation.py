import keras
from keras import ops

from keras_t2t.layers.utils import dense


@keras.saving.register_keras_serializable(package="keras_t2t")
class SqueezeExcitation(keras.layers.Layer):
    """Squeeze-and-excitation over tokens: re-weights each channel by a gate computed from the mean
    token (Hu et al., 2018), as T2T-ViT-SE applies it to the attention output:

        s = mean over tokens of x                          (batch, dim)
        x = x * sigmoid(Dense(ReLU(Dense(s, dim / reduction, no bias)), dim, no bias))

    The class token is averaged with the others, as in the official release.

    Args:
        reduction: the squeeze width is `dim // reduction` (16 in T2T-ViT-SE).

    Input shape: `(batch, tokens, dim)`. Output shape: the same.
    """

    def __init__(self, reduction: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.reduction = reduction

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim // self.reduction < 1:
            raise ValueError(
                f"SqueezeExcitation with reduction {self.reduction} would squeeze {dim} channels to "
                f"none; use a reduction of at most {dim}."
            )
        self.fc1 = dense(dim // self.reduction, name="fc1", use_bias=False, dtype=self.dtype_policy)
        self.fc2 = dense(dim, name="fc2", use_bias=False, dtype=self.dtype_policy)
        self.fc1.build((input_shape[0], dim))
        self.fc2.build((input_shape[0], dim // self.reduction))

    def call(self, x):
        # Averaged in float32: a mean over ~200 tokens in float16 loses the gate's precision.
        squeezed = ops.cast(ops.mean(ops.cast(x, "float32"), axis=1), x.dtype)
        gate = ops.sigmoid(self.fc2(ops.relu(self.fc1(squeezed))))
        return x * gate[:, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(reduction=self.reduction)
        return config
