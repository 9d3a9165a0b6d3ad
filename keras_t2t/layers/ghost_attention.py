import keras
from keras import ops

from keras_t2t.layers.attention import MultiHeadSelfAttention
from keras_t2t.layers.utils import cheap_operation, dense


@keras.saving.register_keras_serializable(package="keras_t2t")
class GhostAttention(MultiHeadSelfAttention):
    """Multi-head self-attention with Ghost projections (Han et al., 2020), as in T2T-ViT-Ghost.

    Each of q, k, v is half computed by a Dense layer and half derived from that half by a cheap
    per-channel scale, which halves the projection's weights:

        q = concat(Dense_q(x), cheap_q(Dense_q(x)))       (same for k and v; width/2 each)
        y = Dropout(Dense(softmax(q k^T * scale) v))

    Sublayers `q`, `k`, `v` (width / 2, bias if `qkv_bias`) and `cheap_operation_q`, `_k`, `_v`
    (`DepthwiseConv1D` with kernel size 1, no bias) replace `qkv`; `proj` is unchanged.

    Args: those of `MultiHeadSelfAttention`; the width must be even.

    Input shape: `(batch, tokens, input_dim)`. Output shape: `(batch, tokens, output_dim)`.
    """

    def build_qkv(self, input_shape):
        if self.width % 2:
            raise ValueError(
                f"GhostAttention computes half of q, k and v with Dense layers, so its width must be "
                f"even; got {self.width}."
            )
        dtype = self.dtype_policy
        self.q, self.k, self.v = (
            dense(self.width // 2, name=name, use_bias=self.qkv_bias, dtype=dtype) for name in ("q", "k", "v")
        )
        self.cheap_operation_q, self.cheap_operation_k, self.cheap_operation_v = (
            cheap_operation(f"cheap_operation_{name}", dtype=dtype) for name in ("q", "k", "v")
        )
        for projection, cheap in self._ghost_pairs():
            projection.build(input_shape)
            cheap.build((*input_shape[:-1], self.width // 2))

    def _ghost_pairs(self):
        return (
            (self.q, self.cheap_operation_q),
            (self.k, self.cheap_operation_k),
            (self.v, self.cheap_operation_v),
        )

    def project_qkv(self, x):
        projected = []
        for projection, cheap in self._ghost_pairs():
            half = projection(x)
            projected.append(ops.concatenate([half, cheap(half)], axis=-1))
        return projected
