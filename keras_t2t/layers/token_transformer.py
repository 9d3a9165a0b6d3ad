import keras

from keras_t2t.layers.attention import MultiHeadSelfAttention
from keras_t2t.layers.mlp import Mlp
from keras_t2t.layers.utils import layer_norm


@keras.saving.register_keras_serializable(package="keras_t2t")
class TokenTransformer(keras.layers.Layer):
    """The T2T layer with softmax attention (quadratic in the number of tokens).

    The attention maps `input_dim`-wide tokens to `emb_dim`-wide ones, so its value `v` (not the
    input) carries the residual, as in the official release:

        x = LayerNorm(x); q, k, v = split(Dense(x, no bias))
        y = v + Dense(softmax(q k^T * scale) v),   scale = (input_dim // num_heads) ** -0.5
        y = y + Mlp(LayerNorm(y))

    Args:
        emb_dim: width of the output tokens (the paper's token_dim, 64).
        num_heads: attention heads (the paper uses 1).
        mlp_ratio: MLP hidden width as a multiple of `emb_dim`.
        qk_scale: overrides the query-key scale.
        dropout: dropout rate after the attention projection and in the MLP.
        attention_dropout: dropout rate on the attention probabilities.
        query_chunk_size: attend in chunks of this many queries, recomputing the probabilities in
            the backward pass (see `MultiHeadSelfAttention`): saves training memory on long inputs.

    Input shape: `(batch, tokens, input_dim)`. Output shape: `(batch, tokens, emb_dim)`.
    """

    def __init__(
        self,
        emb_dim: int = 64,
        num_heads: int = 1,
        mlp_ratio: float = 1.0,
        qk_scale: float | None = None,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        query_chunk_size: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.emb_dim = emb_dim
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.qk_scale = qk_scale
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.query_chunk_size = query_chunk_size
        dtype = self.dtype_policy
        self.norm1 = layer_norm("norm1", dtype=dtype)
        self.attn = MultiHeadSelfAttention(
            num_heads,
            output_dim=emb_dim,
            qk_scale=qk_scale,
            dropout=dropout,
            attention_dropout=attention_dropout,
            value_residual=True,
            query_chunk_size=query_chunk_size,
            name="attn",
            dtype=dtype,
        )
        self.norm2 = layer_norm("norm2", dtype=dtype)
        self.mlp = Mlp(int(emb_dim * mlp_ratio), emb_dim, dropout=dropout, name="mlp", dtype=dtype)

    def build(self, input_shape):
        token_shape = (*input_shape[:-1], self.emb_dim)
        self.norm1.build(input_shape)
        self.attn.build(input_shape)
        self.norm2.build(token_shape)
        self.mlp.build(token_shape)

    def call(self, x, training=None, return_attention_scores=False):
        # Only ask for the probabilities when returning them: that would rule out chunked attention.
        attended = self.attn(
            self.norm1(x), training=training, return_attention_scores=return_attention_scores
        )
        x, scores = attended if return_attention_scores else (attended, None)
        x = x + self.mlp(self.norm2(x), training=training)
        return (x, scores) if return_attention_scores else x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.emb_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            emb_dim=self.emb_dim,
            num_heads=self.num_heads,
            mlp_ratio=self.mlp_ratio,
            qk_scale=self.qk_scale,
            dropout=self.dropout,
            attention_dropout=self.attention_dropout,
            query_chunk_size=self.query_chunk_size,
        )
        return config
