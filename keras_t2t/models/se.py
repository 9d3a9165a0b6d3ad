"""T2T-ViT-SE and ViT-SE: squeeze-and-excitation on every attention output (section 4.2, Table 6).

`block_type="se"`: each block is a `SqueezeExcitationBlock`, whose attention gates its projected
output channel by channel with a `SqueezeExcitation` (mean over all tokens, Dense to dim / 16 without
bias, ReLU, Dense back without bias, sigmoid), before the projection's dropout.

- `T2TViT14_SE` ("t2t_vit_14_se"): T2T-ViT-14 with SE blocks, as in the official release.
- `ViT_SE` ("vit_se"): ViT-S/16 with SE blocks.

Official state-dict keys -> Keras weights, beyond those of the plain models:

    blocks.{i}.attn.se_layer.fc.0.weight (D/16, D)  ->  block_{i}/attn/se_layer/fc1/kernel (D, D/16)
    blocks.{i}.attn.se_layer.fc.2.weight (D, D/16)  ->  block_{i}/attn/se_layer/fc2/kernel (D/16, D)
"""

from keras_t2t.models.t2t_vit import make_builder
from keras_t2t.models.variants import VARIANTS

T2TViT14_SE = make_builder(VARIANTS["t2t_vit_14_se"])
ViT_SE = make_builder(VARIANTS["vit_se"])
