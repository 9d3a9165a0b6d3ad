import keras

from keras_t2t.layers.attention import MultiHeadSelfAttention
from keras_t2t.layers.squeeze_excitation import SqueezeExcitation


@keras.saving.register_keras_serializable(package="keras_t2t")
class SqueezeExcitationAttention(MultiHeadSelfAttention):
    """Multi-head self-attention whose projected output passes a `SqueezeExcitation` gate (T2T-ViT-SE):

        y = Dropout(SqueezeExcitation(Dense(softmax(q k^T * scale) v)))

    Args:
        num_heads: number of heads.
        reduction: the gate's squeeze width is `width // reduction` (16 in T2T-ViT-SE).
        **kwargs: the other `MultiHeadSelfAttention` arguments.

    Input shape: `(batch, tokens, input_dim)`. Output shape: `(batch, tokens, output_dim)`.
    """

    def __init__(self, num_heads: int, reduction: int = 16, **kwargs):
        super().__init__(num_heads, **kwargs)
        self.reduction = reduction

    def build(self, input_shape):
        super().build(input_shape)
        self.se_layer = SqueezeExcitation(self.reduction, name="se_layer", dtype=self.dtype_policy)
        self.se_layer.build((*input_shape[:-1], self.width))

    def project_output(self, attended):
        return self.se_layer(super().project_output(attended))

    def get_config(self):
        config = super().get_config()
        config.update(reduction=self.reduction)
        return config
