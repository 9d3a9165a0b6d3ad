"""T2T-ViT-Ghost and ViT-Ghost: GhostNet's cheap operations in every block (section 4.2, Table 6).

`block_type="ghost"`: each block is a `GhostBlock`. Its `GhostAttention` computes half of q, k and v
with Dense layers and the other half by a per-channel scale of that half (a depthwise 1x1
convolution without bias); its `GhostMlp` keeps fc1 at the token width and triples it with two such
scales (after GELU) before fc2.

- `T2TViT16_Ghost` ("t2t_vit_16_ghost"): embed_dim 384, depth 16, 6 heads, mlp_ratio 3, as in the
  official release.
- `ViT_Ghost` ("vit_ghost"): ViT-S/16 with Ghost blocks.

Official state-dict keys -> Keras weights of block i (torch Linear weights are transposed; the
depthwise kernels (C, 1, 1) become (1, C, 1), `np.transpose(w, (2, 0, 1))`):

    blocks.{i}.attn.q.weight, .k.weight, .v.weight     ->  block_{i}/attn/q/kernel, k/kernel, v/kernel
    blocks.{i}.attn.cheap_operation_q.weight (and k, v) ->  block_{i}/attn/cheap_operation_q/kernel
    blocks.{i}.attn.proj.weight, .bias                  ->  block_{i}/attn/proj/kernel, bias
    blocks.{i}.mlp.fc1.weight, .bias                    ->  block_{i}/mlp/fc1/kernel, bias
    blocks.{i}.mlp.cheap_operation2.weight (and 3)      ->  block_{i}/mlp/cheap_operation2/kernel
    blocks.{i}.mlp.fc2.weight, .bias                    ->  block_{i}/mlp/fc2/kernel, bias
    blocks.{i}.norm1 / norm2                            ->  block_{i}/norm1 / norm2, as in T2T-ViT
"""

from keras_t2t.models.t2t_vit import make_builder
from keras_t2t.models.variants import VARIANTS

T2TViT16_Ghost = make_builder(VARIANTS["t2t_vit_16_ghost"])
ViT_Ghost = make_builder(VARIANTS["vit_ghost"])
