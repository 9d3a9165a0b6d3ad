import inspect

import keras
import keras_hub
import numpy as np

from keras_t2t.layers import (
    ClassToken,
    DenseTransformerBlock,
    GhostBlock,
    PatchEmbedding,
    SinusoidalPositionEmbedding,
    SqueezeExcitationBlock,
    T2TModule,
    TransformerBlock,
    Transition,
)
from keras_t2t.layers.t2t_module import TOKENS_TYPES
from keras_t2t.layers.utils import FusedDropout, layer_norm
from keras_t2t.models.registry import NamedPresets

BLOCK_TYPES = {
    "transformer": TransformerBlock,
    "se": SqueezeExcitationBlock,
    "ghost": GhostBlock,
    "dense": DenseTransformerBlock,
}


@keras.saving.register_keras_serializable(package="keras_t2t")
class T2TViTBackbone(NamedPresets, keras_hub.models.Backbone):
    """The T2T-ViT feature extractor: T2T module, class token, position embedding, Transformer blocks.

        images -> T2TModule -> prepend class token -> + sinusoid position table -> Dropout
        -> depth x TransformerBlock -> LayerNorm

    The paper's architecture study (section 4.2) varies two parts, each by one argument:
    `tokens_type="patch"` replaces the T2T module by ViT's `PatchEmbedding` (layer "patch_embed"),
    and `block_type` picks the block: "se" (`SqueezeExcitationBlock`), "ghost" (`GhostBlock`) or
    "dense" (`DenseTransformerBlock`). Dense blocks come in groups of `dense_blocks` blocks, each
    adding `growth_rate` channels, with a `Transition` halving the width between groups; blocks and
    transitions are numbered together, `block_0` ... (as the official `blocks.0` ...), and the
    outputs are as wide as the last group's output.

    A functional model whose outputs are a dict:
    - "sequence_output": `(batch, 1 + tokens, embed_dim)`, the class token first, then one token per
      cell of the `height / 16` x `width / 16` grid in row-major order (for attention maps, dense tasks);
    - "pooled_output": `(batch, embed_dim)`, the class token's features (what the classifier reads).

    Args:
        embed_dim: token width of the Transformer blocks.
        depth: number of Transformer blocks.
        num_heads: attention heads of each block.
        mlp_ratio: MLP hidden width as a multiple of `embed_dim`.
        tokens_type: how images become tokens: a T2T module with "performer" or "transformer" T2T
            layers, or with strided convolutions ("convolution"); or ViT's hard split into
            `patch_size` patches ("patch").
        image_shape: `(height, width, channels)` of the input images (normalised already; the
            classifier builders add ImageNet normalisation in front).
        token_dim, kernel_sizes, strides, paddings, kernel_ratio, attention_chunk_size: passed to
            `T2TModule`.
        patch_size: side of the patches with `tokens_type="patch"` (16 for the paper's ViTs).
        block_type: "transformer", "se", "ghost" or "dense" (see above).
        growth_rate: channels each dense block adds (`block_type="dense"`; official 64).
        dense_blocks: blocks per dense group (`block_type="dense"`; official (3, 6, 6, 4)); their sum
            must equal `depth`.
        qkv_bias: whether the blocks' q, k, v projection has a bias.
        qk_scale: the blocks' query-key scale; `None` means `head_dim ** -0.5`.
        dropout: dropout rate after the position embedding and inside the blocks.
        attention_dropout: dropout rate on the blocks' attention probabilities.
        drop_path_rate: stochastic-depth rate of the last block, rising linearly from 0 at the first.
        seed: seed of the performers' fixed random matrices.
        dtype: dtype policy, e.g. "mixed_bfloat16".
    """

    def __init__(
        self,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        tokens_type: str = "performer",
        image_shape: tuple[int, int, int] = (224, 224, 3),
        token_dim: int = 64,
        kernel_sizes: tuple[int, int, int] = (7, 3, 3),
        strides: tuple[int, int, int] = (4, 2, 2),
        paddings: tuple[int, int, int] = (2, 1, 1),
        kernel_ratio: float = 0.5,
        attention_chunk_size: int | None = None,
        patch_size: int = 16,
        block_type: str = "transformer",
        growth_rate: int = 64,
        dense_blocks: tuple[int, ...] = (3, 6, 6, 4),
        qkv_bias: bool = False,
        qk_scale: float | None = None,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        drop_path_rate: float = 0.0,
        seed: int | None = None,
        dtype=None,
        **kwargs,
    ):
        unknown = sorted(set(kwargs) - {"name", "trainable"})
        if unknown:
            raise TypeError(
                f"T2TViTBackbone got unexpected keyword arguments {unknown}. Its arguments are "
                f"{[*inspect.signature(T2TViTBackbone.__init__).parameters][1:-1]}, name and trainable."
            )
        if tokens_type not in (*TOKENS_TYPES, "patch"):
            raise ValueError(f"tokens_type must be one of {(*TOKENS_TYPES, 'patch')}; got {tokens_type!r}.")
        if block_type not in BLOCK_TYPES:
            raise ValueError(f"block_type must be one of {tuple(BLOCK_TYPES)}; got {block_type!r}.")
        if block_type == "dense" and sum(dense_blocks) != depth:
            raise ValueError(
                f"block_type='dense' stacks sum(dense_blocks) = {sum(dense_blocks)} blocks "
                f"({tuple(dense_blocks)}), but depth is {depth}. Pass depth={sum(dense_blocks)}."
            )

        # === Layers ===
        if tokens_type == "patch":
            self.patch_embed = PatchEmbedding(embed_dim, patch_size, name="patch_embed", dtype=dtype)
            tokenizer = self.patch_embed
        else:
            self.tokens_to_token = T2TModule(
                embed_dim,
                tokens_type=tokens_type,
                kernel_sizes=kernel_sizes,
                strides=strides,
                paddings=paddings,
                token_dim=token_dim,
                kernel_ratio=kernel_ratio,
                attention_chunk_size=attention_chunk_size,
                seed=seed,
                name="tokens_to_token",
                dtype=dtype,
            )
            tokenizer = self.tokens_to_token
        self.class_token = ClassToken(name="class_token", dtype=dtype)
        self.position_embedding = SinusoidalPositionEmbedding(name="position_embedding", dtype=dtype)
        self.position_dropout = FusedDropout(dropout, name="position_dropout", dtype=dtype)
        if block_type == "dense":
            layout = _dense_layout(dense_blocks, embed_dim, growth_rate)
            block_kwargs = {"growth_rate": growth_rate}
        else:
            layout, block_kwargs = [None] * depth, {}
        block_class = BLOCK_TYPES[block_type]
        drop_path_rates = iter(np.linspace(0.0, drop_path_rate, depth).tolist())
        self.transformer_blocks = [
            Transition(width, name=f"block_{i}", dtype=dtype)
            if width is not None
            else block_class(
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                dropout=dropout,
                attention_dropout=attention_dropout,
                drop_path=next(drop_path_rates),
                name=f"block_{i}",
                dtype=dtype,
                **block_kwargs,
            )
            for i, width in enumerate(layout)
        ]
        self.norm = layer_norm("norm", dtype=dtype, keras_layer=True)

        # === Functional Model ===
        images = keras.Input(shape=tuple(image_shape), name="images")
        x = tokenizer(images)
        x = self.class_token(x)
        x = self.position_embedding(x)
        x = self.position_dropout(x)
        for block in self.transformer_blocks:
            x = block(x)
        sequence = self.norm(x)
        pooled = sequence[:, 0]
        super().__init__(
            inputs=images,
            outputs={"sequence_output": sequence, "pooled_output": pooled},
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.embed_dim = embed_dim
        self.depth = depth
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.tokens_type = tokens_type
        self.image_shape = tuple(image_shape)
        self.token_dim = token_dim
        self.kernel_sizes = tuple(kernel_sizes)
        self.strides = tuple(strides)
        self.paddings = tuple(paddings)
        self.kernel_ratio = kernel_ratio
        self.attention_chunk_size = attention_chunk_size
        self.patch_size = patch_size
        self.block_type = block_type
        self.growth_rate = growth_rate
        self.dense_blocks = tuple(dense_blocks)
        self.qkv_bias = qkv_bias
        self.qk_scale = qk_scale
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.drop_path_rate = drop_path_rate
        self.seed = seed

    def default_lora_layer_names(self) -> list[str]:
        """The projections `enable_lora(rank)` adapts: attention (the fused q, k, v projection
        included: "qkv", and the performers' "kqv") and its output ("proj"), and the MLPs ("fc1",
        "fc2"), in the blocks and in the T2T module's layers."""
        return ["qkv", "kqv", "proj", "fc1", "fc2"]

    def enable_lora(self, rank: int, target_layer_names: list[str] | None = None) -> None:
        """keras-hub's LoRA, with the adapted layers' biases frozen too: only the low-rank factors
        train (Keras' `Dense.enable_lora` freezes the kernel alone)."""
        super().enable_lora(rank, target_layer_names)
        for layer in self._flatten_layers(include_self=False):
            if getattr(layer, "lora_enabled", False) and getattr(layer, "bias", None) is not None:
                layer.bias.trainable = False

    @property
    def token_grid(self) -> tuple[int, int]:
        """(rows, cols) of the patch tokens that follow the class token."""
        if self.tokens_type == "patch":
            return self.patch_embed.token_grid(*self.image_shape[:2])
        return self.tokens_to_token.token_grids(*self.image_shape[:2])[-1]

    def get_config(self):
        # keras-hub's: name, trainable, and the dtype policy, which after `quantize` maps each
        # quantized layer's path to its policy.
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "depth": self.depth,
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "tokens_type": self.tokens_type,
            "image_shape": self.image_shape,
            "token_dim": self.token_dim,
            "kernel_sizes": self.kernel_sizes,
            "strides": self.strides,
            "paddings": self.paddings,
            "kernel_ratio": self.kernel_ratio,
            "attention_chunk_size": self.attention_chunk_size,
            "patch_size": self.patch_size,
            "block_type": self.block_type,
            "growth_rate": self.growth_rate,
            "dense_blocks": self.dense_blocks,
            "qkv_bias": self.qkv_bias,
            "qk_scale": self.qk_scale,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "drop_path_rate": self.drop_path_rate,
            "seed": self.seed,
        }


def _dense_layout(dense_blocks: tuple[int, ...], embed_dim: int, growth_rate: int) -> list[int | None]:
    """The layers of a dense stack in order: None for a dense block, the output width for a transition.

    Each group of `dense_blocks` adds `growth_rate` channels per block; a transition halves the width
    between groups, e.g. (2, 1) from 128 with growth 64 -> [None, None, 128, None].
    """
    layout, width = [], embed_dim
    for group, size in enumerate(dense_blocks):
        layout += [None] * size
        width += size * growth_rate
        if group < len(dense_blocks) - 1:
            width //= 2
            layout.append(width)
    return layout
