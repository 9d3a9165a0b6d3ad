import keras

from keras_t2t.layers.attention import MultiHeadSelfAttention
from keras_t2t.layers.drop_path import DropPath
from keras_t2t.layers.mlp import Mlp
from keras_t2t.layers.utils import layer_norm


@keras.saving.register_keras_serializable(package="keras_t2t")
class TransformerBlock(keras.layers.Layer):
    """A pre-norm Transformer encoder block of the T2T-ViT backbone.

        x = x + DropPath(MultiHeadSelfAttention(LayerNorm(x)))
        x = x + DropPath(Mlp(LayerNorm(x)))

    Args:
        num_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of the token width.
        qkv_bias: whether the q, k, v projection has a bias (T2T-ViT: no).
        qk_scale: factor on the query-key products; defaults to `head_dim ** -0.5`. The official
            ImageNet checkpoints were trained with `embed_dim ** -0.5`.
        dropout: dropout rate after the attention projection and in the MLP.
        attention_dropout: dropout rate on the attention probabilities.
        drop_path: stochastic-depth rate of both residual branches.

    Subclasses swap the attention or the MLP by setting `attention_class` or `mlp_class` to a layer
    taking the same arguments (see `SqueezeExcitationBlock`, `GhostBlock`).

    Input shape: `(batch, tokens, dim)`. Output shape: the same; with `return_attention_scores=True`
    also the attention probabilities `(batch, num_heads, tokens, tokens)`.
    """

    attention_class = MultiHeadSelfAttention
    mlp_class = Mlp

    def __init__(
        self,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        qk_scale: float | None = None,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        drop_path: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.qk_scale = qk_scale
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.drop_path = drop_path
        dtype = self.dtype_policy
        self.norm1 = layer_norm("norm1", dtype=dtype)
        self.attn = self.attention_class(
            num_heads,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            dropout=dropout,
            attention_dropout=attention_dropout,
            name="attn",
            dtype=dtype,
        )
        self.norm2 = layer_norm("norm2", dtype=dtype)
        self.drop_path_layer = DropPath(drop_path, dtype=dtype)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.mlp = self.mlp_class(
            int(dim * self.mlp_ratio),
            dim,
            dropout=self.dropout,
            name="mlp",
            dtype=self.dtype_policy,
        )
        self.norm1.build(input_shape)
        self.attn.build(input_shape)
        self.norm2.build(input_shape)
        self.mlp.build(input_shape)

    def call(self, x, training=None, return_attention_scores=False):
        attended, scores = self.attn(self.norm1(x), training=training, return_attention_scores=True)
        x = x + self.drop_path_layer(attended, training=training)
        x = x + self.drop_path_layer(self.mlp(self.norm2(x), training=training), training=training)
        return (x, scores) if return_attention_scores else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            mlp_ratio=self.mlp_ratio,
            qkv_bias=self.qkv_bias,
            qk_scale=self.qk_scale,
            dropout=self.dropout,
            attention_dropout=self.attention_dropout,
            drop_path=self.drop_path,
        )
        return config
