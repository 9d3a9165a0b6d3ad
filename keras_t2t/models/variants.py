"""The T2T-ViT model family as data: one row per official model."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Variant:
    """One official T2T-ViT model.

    Attributes:
        name: the official name (`t2t_vit_14`), also the registry key and the CLI's `--model`.
        builder: the name of the Keras builder function (`T2TViT14`).
        embed_dim, depth, num_heads, mlp_ratio, tokens_type: `T2TViTBackbone` arguments.
        image_size: the input size the official checkpoints were trained at.
        top1: ImageNet top-1 accuracy reported in the paper, if any.
        checkpoint: file name of the official ImageNet checkpoint, if one was published.
    """

    name: str
    builder: str
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float
    tokens_type: str
    image_size: int = 224
    top1: float | None = None
    checkpoint: str | None = None

    def backbone_kwargs(self) -> dict:
        return {
            "embed_dim": self.embed_dim,
            "depth": self.depth,
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "tokens_type": self.tokens_type,
        }


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("t2t_vit_7", "T2TViT7", 256, 7, 4, 2.0, "performer", 224, 71.7, "71.7_T2T_ViT_7.pth.tar"),
        Variant(
            "t2t_vit_10",
            "T2TViT10",
            256,
            10,
            4,
            2.0,
            "performer",
            224,
            75.2,
            "75.2_T2T_ViT_10.pth.tar",
        ),
        Variant(
            "t2t_vit_12",
            "T2TViT12",
            256,
            12,
            4,
            2.0,
            "performer",
            224,
            76.5,
            "76.5_T2T_ViT_12.pth.tar",
        ),
        Variant(
            "t2t_vit_14",
            "T2TViT14",
            384,
            14,
            6,
            3.0,
            "performer",
            224,
            81.5,
            "81.5_T2T_ViT_14.pth.tar",
        ),
        Variant(
            "t2t_vit_19",
            "T2TViT19",
            448,
            19,
            7,
            3.0,
            "performer",
            224,
            81.9,
            "81.9_T2T_ViT_19.pth.tar",
        ),
        Variant(
            "t2t_vit_24",
            "T2TViT24",
            512,
            24,
            8,
            3.0,
            "performer",
            224,
            82.3,
            "82.3_T2T_ViT_24.pth.tar",
        ),
        Variant(
            "t2t_vit_t_14",
            "T2TViT_t14",
            384,
            14,
            6,
            3.0,
            "transformer",
            224,
            81.7,
            "81.7_T2T_ViTt_14.pth.tar",
        ),
        Variant(
            "t2t_vit_t_19",
            "T2TViT_t19",
            448,
            19,
            7,
            3.0,
            "transformer",
            224,
            82.4,
            "82.4_T2T_ViTt_19.pth.tar",
        ),
        Variant(
            "t2t_vit_t_24",
            "T2TViT_t24",
            512,
            24,
            8,
            3.0,
            "transformer",
            224,
            82.6,
            "82.6_T2T_ViTt_24.pth.tar",
        ),
        Variant("t2t_vit_14_resnext", "T2TViT14_ResNeXt", 384, 14, 32, 3.0, "performer"),
        Variant("t2t_vit_14_wide", "T2TViT14_Wide", 768, 4, 12, 3.0, "performer"),
    )
}
