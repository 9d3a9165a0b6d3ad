"""A small PyTorch T2T-ViT written from the reference facts, for conversion tests only.

Module names reproduce the official state-dict keys (`tokens_to_token.attention1.kqv.weight`,
`blocks.0.attn.qkv.weight`, ...) so `state_dict()` has the layout of an official checkpoint.
Inference only: dropout and stochastic depth are identity at evaluation and are left out.
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


class TokenPerformer(nn.Module):
    """Single-head performer T2T layer: (B, N, dim) -> (B, N, emb)."""

    def __init__(self, dim: int, emb: int, kernel_ratio: float = 0.5):
        super().__init__()
        self.emb = emb
        self.norm1 = nn.LayerNorm(dim)
        self.kqv = nn.Linear(dim, 3 * emb)
        self.proj = nn.Linear(emb, emb)
        self.norm2 = nn.LayerNorm(emb)
        self.mlp = nn.Sequential(nn.Linear(emb, emb), nn.GELU(), nn.Linear(emb, emb))
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
        return v + self.proj(y)

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


class Attention(nn.Module):
    """Multi-head self-attention without qkv bias: (B, N, dim) -> (B, N, out_dim).

    With `residual_v` (the T2T transformer layer, where dim != out_dim) the values are added to
    the projected output.
    """

    def __init__(self, dim, out_dim, num_heads, scale, residual_v=False):
        super().__init__()
        self.num_heads = num_heads
        self.scale = scale
        self.residual_v = residual_v
        self.qkv = nn.Linear(dim, 3 * out_dim, bias=False)
        self.proj = nn.Linear(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        weights = torch.softmax((q * self.scale) @ k.transpose(-2, -1), dim=-1)
        y = self.proj((weights @ v).transpose(1, 2).reshape(batch, length, -1))
        if self.residual_v:
            return v.squeeze(1) + y
        return y


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


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, scale):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, dim, num_heads, scale)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class T2TViT(nn.Module):
    """(B, 3, H, W) normalised images -> (B, num_classes) logits.

    `qk_scale=None` is the usual head_dim ** -0.5; official checkpoints used embed_dim ** -0.5.
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
    ):
        super().__init__()
        self.tokens_to_token = T2TModule(tokens_type, embed_dim, token_dim)
        num_tokens = (image_size[0] // 16) * (image_size[1] // 16)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(sinusoid_table(num_tokens + 1, embed_dim), False)
        scale = qk_scale if qk_scale is not None else (embed_dim // num_heads) ** -0.5
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio, scale) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> the class token's features (B, embed_dim), what the head reads."""
        x = self.tokens_to_token(image)
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
            elif param.ndim == 2:
                # Gain 0.5 keeps the performer's exp features well above its 1e-8 epsilon.
                param.copy_(0.5 * noise / math.sqrt(param.shape[1]))
            else:
                param.copy_(0.1 * noise)
    return model
