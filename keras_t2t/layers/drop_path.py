import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_t2t")
class DropPath(keras.layers.Layer):
    """Stochastic depth: in training, zeroes a whole residual branch per sample.

    Each sample's input is kept with probability `1 - rate` and then scaled by `1 / (1 - rate)`, so
    the expected output equals the input. Outside training the layer is the identity.

    Args:
        rate: probability of dropping the branch for a sample.
        seed: optional seed for the random draws.

    Input shape: `(batch, ...)`. Output shape: the same.
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"DropPath rate must be in [0, 1); got {rate}.")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Nothing to build (as Keras' Dropout); `model.quantize` refuses unbuilt layers.
        self.built = True

    def call(self, x, training=None):
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask_shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        noise = keras.random.uniform(mask_shape, seed=self.seed_generator, dtype=x.dtype)
        mask = ops.floor(keep + noise)
        # Scaling the (batch, 1, ...) mask first leaves one multiply over the full tensor.
        return x * (mask / keep)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
