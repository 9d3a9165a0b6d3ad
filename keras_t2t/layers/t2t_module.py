import math

import keras
from keras import ops

from keras_t2t.layers.soft_split import SoftSplit, soft_split_output_size
from keras_t2t.layers.token_performer import TokenPerformer
from keras_t2t.layers.token_transformer import TokenTransformer
from keras_t2t.layers.utils import dense

TOKENS_TYPES = ("performer", "transformer", "convolution")


@keras.saving.register_keras_serializable(package="keras_t2t")
class T2TModule(keras.layers.Layer):
    """Tokens-to-Token module: turns an image into a short sequence of tokens.

    Three soft splits of overlapping patches, with a T2T layer and a re-structurization (tokens back
    to an image grid) between them, then a Dense projection to `embed_dim`:

        SoftSplit -> T2T layer -> reshape to grid -> SoftSplit -> T2T layer -> reshape to grid
        -> SoftSplit -> Dense(embed_dim)

    With `tokens_type="convolution"` (the paper's comparison, not a T2T-ViT) the three steps are plain
    strided convolutions with the same kernels, strides and paddings.

    Args:
        embed_dim: width of the output tokens.
        tokens_type: "performer" (`TokenPerformer`), "transformer" (`TokenTransformer`) or
            "convolution".
        kernel_sizes, strides, paddings: the three soft splits. The defaults (7, 3, 3), (4, 2, 2),
            (2, 1, 1) divide each side of the image by 16; smaller strides suit small images.
        token_dim: width of the tokens between the soft splits.
        kernel_ratio: random features of the performer layers, as a fraction of `token_dim`.
        performer_dropout: dropout of the performer layers (0.1 in the paper).
        attention_chunk_size: with transformer T2T layers, attend in chunks of this many queries
            and recompute the probabilities in the backward pass (see `MultiHeadSelfAttention`).
        seed: seed of the performers' fixed random matrices.

    Input shape: `(batch, height, width, channels)` with static `height` and `width` for which every
    soft split tiles the grid exactly: multiples of `prod(strides)` (16 by default).
    Output shape: `(batch, height * width / prod(strides) ** 2, embed_dim)`. With
    `return_token_maps=True` also the tokens after each of the three stages as images (the paper's
    Fig. 2 view): `(batch, rows_i, cols_i, channels_i)` on the grid of soft split i (`token_grids`),
    `token_dim` channels for the first two, `embed_dim` for the last (the output tokens).
    """

    def __init__(
        self,
        embed_dim: int,
        tokens_type: str = "performer",
        kernel_sizes: tuple[int, int, int] = (7, 3, 3),
        strides: tuple[int, int, int] = (4, 2, 2),
        paddings: tuple[int, int, int] = (2, 1, 1),
        token_dim: int = 64,
        kernel_ratio: float = 0.5,
        performer_dropout: float = 0.1,
        attention_chunk_size: int | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if tokens_type not in TOKENS_TYPES:
            raise ValueError(f"tokens_type must be one of {TOKENS_TYPES}; got {tokens_type!r}.")
        if not len(kernel_sizes) == len(strides) == len(paddings) == 3:
            raise ValueError(
                "T2TModule takes three soft splits: kernel_sizes, strides and paddings of length 3; "
                f"got {kernel_sizes}, {strides}, {paddings}."
            )
        if attention_chunk_size is not None and tokens_type != "transformer":
            raise ValueError(
                f"attention_chunk_size applies to transformer T2T layers (tokens_type='transformer', "
                f"the t2t_vit_t_* models); tokens_type={tokens_type!r} has no softmax attention to "
                "chunk. Leave attention_chunk_size unset."
            )
        self.embed_dim = embed_dim
        self.tokens_type = tokens_type
        self.kernel_sizes = tuple(kernel_sizes)
        self.strides = tuple(strides)
        self.paddings = tuple(paddings)
        self.token_dim = token_dim
        self.kernel_ratio = kernel_ratio
        self.performer_dropout = performer_dropout
        self.attention_chunk_size = attention_chunk_size
        self.seed = seed
        dtype = self.dtype_policy
        splits = list(zip(self.kernel_sizes, self.strides, self.paddings, strict=True))
        if tokens_type == "convolution":
            self.conv0, self.conv1, self.project = (
                keras.layers.Conv2D(width, k, strides=s, name=name, dtype=dtype)
                for width, (k, s, _), name in zip(
                    (token_dim, token_dim, embed_dim), splits, ("conv0", "conv1", "project"), strict=True
                )
            )
            return
        self.soft_split0, self.soft_split1, self.soft_split2 = (
            SoftSplit(k, s, p, name=f"soft_split{i}", dtype=dtype) for i, (k, s, p) in enumerate(splits)
        )
        if tokens_type == "performer":
            self.attention1, self.attention2 = (
                TokenPerformer(
                    token_dim,
                    kernel_ratio=kernel_ratio,
                    dropout=performer_dropout,
                    seed=None if seed is None else seed + i,
                    name=f"attention{i}",
                    dtype=dtype,
                )
                for i in (1, 2)
            )
        else:
            self.attention1, self.attention2 = (
                TokenTransformer(
                    token_dim, query_chunk_size=attention_chunk_size, name=f"attention{i}", dtype=dtype
                )
                for i in (1, 2)
            )
        self.project = dense(embed_dim, name="project", dtype=dtype)

    @property
    def total_stride(self) -> int:
        return math.prod(self.strides)

    def token_grids(self, height: int, width: int) -> list[tuple[int, int]]:
        """The (rows, cols) grid after each soft split, for an image of `height` x `width`.

        Raises:
            ValueError: if a soft split does not tile its input exactly.
        """
        grids, size = [], (height, width)
        for k, s, p in zip(self.kernel_sizes, self.strides, self.paddings, strict=True):
            size = tuple(soft_split_output_size(side, k, s, p) for side in size)
            grids.append(size)
        if (
            height % self.total_stride
            or width % self.total_stride
            or grids[-1]
            != (
                height // self.total_stride,
                width // self.total_stride,
            )
        ):
            raise ValueError(
                f"T2T-ViT with soft splits of kernel sizes {self.kernel_sizes}, strides "
                f"{self.strides} and paddings {self.paddings} takes images whose height and width are "
                f"multiples of {self.total_stride} (e.g. 224 or 384 with the defaults); got "
                f"{height}x{width}. Resize or crop the images, or pass input_shape with such sizes."
            )
        return grids

    def build(self, input_shape):
        _, height, width, channels = input_shape
        if height is None or width is None or channels is None:
            raise ValueError(
                "T2TModule needs static image height, width and channels (the number of tokens fixes "
                f"the position embedding); got input shape {input_shape}."
            )
        grids = self.token_grids(height, width)
        batch = input_shape[0]
        if self.tokens_type == "convolution":
            # Each convolution sees its input zero-padded, as in `call`.
            p0, p1, p2 = self.paddings
            self.conv0.build((batch, height + 2 * p0, width + 2 * p0, channels))
            self.conv1.build((batch, grids[0][0] + 2 * p1, grids[0][1] + 2 * p1, self.token_dim))
            self.project.build((batch, grids[1][0] + 2 * p2, grids[1][1] + 2 * p2, self.token_dim))
            return
        k0, k1, k2 = self.kernel_sizes
        tokens = (batch, None)
        self.attention1.build((*tokens, k0 * k0 * channels))
        self.attention2.build((*tokens, k1 * k1 * self.token_dim))
        self.project.build((*tokens, k2 * k2 * self.token_dim))

    def _pad(self, images, padding: int):
        return ops.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))

    def call(self, images, training=None, return_token_maps=False):
        grids = self.token_grids(images.shape[1], images.shape[2])
        if self.tokens_type == "convolution":
            map0 = self.conv0(self._pad(images, self.paddings[0]))
            map1 = self.conv1(self._pad(map0, self.paddings[1]))
            map2 = self.project(self._pad(map1, self.paddings[2]))
            tokens = ops.reshape(map2, (-1, grids[2][0] * grids[2][1], self.embed_dim))
        else:
            map0 = self._to_grid(self.attention1(self.soft_split0(images), training=training), grids[0])
            map1 = self._to_grid(self.attention2(self.soft_split1(map0), training=training), grids[1])
            tokens = self.project(self.soft_split2(map1))
            if not return_token_maps:
                # No unused reshape in the graph: OpenVINO's converter makes it a second output.
                return tokens
            map2 = self._to_grid(tokens, grids[2])
        return (tokens, [map0, map1, map2]) if return_token_maps else tokens

    def _to_grid(self, tokens, grid: tuple[int, int]):
        """Re-structurization: `(batch, rows * cols, dim)` tokens to a `(batch, rows, cols, dim)` image."""
        return ops.reshape(tokens, (-1, *grid, tokens.shape[-1]))

    def compute_output_shape(self, input_shape):
        rows, cols = self.token_grids(input_shape[1], input_shape[2])[-1]
        return (input_shape[0], rows * cols, self.embed_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            embed_dim=self.embed_dim,
            tokens_type=self.tokens_type,
            kernel_sizes=self.kernel_sizes,
            strides=self.strides,
            paddings=self.paddings,
            token_dim=self.token_dim,
            kernel_ratio=self.kernel_ratio,
            performer_dropout=self.performer_dropout,
            attention_chunk_size=self.attention_chunk_size,
            seed=self.seed,
        )
        return config
