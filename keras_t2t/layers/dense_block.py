import keras
from keras import ops

from keras_t2t.layers.transformer_block import TransformerBlock
from keras_t2t.layers.utils import dense


@keras.saving.register_keras_serializable(package="keras_t2t")
class DenseTransformerBlock(TransformerBlock):
    """A DenseNet-style Transformer block (T2T-ViT-Dense): a `TransformerBlock` whose output, narrowed to
    `growth_rate` channels, is concatenated to its input instead of replacing it:

        y = TransformerBlock(x)
        x = concat(x, Dense(y, growth_rate))

    so each block reads the features of every earlier block of its group.

    Args:
        num_heads: attention heads; the input width must be divisible by it.
        growth_rate: channels each block adds (64 in T2T-ViT-Dense).
        **kwargs: the other `TransformerBlock` arguments.

    Input shape: `(batch, tokens, dim)`. Output shape: `(batch, tokens, dim + growth_rate)`; with
    `return_attention_scores=True` also the attention probabilities `(batch, num_heads, tokens, tokens)`.
    """

    def __init__(self, num_heads: int, growth_rate: int = 64, **kwargs):
        super().__init__(num_heads, **kwargs)
        self.growth_rate = growth_rate
        self.dense_linear = dense(growth_rate, name="dense_linear", dtype=self.dtype_policy)

    def build(self, input_shape):
        super().build(input_shape)
        self.dense_linear.build(input_shape)

    def call(self, x, training=None, return_attention_scores=False):
        y, scores = super().call(x, training=training, return_attention_scores=True)
        x = ops.concatenate([x, self.dense_linear(y)], axis=-1)
        return (x, scores) if return_attention_scores else x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.growth_rate)

    def get_config(self):
        config = super().get_config()
        config.update(growth_rate=self.growth_rate)
        return config
