import keras
from keras import ops

from keras_t2t.layers.utils import dense_kernel_initializer


@keras.saving.register_keras_serializable(package="keras_t2t")
class ClassToken(keras.layers.Layer):
    """Prepends one learned token to every sequence.

    Input shape: `(batch, tokens, dim)`. Output shape: `(batch, 1 + tokens, dim)`.
    """

    def build(self, input_shape):
        self.token = self.add_weight(
            shape=(1, 1, input_shape[-1]), initializer=dense_kernel_initializer(), name="token"
        )

    def call(self, x):
        token = ops.cast(self.token, x.dtype)
        return ops.concatenate([ops.repeat(token, ops.shape(x)[0], axis=0), x], axis=1)

    def compute_output_shape(self, input_shape):
        batch, tokens, dim = input_shape
        return (batch, None if tokens is None else tokens + 1, dim)
