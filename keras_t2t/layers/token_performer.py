import math

import keras
from keras import ops

from keras_t2t.layers.mlp import Mlp
from keras_t2t.layers.utils import FusedDropout, dense, in_portable_graph, layer_norm


@keras.saving.register_keras_serializable(package="keras_t2t")
class TokenPerformer(keras.layers.Layer):
    """The T2T layer with Performer attention: linear in the number of tokens.

    Softmax attention is approximated with positive random features (Choromanski et al., 2021):
    `phi(x) = exp(w x - |x|^2 / 2) / sqrt(m)` with a fixed random matrix `w` of `m` orthogonal rows scaled
    by `sqrt(m)`, so that `phi(q) . phi(k)` estimates `exp(q . k)` without the tokens x tokens matrix.
    The layer has a single head and its attention output replaces the input in the residual path
    (the input is wider than the output), as in the official release:

        x = LayerNorm(x); k, q, v = split(Dense(x))
        y = v + Dropout(Dense(phi(q) (phi(k)^T v) / (phi(q) sum_t phi(k_t) + 1e-8)))
        y = y + Dropout(Mlp(LayerNorm(y)))

    The random-feature arithmetic runs in float32 under every mixed-precision policy: `exp` of
    float16 overflows and the official release reports NaN losses with AMP.

    Args:
        emb_dim: width of the output tokens (the paper's token_dim, 64).
        kernel_ratio: number of random features `m` as a fraction of `emb_dim`.
        dropout: dropout rate after the attention projection and after the MLP.
        seed: seed of the random matrix, which is drawn once and saved as a non-trainable weight.

    Input shape: `(batch, tokens, input_dim)`. Output shape: `(batch, tokens, emb_dim)`.
    """

    epsilon = 1e-8

    def __init__(
        self,
        emb_dim: int = 64,
        kernel_ratio: float = 0.5,
        dropout: float = 0.1,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.emb_dim = emb_dim
        self.kernel_ratio = kernel_ratio
        self.dropout = dropout
        self.seed = seed
        self.num_features = int(emb_dim * kernel_ratio)
        if self.num_features < 1:
            raise ValueError(
                f"TokenPerformer needs at least one random feature: emb_dim * kernel_ratio = "
                f"{emb_dim} * {kernel_ratio} < 1. Raise kernel_ratio."
            )
        dtype = self.dtype_policy
        self.norm1 = layer_norm("norm1", dtype=dtype)
        self.kqv = dense(3 * emb_dim, name="kqv", dtype=dtype)
        self.proj = dense(emb_dim, name="proj", dtype=dtype)
        self.attention_dropout = FusedDropout(dropout, dtype=dtype)
        self.norm2 = layer_norm("norm2", dtype=dtype)
        self.mlp = Mlp(emb_dim, emb_dim, name="mlp", dtype=dtype)
        self.mlp_dropout = FusedDropout(dropout, dtype=dtype)

    def build(self, input_shape):
        token_shape = (*input_shape[:-1], self.emb_dim)
        self.norm1.build(input_shape)
        self.kqv.build(input_shape)
        self.proj.build(token_shape)
        self.norm2.build(token_shape)
        self.mlp.build(token_shape)
        self.random_matrix = self.add_weight(
            shape=(self.num_features, self.emb_dim),
            initializer=keras.initializers.Orthogonal(gain=math.sqrt(self.num_features), seed=self.seed),
            trainable=False,
            dtype="float32",
            autocast=False,
            name="random_matrix",
        )

    def random_features(self, x):
        """`(batch, tokens, emb_dim)` float32 -> positive random features `(batch, tokens, m)`."""
        half_square_norm = ops.sum(x * x, axis=-1, keepdims=True) / 2.0
        projections = ops.einsum("btd,md->btm", x, self.random_matrix)
        return ops.exp(projections - half_square_norm) / math.sqrt(self.num_features)

    def linear_attention(self, q, k, v):
        """Performer estimate of `softmax(q k^T) v`, in float32: `(batch, tokens, emb_dim)` each."""
        q, k, v = (ops.cast(t, "float32") for t in (q, k, v))
        key_features = self.random_features(k)
        query_features = self.random_features(q)
        normaliser = ops.einsum("btm,bm->bt", query_features, ops.sum(key_features, axis=1))
        context = ops.einsum("btd,btm->bdm", v, key_features)
        attended = ops.einsum("btm,bdm->btd", query_features, context)
        denominator = normaliser[..., None] + self.epsilon
        if in_portable_graph():
            # LiteRT's int8 division fails where the quantized denominator rounds to zero, as the
            # normaliser's small values do; its rsqrt spans a far narrower range.
            inverse_root = ops.rsqrt(denominator)
            return attended * inverse_root * inverse_root
        return attended / denominator

    def call(self, x, training=None):
        k, q, v = ops.split(self.kqv(self.norm1(x)), 3, axis=-1)
        attended = ops.cast(self.linear_attention(q, k, v), v.dtype)
        x = v + self.attention_dropout(self.proj(attended), training=training)
        return x + self.mlp_dropout(self.mlp(self.norm2(x), training=training), training=training)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.emb_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            emb_dim=self.emb_dim,
            kernel_ratio=self.kernel_ratio,
            dropout=self.dropout,
            seed=self.seed,
        )
        return config
