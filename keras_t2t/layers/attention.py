import keras
from keras import ops

from keras_t2t.layers.utils import FusedDropout, dense, uses_cpu_inference_kernels


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
        query_chunk_size: if set, and the layer has more tokens than that, attend in chunks of that
            many queries and recompute each chunk's attention probabilities in the backward pass
            instead of keeping them: training memory for the probabilities falls from
            `tokens ** 2` to `query_chunk_size * tokens` per head and sample, for about one more
            forward attention of compute. Used when no probabilities are returned and attention
            dropout is off (recomputed dropout would draw other masks).

    Subclasses change the projections by overriding `build_qkv` with `project_qkv`, or
    `project_output` (see `GhostAttention`, `SqueezeExcitationAttention`).

    Input shape: `(batch, tokens, input_dim)`. Output shape: `(batch, tokens, output_dim)`; with
    `return_attention_scores=True` also the probabilities `(batch, num_heads, tokens, tokens)`.
    The softmax computes in float32 under every mixed-precision policy (in bfloat16 inference on
    CPU, inside oneDNN's softmax kernel, which takes and returns bfloat16).
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
        query_chunk_size: int | None = None,
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
        self.query_chunk_size = query_chunk_size
        self.attention_dropout_layer = FusedDropout(attention_dropout, dtype=self.dtype_policy)
        self.proj_dropout = FusedDropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        width = self.output_dim or input_dim
        if width % self.num_heads:
            raise ValueError(
                f"The attention width ({width}) must be divisible by num_heads ({self.num_heads})."
            )
        self.width = width
        self.scale = self.qk_scale or (input_dim // self.num_heads) ** -0.5
        self.build_qkv(input_shape)
        self.proj = dense(width, name="proj", dtype=self.dtype_policy)
        self.proj.build((*input_shape[:-1], width))

    def build_qkv(self, input_shape):
        """Creates the layers `project_qkv` uses; a subclass that overrides one overrides both."""
        self.qkv = dense(3 * self.width, name="qkv", use_bias=self.qkv_bias, dtype=self.dtype_policy)
        self.qkv.build(input_shape)

    def project_qkv(self, x):
        """`(batch, tokens, input_dim)` -> q, k, v, each `(batch, tokens, width)`."""
        return ops.split(self.qkv(x), 3, axis=-1)

    def project_output(self, attended):
        """`(batch, tokens, width)` attended values -> the output, before its dropout."""
        return self.proj(attended)

    def call(self, x, training=None, return_attention_scores=False):
        tokens = x.shape[1]
        head_shape = (-1, tokens, self.num_heads, self.width // self.num_heads)
        q, k, v = self.project_qkv(x)
        q = ops.reshape(q * ops.cast(self.scale, q.dtype), head_shape)
        k = ops.reshape(k, head_shape)
        chunked = (
            self.query_chunk_size is not None
            and tokens > self.query_chunk_size
            and not return_attention_scores
            and not (training and self.attention_dropout > 0)
        )
        if chunked:
            attended, scores = self._attend_in_chunks(q, k, ops.reshape(v, head_shape), training), None
        else:
            attended, scores = _softmax_attention(
                q, k, ops.reshape(v, head_shape), self.attention_dropout_layer, training
            )
        y = self.project_output(ops.reshape(attended, (-1, tokens, self.width)))
        y = self.proj_dropout(y, training=training)
        if self.value_residual:
            y = v + y
        return (y, scores) if return_attention_scores else y

    def _attend_in_chunks(self, q, k, v, training):
        attend = keras.remat(lambda q_chunk, k, v: _softmax_attention(q_chunk, k, v, training=training)[0])
        size = self.query_chunk_size
        chunks = []
        for start in range(0, q.shape[1], size):
            q_chunk = q[:, start : start + size]
            if chunks:
                # A data edge from the previous chunk makes the chunks run one after another in the
                # forward and the backward pass. Without it TensorFlow recomputes every chunk's
                # probabilities at once in the backward pass and the peak memory does not fall.
                q_chunk = q_chunk + 0.0 * chunks[-1][:, :1, :1, :1]
            chunks.append(attend(q_chunk, k, v))
        return ops.concatenate(chunks, axis=1)

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
            query_chunk_size=self.query_chunk_size,
        )
        return config


def _softmax_attention(q, k, v, dropout=None, training=None):
    """`softmax(q k^T) v` per head, softmax in float32; q `(batch, queries, heads, head_dim)`, k and v
    `(batch, tokens, heads, head_dim)`. Returns the attended values `(batch, queries, heads, head_dim)`
    and the probabilities `(batch, heads, queries, tokens)` (before dropout)."""
    logits = ops.einsum("bqhd,bkhd->bhqk", q, k)
    if keras.backend.standardize_dtype(logits.dtype) == "bfloat16" and uses_cpu_inference_kernels(
        training, "bfloat16"
    ):
        # oneDNN's softmax computes in float32 inside and rounds once to bfloat16: the same
        # probabilities as through casts of the logits and the probabilities, without those two
        # passes over the largest tensor of the block.
        scores = ops.softmax(logits, axis=-1)
    else:
        scores = ops.cast(ops.softmax(ops.cast(logits, "float32"), axis=-1), v.dtype)
    probabilities = scores if dropout is None else dropout(scores, training=training)
    return ops.einsum("bhqk,bkhd->bqhd", probabilities, v), scores
