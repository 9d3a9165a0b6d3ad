import keras
from keras import ops

from keras_t2t.layers.utils import FusedDropout, cheap_operation, dense


@keras.saving.register_keras_serializable(package="keras_t2t")
class GhostMlp(keras.layers.Layer):
    """The MLP of T2T-ViT-Ghost: a narrow first Dense layer widened by cheap per-channel scales.

        h = GELU(Dense(x, input_dim))
        y = Dropout(Dense(Dropout(concat(h, GELU(cheap_2(h)), ..., GELU(cheap_r(h)))), output_dim))

    with `r = hidden_dim / input_dim` (3 in T2T-ViT-Ghost, so the cheap operations are
    `cheap_operation2` and `cheap_operation3`, as in the official release). GELU is the exact (erf) one.

    Args:
        hidden_dim: width of the concatenation the second Dense layer reads; a multiple of the input
            width.
        output_dim: width of the second Dense layer.
        dropout: dropout rate after the concatenation and after the second Dense layer.

    Input shape: `(..., input_dim)`. Output shape: `(..., output_dim)`.
    """

    def __init__(self, hidden_dim: int, output_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.dropout = dropout
        self.dropout_layer = FusedDropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        dim = input_shape[-1]
        if self.hidden_dim % dim:
            raise ValueError(
                f"GhostMlp widens its {dim}-wide first layer by whole multiples, so hidden_dim must be a "
                f"multiple of {dim}; got {self.hidden_dim}. Pick an integer mlp_ratio."
            )
        self.fc1 = dense(dim, name="fc1", activation="gelu", dtype=self.dtype_policy)
        self.cheap_operations = [
            cheap_operation(f"cheap_operation{i}", dtype=self.dtype_policy)
            for i in range(2, self.hidden_dim // dim + 1)
        ]
        self.fc2 = dense(self.output_dim, name="fc2", dtype=self.dtype_policy)
        self.fc1.build(input_shape)
        for operation in self.cheap_operations:
            operation.build(input_shape)
        self.fc2.build((*input_shape[:-1], self.hidden_dim))

    def call(self, x, training=None):
        hidden = self.fc1(x)
        ghosts = [keras.activations.gelu(cheap(hidden), approximate=False) for cheap in self.cheap_operations]
        x = self.dropout_layer(ops.concatenate([hidden, *ghosts], axis=-1), training=training)
        return self.dropout_layer(self.fc2(x), training=training)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, output_dim=self.output_dim, dropout=self.dropout)
        return config
