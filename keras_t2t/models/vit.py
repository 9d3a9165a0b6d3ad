"""The paper's ViT baselines (section 4.2, Table 6), built from T2T-ViT's own parts.

A ViT here is a `T2TViTBackbone` with `tokens_type="patch"`: a 16x16 `PatchEmbedding` instead of
the T2T module, then the same class token, fixed sinusoid position embedding, pre-norm blocks
without qkv bias, final LayerNorm and head as T2T-ViT, and the same builder arguments.

- `ViT_S16` ("vit_small_patch16_224"): ViT-S/16 as the paper and the official release use it:
  embed_dim 768, depth 8, 8 heads, mlp_ratio 3, no qkv bias.
- `ViT_DN` ("vit_dn"): deep-narrow, embed_dim 384 and depth 16 (6 heads).
- `ViT_SW` ("vit_sw"): shallow-wide, embed_dim 1024 and depth 4 (16 heads).
- `ViT_ResNeXt` ("vit_resnext"): ViT-S/16 with 32 heads, the paper's ResNeXt-style change.

ViT-S/16 with squeeze-and-excitation or Ghost blocks is in `se.py` and `ghost.py`.

Official state-dict keys (the release's timm-based `vit.py`) -> Keras weights of the backbone;
blocks, norm and head map as for T2T-ViT:

    patch_embed.proj.weight (D, 3, 16, 16)  ->  patch_embed/proj/kernel (16, 16, 3, D), axes (2, 3, 1, 0)
    patch_embed.proj.bias                   ->  patch_embed/proj/bias
    cls_token, pos_embed                    ->  class_token/token, position_embedding/embedding

The official ViT learns its position embedding; here it is the fixed sinusoid table of T2T-ViT, and
a converted checkpoint's table is loaded into it (and stays fixed). The official vit_small_patch16_224
weights were trained with `qk_scale = 768 ** -0.5`.
"""

from keras_t2t.models.t2t_vit import make_builder
from keras_t2t.models.variants import VARIANTS

ViT_S16 = make_builder(VARIANTS["vit_small_patch16_224"])
ViT_DN = make_builder(VARIANTS["vit_dn"])
ViT_SW = make_builder(VARIANTS["vit_sw"])
ViT_ResNeXt = make_builder(VARIANTS["vit_resnext"])
