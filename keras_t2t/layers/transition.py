import keras

from keras_t2t.layers.utils import dense


@keras.saving.register_keras_serializable(package="keras_t2t")
class Transition(keras.layers.Layer):
    """The transition between two groups of dense blocks in T2T-ViT-Dense: `GELU(Dense(x))`.

    The official model halves the token width with it. A layer rather than a Dense with a GELU
    activation so that its weights sit under `linear`, as in the official state dict.

    Args:
        units: output width.

    Input shape: `(..., input_dim)`. Output shape: `(..., units)`.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.linear = dense(units, name="linear", activation="gelu", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.linear.build(input_shape)

    def call(self, x):
        return self.linear(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units)
        return config
