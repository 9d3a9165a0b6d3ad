import keras

from keras_t2t.layers.utils import FusedDropout, dense


@keras.saving.register_keras_serializable(package="keras_t2t")
class Mlp(keras.layers.Layer):
    """Two Dense layers with exact (erf) GELU between them, dropout after each.

    Args:
        hidden_dim: width of the first Dense layer.
        output_dim: width of the second Dense layer.
        dropout: dropout rate after the activation and after the second Dense layer.

    Input shape: `(..., input_dim)`. Output shape: `(..., output_dim)`.
    """

    def __init__(self, hidden_dim: int, output_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.dropout = dropout
        # Keras' "gelu" is the exact (erf) one; inside the Dense layer it fuses with the matmul.
        self.fc1 = dense(hidden_dim, name="fc1", activation="gelu", dtype=self.dtype_policy)
        self.fc2 = dense(output_dim, name="fc2", dtype=self.dtype_policy)
        self.dropout_layer = FusedDropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.fc1.build(input_shape)
        self.fc2.build((*input_shape[:-1], self.hidden_dim))

    def call(self, x, training=None):
        x = self.dropout_layer(self.fc1(x), training=training)
        x = self.fc2(x)
        return self.dropout_layer(x, training=training)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, output_dim=self.output_dim, dropout=self.dropout)
        return config
