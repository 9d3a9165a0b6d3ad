import keras
from keras import ops

from keras_t2t.layers.utils import dense


@keras.saving.register_keras_serializable(package="keras_t2t")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Softmax self-attention of every token over every token, head by head.

        q, k, v = split(Dense(x)); y = Dropout(Dense(softmax(q k^T * scale) v))

    With `value_residual=True` the layer returns `v + y`: the T2T transformer layer changes the token
    width, so its value (not its input) carries the residual.

    Args:
        num_heads: number of heads; `output_dim` must be divisible by it.
        output_dim: width of q, k, v and of the output; defaults to the input width.
        qkv_bias: whether the q, k, v projection has a bias.
        qk_scale: factor on the query-key products; defaults to `(input_dim // num_heads) ** -0.5`.
        dropout: dropout rate after the output projection.
        attention_dropout: dropout rate on the attention probabilities.
        value_residual: add `v` to the output.

    Input shape: `(batch, tokens, input_dim)`. Output shape: `(batch, tokens, output_dim)`; with
    `return_attention_scores=True` also the probabilities `(batch, num_heads, tokens, tokens)`.
    The softmax runs in float32 under every mixed-precision policy.
    """

    def __init__(
        self,
        num_heads: int,
        output_dim: int | None = None,
        qkv_bias: bool = False,
        qk_scale: float | None = None,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        value_residual: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.output_dim = output_dim
        self.qkv_bias = qkv_bias
        self.qk_scale = qk_scale
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.value_residual = value_residual
        self.attention_dropout_layer = keras.layers.Dropout(attention_dropout, dtype=self.dtype_policy)
        self.proj_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        width = self.output_dim or input_dim
        if width % self.num_heads:
            raise ValueError(
                f"The attention width ({width}) must be divisible by num_heads ({self.num_heads})."
            )
        self.width = width
        self.scale = self.qk_scale or (input_dim // self.num_heads) ** -0.5
        self.qkv = dense(3 * width, name="qkv", use_bias=self.qkv_bias, dtype=self.dtype_policy)
        self.proj = dense(width, name="proj", dtype=self.dtype_policy)
        self.qkv.build(input_shape)
        self.proj.build((*input_shape[:-1], width))

    def call(self, x, training=None, return_attention_scores=False):
        tokens = x.shape[1]
        head_shape = (-1, tokens, self.num_heads, self.width // self.num_heads)
        q, k, v = ops.split(self.qkv(x), 3, axis=-1)
        q = ops.reshape(q * ops.cast(self.scale, q.dtype), head_shape)
        logits = ops.einsum("bqhd,bkhd->bhqk", q, ops.reshape(k, head_shape))
        scores = ops.cast(ops.softmax(ops.cast(logits, "float32"), axis=-1), v.dtype)
        probabilities = self.attention_dropout_layer(scores, training=training)
        attended = ops.einsum("bhqk,bkhd->bqhd", probabilities, ops.reshape(v, head_shape))
        y = self.proj(ops.reshape(attended, (-1, tokens, self.width)))
        y = self.proj_dropout(y, training=training)
        if self.value_residual:
            y = v + y
        return (y, scores) if return_attention_scores else y

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim or input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            output_dim=self.output_dim,
            qkv_bias=self.qkv_bias,
            qk_scale=self.qk_scale,
            dropout=self.dropout,
            attention_dropout=self.attention_dropout,
            value_residual=self.value_residual,
        )
        return config
