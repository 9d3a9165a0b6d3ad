"""T2T-ViT-Dense: DenseNet-style connections between blocks (section 4.2, Table 6).

`block_type="dense"`: `dense_blocks` groups of `DenseTransformerBlock`s; each block concatenates
`growth_rate` new channels (a Dense layer on its Transformer output) to its input, and a
`Transition` (Dense + GELU) halves the width between groups. The official t2t_vit_dense starts at
embed_dim 128 with growth 64 and groups (3, 6, 6, 4): widths 128 -> 320, 160 -> 544, 272 -> 656,
328 -> 584, so the final LayerNorm and the head read 584 channels. Each block has 8 heads and
mlp_ratio 2 of its own input width.

- `T2TViT_Dense` ("t2t_vit_dense").

Stochastic depth rises linearly over the 19 blocks. (The official code indexes its rates by group
instead, so its blocks get at most a third of `drop_path_rate`; the paper trains with 0.1.)

Official state-dict keys -> Keras weights. `blocks` holds the dense blocks and the transitions in
one sequence, and so does the backbone: official `blocks.{i}` is Keras `block_{i}` for both kinds.

    blocks.{i}.norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2  ->  block_{i}/..., as in T2T-ViT
    blocks.{i}.dense_linear.weight, .bias   ->  block_{i}/dense_linear/kernel (transposed), bias
    blocks.{i}.linear.weight, .bias         ->  block_{i}/linear/kernel (transposed), bias  (transitions)
    norm.weight (584,), head.weight (1000, 584)  ->  norm, head
"""

from keras_t2t.models.t2t_vit import make_builder
from keras_t2t.models.variants import VARIANTS

T2TViT_Dense = make_builder(VARIANTS["t2t_vit_dense"])
