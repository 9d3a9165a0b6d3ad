import keras
import numpy as np

from keras_t2t.layers import ClassToken, SinusoidalPositionEmbedding, T2TModule, TransformerBlock
from keras_t2t.layers.utils import layer_norm


@keras.saving.register_keras_serializable(package="keras_t2t")
class T2TViTBackbone(keras.Model):
    """The T2T-ViT feature extractor: T2T module, class token, position embedding, Transformer blocks.

        images -> T2TModule -> prepend class token -> + sinusoid position table -> Dropout
        -> depth x TransformerBlock -> LayerNorm

    A functional model whose outputs are a dict:
    - "sequence_output": `(batch, 1 + tokens, embed_dim)`, the class token first, then one token per
      cell of the `height / 16` x `width / 16` grid in row-major order (for attention maps, dense tasks);
    - "pooled_output": `(batch, embed_dim)`, the class token's features (what the classifier reads).

    Args:
        embed_dim: token width of the Transformer blocks.
        depth: number of Transformer blocks.
        num_heads: attention heads of each block.
        mlp_ratio: MLP hidden width as a multiple of `embed_dim`.
        tokens_type: T2T layer, "performer", "transformer" or "convolution".
        image_shape: `(height, width, channels)` of the input images (normalised already; the
            classifier builders add ImageNet normalisation in front).
        token_dim, kernel_sizes, strides, paddings, kernel_ratio: passed to `T2TModule`.
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
        qkv_bias: bool = False,
        qk_scale: float | None = None,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        drop_path_rate: float = 0.0,
        seed: int | None = None,
        dtype=None,
        **kwargs,
    ):
        # === Layers ===
        self.tokens_to_token = T2TModule(
            embed_dim,
            tokens_type=tokens_type,
            kernel_sizes=kernel_sizes,
            strides=strides,
            paddings=paddings,
            token_dim=token_dim,
            kernel_ratio=kernel_ratio,
            seed=seed,
            name="tokens_to_token",
            dtype=dtype,
        )
        self.class_token = ClassToken(name="class_token", dtype=dtype)
        self.position_embedding = SinusoidalPositionEmbedding(name="position_embedding", dtype=dtype)
        self.position_dropout = keras.layers.Dropout(dropout, name="position_dropout", dtype=dtype)
        drop_path_rates = np.linspace(0.0, drop_path_rate, depth).tolist()
        self.transformer_blocks = [
            TransformerBlock(
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                dropout=dropout,
                attention_dropout=attention_dropout,
                drop_path=rate,
                name=f"block_{i}",
                dtype=dtype,
            )
            for i, rate in enumerate(drop_path_rates)
        ]
        self.norm = layer_norm("norm", dtype=dtype)

        # === Functional Model ===
        images = keras.Input(shape=tuple(image_shape), name="images")
        x = self.tokens_to_token(images)
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
        self.qkv_bias = qkv_bias
        self.qk_scale = qk_scale
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.drop_path_rate = drop_path_rate
        self.seed = seed

    @property
    def token_grid(self) -> tuple[int, int]:
        """(rows, cols) of the patch tokens that follow the class token."""
        return self.tokens_to_token.token_grids(*self.image_shape[:2])[-1]

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
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
            "qkv_bias": self.qkv_bias,
            "qk_scale": self.qk_scale,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "drop_path_rate": self.drop_path_rate,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)
