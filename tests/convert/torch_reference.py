"""A small PyTorch T2T-ViT written from the reference facts, for conversion tests only.

Module names reproduce the official state-dict keys (`tokens_to_token.attention1.kqv.weight`,
`blocks.0.attn.qkv.weight`, ...) so `state_dict()` has the layout of an official checkpoint; so do
the architecture study's ViT (`patch_embed.proj`), SE (`attn.se_layer.fc.0`), Ghost (`attn.q`,
`attn.cheap_operation_q`, `mlp.cheap_operation2`) and dense (`dense_linear`, transitions' `linear`)
models.
Training as the official code trains: the performer T2T layers' fixed dropout of 0.1 and stochastic
depth over the blocks (`drop_path_rate`, 0 by default as in the official builders). Both are the
identity in `eval()`, where the parity tests compare.
"""

import math

import numpy as np
import torch
from torch import nn


def sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """The standard sin/cos table, (1, num_positions, dim): sin on even channels, cos on odd."""
    positions = np.arange(num_positions)[:, None]
    rates = np.power(10000.0, 2 * (np.arange(dim) // 2) / dim)
    angles = positions / rates
    table = np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))
    return torch.tensor(table[None], dtype=torch.float32)


class DropPath(nn.Module):
    """Stochastic depth: in training, each sample's branch is zeroed with probability `rate` and
    kept ones are scaled by 1 / (1 - rate)."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)


class TokenPerformer(nn.Module):
    """Single-head performer T2T layer: (B, N, dim) -> (B, N, emb)."""

    def __init__(self, dim: int, emb: int, kernel_ratio: float = 0.5, dropout: float = 0.1):
        super().__init__()
        self.emb = emb
        self.norm1 = nn.LayerNorm(dim)
        self.kqv = nn.Linear(dim, 3 * emb)
        self.proj = nn.Linear(emb, emb)
        self.attention_dropout = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(emb)
        # The dropout after the last Linear adds no parameters: the keys stay mlp.0 and mlp.2.
        self.mlp = nn.Sequential(nn.Linear(emb, emb), nn.GELU(), nn.Linear(emb, emb), nn.Dropout(dropout))
        self.m = int(emb * kernel_ratio)
        w = nn.init.orthogonal_(torch.empty(self.m, emb)) * math.sqrt(self.m)
        self.w = nn.Parameter(w, requires_grad=False)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        half_sq_norm = (x * x).sum(dim=-1, keepdim=True) / 2
        return torch.exp(x @ self.w.T - half_sq_norm) / math.sqrt(self.m)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        k, q, v = torch.split(self.kqv(x), self.emb, dim=-1)
        kp, qp = self.feature_map(k), self.feature_map(q)
        normaliser = (qp @ kp.sum(dim=1).unsqueeze(-1)) + 1e-8  # (B, N, 1)
        kptv = v.transpose(1, 2) @ kp  # (B, emb, m)
        y = (qp @ kptv.transpose(1, 2)) / normaliser
        return v + self.attention_dropout(self.proj(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(nn.functional.gelu(self.fc1(x)))


def depthwise_scale(channels: int) -> nn.Conv1d:
    """A Ghost 'cheap operation': one weight per channel, a grouped 1x1 Conv1d without bias."""
    return nn.Conv1d(channels, channels, kernel_size=1, groups=channels, bias=False)


def apply_on_tokens(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """Runs a channels-first Conv1d on (B, N, C) tokens."""
    return conv(x.transpose(1, 2)).transpose(1, 2)


class GhostMlp(nn.Module):
    """fc1 keeps the width; cheap_operation2 ... widen its GELU output (ratio - 1) times for fc2."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.cheap_names = [f"cheap_operation{i}" for i in range(2, hidden // dim + 1)]
        for name in self.cheap_names:
            self.add_module(name, depthwise_scale(dim))
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.gelu(self.fc1(x))
        ghosts = [nn.functional.gelu(apply_on_tokens(getattr(self, name), x)) for name in self.cheap_names]
        return self.fc2(torch.cat([x, *ghosts], dim=-1))


def multi_head_attention(q, k, v, num_heads: int, scale: float) -> torch.Tensor:
    """Softmax attention of (B, N, C) queries, keys and values, split into heads: -> (B, N, C)."""
    batch, length, width = q.shape

    def heads(t):
        return t.reshape(batch, length, num_heads, -1).transpose(1, 2)

    weights = torch.softmax((heads(q) * scale) @ heads(k).transpose(-2, -1), dim=-1)
    return (weights @ heads(v)).transpose(1, 2).reshape(batch, length, width)


class SqueezeExcitation(nn.Module):
    """x * sigmoid(fc(mean over tokens of x)), fc = Linear, ReLU, Linear, Sigmoid without biases."""

    def __init__(self, dim: int, reduction: int = 16):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(dim, dim // reduction, bias=False),
            nn.ReLU(),
            nn.Linear(dim // reduction, dim, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=1)).unsqueeze(1)


class Attention(nn.Module):
    """Multi-head self-attention without qkv bias: (B, N, dim) -> (B, N, out_dim).

    With `residual_v` (the T2T transformer layer, where dim != out_dim) the values are added to
    the projected output; with `squeeze_excitation` (T2T-ViT-SE) the projected output is gated.
    """

    def __init__(self, dim, out_dim, num_heads, scale, residual_v=False, squeeze_excitation=False):
        super().__init__()
        self.num_heads = num_heads
        self.scale = scale
        self.residual_v = residual_v
        self.qkv = nn.Linear(dim, 3 * out_dim, bias=False)
        self.proj = nn.Linear(out_dim, out_dim)
        self.se_layer = SqueezeExcitation(out_dim) if squeeze_excitation else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        y = self.proj(multi_head_attention(q, k, v, self.num_heads, self.scale))
        if self.se_layer is not None:
            y = self.se_layer(y)
        return v + y if self.residual_v else y


class GhostAttention(nn.Module):
    """q, k, v each: a half-width Linear, completed by a per-channel scale of that half."""

    def __init__(self, dim, num_heads, scale):
        super().__init__()
        self.num_heads = num_heads
        self.scale = scale
        for name in ("q", "k", "v"):
            self.add_module(name, nn.Linear(dim, dim // 2, bias=False))
            self.add_module(f"cheap_operation_{name}", depthwise_scale(dim // 2))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def ghost(name):
            half = getattr(self, name)(x)
            return torch.cat([half, apply_on_tokens(getattr(self, f"cheap_operation_{name}"), half)], dim=-1)

        return self.proj(multi_head_attention(ghost("q"), ghost("k"), ghost("v"), self.num_heads, self.scale))


class TokenTransformer(nn.Module):
    """Single-head transformer T2T layer: (B, N, dim) -> (B, N, emb)."""

    def __init__(self, dim: int, emb: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, emb, 1, dim**-0.5, residual_v=True)
        self.norm2 = nn.LayerNorm(emb)
        self.mlp = Mlp(emb, emb)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class T2TModule(nn.Module):
    """Soft split (unfold) -> T2T layer -> re-structurize, twice, then a last split and project."""

    def __init__(self, tokens_type, embed_dim, token_dim=64, in_chans=3):
        super().__init__()
        self.soft_split0 = nn.Unfold(kernel_size=7, stride=4, padding=2)
        self.soft_split1 = nn.Unfold(kernel_size=3, stride=2, padding=1)
        self.soft_split2 = nn.Unfold(kernel_size=3, stride=2, padding=1)
        layer = TokenPerformer if tokens_type == "performer" else TokenTransformer
        self.attention1 = layer(in_chans * 7 * 7, token_dim)
        self.attention2 = layer(token_dim * 3 * 3, token_dim)
        self.project = nn.Linear(token_dim * 3 * 3, embed_dim)

    @staticmethod
    def restructurize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], height, width)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[2] // 4, image.shape[3] // 4
        x = self.attention1(self.soft_split0(image).transpose(1, 2))
        x = self.soft_split1(self.restructurize(x, height, width)).transpose(1, 2)
        x = self.attention2(x)
        x = self.restructurize(x, height // 2, width // 2)
        return self.project(self.soft_split2(x).transpose(1, 2))


class PatchEmbed(nn.Module):
    """ViT's hard split: a Conv2d with kernel and stride `patch_size`, then the grid as tokens."""

    def __init__(self, embed_dim: int, patch_size: int, in_chans: int = 3):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.proj(image).flatten(2).transpose(1, 2)


class Block(nn.Module):
    """A pre-norm block: plain, with an SE-gated attention ("se"), or with Ghost projections
    ("ghost"); a "dense" block appends `dense_linear` of its output to its input."""

    def __init__(
        self, dim, num_heads, mlp_ratio, qk_scale, block_type="transformer", growth_rate=64, drop_path=0.0
    ):
        super().__init__()
        scale = qk_scale if qk_scale is not None else (dim // num_heads) ** -0.5
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        if block_type == "ghost":
            self.attn = GhostAttention(dim, num_heads, scale)
            self.mlp = GhostMlp(dim, hidden)
        else:
            self.attn = Attention(dim, dim, num_heads, scale, squeeze_excitation=block_type == "se")
            self.mlp = Mlp(dim, hidden)
        self.norm2 = nn.LayerNorm(dim)
        self.dense_linear = nn.Linear(dim, growth_rate) if block_type == "dense" else None
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + self.drop_path(self.attn(self.norm1(x)))
        y = y + self.drop_path(self.mlp(self.norm2(y)))
        return y if self.dense_linear is None else torch.cat([x, self.dense_linear(y)], dim=-1)


class Transition(nn.Module):
    """Between two groups of dense blocks: GELU(Linear) to half the width."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(dim, dim // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(self.linear(x))


def make_blocks(
    embed_dim, depth, num_heads, mlp_ratio, qk_scale, block_type, growth_rate, dense_blocks, drop_path_rate
):
    """The `blocks` sequence and its output width. Dense groups add `growth_rate` channels per block,
    with a `Transition` between groups, all numbered in one sequence (`depth` = sum(dense_blocks)).
    Stochastic depth rises linearly from 0 at the first block to `drop_path_rate` at the last."""
    drop_paths = iter(np.linspace(0.0, drop_path_rate, depth).tolist())
    if block_type != "dense":
        blocks = [
            Block(embed_dim, num_heads, mlp_ratio, qk_scale, block_type, drop_path=next(drop_paths))
            for _ in range(depth)
        ]
        return blocks, embed_dim
    blocks, width = [], embed_dim
    for group, size in enumerate(dense_blocks):
        for _ in range(size):
            blocks.append(
                Block(width, num_heads, mlp_ratio, qk_scale, "dense", growth_rate, next(drop_paths))
            )
            width += growth_rate
        if group < len(dense_blocks) - 1:
            blocks.append(Transition(width))
            width //= 2
    return blocks, width


class T2TViT(nn.Module):
    """(B, 3, H, W) normalised images -> (B, num_classes) logits.

    A T2T-ViT (`tokens_type` "performer" or "transformer"), or with "patch" the official ViT
    (`patch_embed`, a learned position table); `block_type` "se", "ghost" or "dense" gives the
    architecture study's blocks. `qk_scale=None` is the usual head_dim ** -0.5 of each block;
    `drop_path_rate` is the stochastic depth of the last block in training.
    """

    def __init__(
        self,
        embed_dim,
        depth,
        num_heads,
        mlp_ratio,
        tokens_type="performer",
        image_size=(224, 224),
        num_classes=1000,
        qk_scale=None,
        token_dim=64,
        patch_size=16,
        block_type="transformer",
        growth_rate=64,
        dense_blocks=(3, 6, 6, 4),
        drop_path_rate=0.0,
    ):
        super().__init__()
        if tokens_type == "patch":
            self.patch_embed = PatchEmbed(embed_dim, patch_size)
            grid = (image_size[0] // patch_size, image_size[1] // patch_size)
        else:
            self.tokens_to_token = T2TModule(tokens_type, embed_dim, token_dim)
            grid = (image_size[0] // 16, image_size[1] // 16)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        table = sinusoid_table(grid[0] * grid[1] + 1, embed_dim)
        self.pos_embed = nn.Parameter(table, requires_grad=tokens_type == "patch")
        blocks, width = make_blocks(
            embed_dim,
            depth,
            num_heads,
            mlp_ratio,
            qk_scale,
            block_type,
            growth_rate,
            dense_blocks,
            drop_path_rate,
        )
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> the class token's features (B, width), what the head reads."""
        tokenizer = self.patch_embed if hasattr(self, "patch_embed") else self.tokens_to_token
        x = tokenizer(image)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(image))


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """The official transfer recipe: bicubic resize of the square token grid, class token kept.

    (1, 1 + n * n, dim) -> (1, 1 + rows * cols, dim).
    """
    side = math.isqrt(pos_embed.shape[1] - 1)
    patches = pos_embed[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    patches = nn.functional.interpolate(patches, size=grid, mode="bicubic", align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], -1)
    return torch.cat([pos_embed[:, :1], patches], dim=1)


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fills every parameter with random values of a realistic size, so a wrong mapping shows.

    Norm scales stay near 1; the fixed random matrices `w` keep their orthogonal draw; the
    position embedding becomes the sinusoid table plus noise, so a converter that rebuilds the
    table instead of copying it fails the comparison.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith(".w"):
                continue
            if name == "pos_embed":
                param.add_(0.1 * noise)
            elif param.ndim == 1 and "norm" in name and name.endswith("weight"):
                param.copy_(1.0 + 0.1 * noise)
            elif name.endswith("weight"):
                # Linear and convolution weights, by fan-in. Gain 0.5 keeps the performer's exp
                # features well above its 1e-8 epsilon.
                param.copy_(0.5 * noise / math.sqrt(param[0].numel()))
            else:
                param.copy_(0.1 * noise)
    return model
