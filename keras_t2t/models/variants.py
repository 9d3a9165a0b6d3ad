"""The T2T-ViT model family as data: one row per model of the official release and the paper."""

import dataclasses

_BLOCK_NAMES = {"se": "squeeze-and-excitation", "ghost": "Ghost", "dense": "DenseNet-style"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Variant:
    """One T2T-ViT model (or one of the paper's ViT baselines).

    Attributes:
        name: the official name (`t2t_vit_14`), also the registry key and the CLI's `--model`; the
            paper's ViTs that the official release lacks are `vit_<the paper's suffix>` (`vit_dn`).
        builder: the name of the Keras builder function (`T2TViT14`).
        embed_dim, depth, num_heads, mlp_ratio, tokens_type: `T2TViTBackbone` arguments.
        image_size: the input size the official checkpoints were trained at.
        top1: ImageNet top-1 accuracy reported in the paper, if any.
        block_type: `T2TViTBackbone` argument: the block of the architecture study's variants
            ("se", "ghost", "dense"), "transformer" otherwise.
        checkpoint_qk_scale: the blocks' query-key scale that the official builder of this model
            sets for pretrained weights, so the one to evaluate its checkpoints with: mostly
            `embed_dim ** -0.5` rather than the usual `head_dim ** -0.5` (the release's weights were
            trained so). None where the official builder keeps the usual scale (t2t_vit_dense) or
            there is no official builder (the paper's ViTs other than ViT-S/16).
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
    block_type: str = "transformer"
    checkpoint_qk_scale: float | None = None

    def backbone_kwargs(self) -> dict:
        return {
            "embed_dim": self.embed_dim,
            "depth": self.depth,
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "tokens_type": self.tokens_type,
            "block_type": self.block_type,
        }

    def describe(self) -> str:
        """The architecture in words, e.g. "performer T2T layers, embed_dim 384, depth 14, 6 heads,
        mlp_ratio 3"."""
        tokens = "ViT patch embedding" if self.tokens_type == "patch" else f"{self.tokens_type} T2T layers"
        blocks = "" if self.block_type == "transformer" else f"{_BLOCK_NAMES[self.block_type]} blocks, "
        return (
            f"{tokens}, {blocks}embed_dim {self.embed_dim}, depth {self.depth}, {self.num_heads} heads, "
            f"mlp_ratio {self.mlp_ratio:g}"
        )


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        # The scales are those of the official builders, wide's 512 ** -0.5 (not 768 ** -0.5) included.
        Variant(
            name="t2t_vit_7",
            builder="T2TViT7",
            embed_dim=256,
            depth=7,
            num_heads=4,
            mlp_ratio=2.0,
            tokens_type="performer",
            top1=71.7,
            checkpoint_qk_scale=256**-0.5,
        ),
        Variant(
            name="t2t_vit_10",
            builder="T2TViT10",
            embed_dim=256,
            depth=10,
            num_heads=4,
            mlp_ratio=2.0,
            tokens_type="performer",
            top1=75.2,
            checkpoint_qk_scale=256**-0.5,
        ),
        Variant(
            name="t2t_vit_12",
            builder="T2TViT12",
            embed_dim=256,
            depth=12,
            num_heads=4,
            mlp_ratio=2.0,
            tokens_type="performer",
            top1=76.5,
            checkpoint_qk_scale=256**-0.5,
        ),
        Variant(
            name="t2t_vit_14",
            builder="T2TViT14",
            embed_dim=384,
            depth=14,
            num_heads=6,
            mlp_ratio=3.0,
            tokens_type="performer",
            top1=81.5,
            checkpoint_qk_scale=384**-0.5,
        ),
        Variant(
            name="t2t_vit_19",
            builder="T2TViT19",
            embed_dim=448,
            depth=19,
            num_heads=7,
            mlp_ratio=3.0,
            tokens_type="performer",
            top1=81.9,
            checkpoint_qk_scale=448**-0.5,
        ),
        Variant(
            name="t2t_vit_24",
            builder="T2TViT24",
            embed_dim=512,
            depth=24,
            num_heads=8,
            mlp_ratio=3.0,
            tokens_type="performer",
            top1=82.3,
            checkpoint_qk_scale=512**-0.5,
        ),
        Variant(
            name="t2t_vit_t_14",
            builder="T2TViT_t14",
            embed_dim=384,
            depth=14,
            num_heads=6,
            mlp_ratio=3.0,
            tokens_type="transformer",
            top1=81.7,
            checkpoint_qk_scale=384**-0.5,
        ),
        Variant(
            name="t2t_vit_t_19",
            builder="T2TViT_t19",
            embed_dim=448,
            depth=19,
            num_heads=7,
            mlp_ratio=3.0,
            tokens_type="transformer",
            top1=82.4,
            checkpoint_qk_scale=448**-0.5,
        ),
        Variant(
            name="t2t_vit_t_24",
            builder="T2TViT_t24",
            embed_dim=512,
            depth=24,
            num_heads=8,
            mlp_ratio=3.0,
            tokens_type="transformer",
            top1=82.6,
            checkpoint_qk_scale=512**-0.5,
        ),
        Variant(
            name="t2t_vit_14_resnext",
            builder="T2TViT14_ResNeXt",
            embed_dim=384,
            depth=14,
            num_heads=32,
            mlp_ratio=3.0,
            tokens_type="performer",
            checkpoint_qk_scale=384**-0.5,
        ),
        Variant(
            name="t2t_vit_14_wide",
            builder="T2TViT14_Wide",
            embed_dim=768,
            depth=4,
            num_heads=12,
            mlp_ratio=3.0,
            tokens_type="performer",
            checkpoint_qk_scale=512**-0.5,
        ),
        # The architecture study of the paper's section 4.2 (Table 6). The T2T-ViT rows are the
        # official release's; the ViTs are the paper's: ViT-S/16 (the official release's
        # vit_small_patch16_224), its deep-narrow (DN) and shallow-wide (SW) resizings, and ViT-S/16
        # with the SE, ResNeXt (32 heads) and Ghost changes. The paper gives DN's and SW's width and
        # depth only: their heads keep T2T-ViT's 64 channels per head. The top-1 of DN, SW and
        # ViT-Ghost are ViT-S/16's 78.1 plus the differences the paper gives (+0.9, -8.2, -4.4).
        Variant(
            name="t2t_vit_14_se",
            builder="T2TViT14_SE",
            embed_dim=384,
            depth=14,
            num_heads=6,
            mlp_ratio=3.0,
            tokens_type="performer",
            block_type="se",
            checkpoint_qk_scale=384**-0.5,
        ),
        Variant(
            name="t2t_vit_dense",
            builder="T2TViT_Dense",
            embed_dim=128,
            depth=19,
            num_heads=8,
            mlp_ratio=2.0,
            tokens_type="performer",
            block_type="dense",
        ),
        Variant(
            name="t2t_vit_16_ghost",
            builder="T2TViT16_Ghost",
            embed_dim=384,
            depth=16,
            num_heads=6,
            mlp_ratio=3.0,
            tokens_type="performer",
            block_type="ghost",
            checkpoint_qk_scale=384**-0.5,
        ),
        Variant(
            name="vit_small_patch16_224",
            builder="ViT_S16",
            embed_dim=768,
            depth=8,
            num_heads=8,
            mlp_ratio=3.0,
            tokens_type="patch",
            top1=78.1,
            checkpoint_qk_scale=768**-0.5,
        ),
        Variant(
            name="vit_dn",
            builder="ViT_DN",
            embed_dim=384,
            depth=16,
            num_heads=6,
            mlp_ratio=3.0,
            tokens_type="patch",
            top1=79.0,
        ),
        Variant(
            name="vit_sw",
            builder="ViT_SW",
            embed_dim=1024,
            depth=4,
            num_heads=16,
            mlp_ratio=3.0,
            tokens_type="patch",
            top1=69.9,
        ),
        Variant(
            name="vit_se",
            builder="ViT_SE",
            embed_dim=768,
            depth=8,
            num_heads=8,
            mlp_ratio=3.0,
            tokens_type="patch",
            block_type="se",
        ),
        Variant(
            name="vit_resnext",
            builder="ViT_ResNeXt",
            embed_dim=768,
            depth=8,
            num_heads=32,
            mlp_ratio=3.0,
            tokens_type="patch",
        ),
        Variant(
            name="vit_ghost",
            builder="ViT_Ghost",
            embed_dim=768,
            depth=8,
            num_heads=8,
            mlp_ratio=3.0,
            tokens_type="patch",
            block_type="ghost",
            top1=73.7,
        ),
    )
}

# Soft splits for small images (28 to 64 px: Fashion-MNIST, CIFAR), as `T2TViTBackbone` / builder keyword
# arguments. The ImageNet splits (kernels 7, 3, 3; strides 4, 2, 2) divide each side by 16, which leaves a
# 28 px image 1.75 tokens wide; these divide it by 4: 28 px -> 14 -> 7 x 7 tokens, 32 px -> 8 x 8. The
# input side must be a multiple of 4 (28 and 32 are), and the last split, of stride 1, still mixes
# neighbouring tokens as the ImageNet model's 3x3 splits do.
SMALL_IMAGE_SOFT_SPLITS = {"kernel_sizes": (5, 3, 3), "strides": (2, 2, 1), "paddings": (2, 1, 1)}
