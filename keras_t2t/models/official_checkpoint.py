"""Official PyTorch T2T-ViT checkpoints -> the weights of keras_t2t models.

The official release (github.com/yitu-opensource/T2T-ViT) publishes `*.pth.tar` files: a plain
state dict, or a training checkpoint holding `state_dict` and/or `state_dict_ema`, keys possibly
prefixed `module.`. One key mapping serves every model of the release and of the paper's
architecture study: the T2T-ViTs, the ViT baselines (`patch_embed`), and the SE, Ghost and dense
blocks (keras_t2t/models/vit.py, se.py, ghost.py and dense.py list their keys). torch is
needed only to read the files and is imported by `read_checkpoint` alone, so the rest of keras_t2t
never depends on it (`pip install "keras_t2t[convert]"`). Writing converted files and presets is
`keras_t2t.convert`.
"""

import argparse
import dataclasses
import math
import os
from collections.abc import Callable, Mapping

import keras
import numpy as np

from keras_t2t.layers import (
    DenseTransformerBlock,
    GhostAttention,
    GhostMlp,
    MultiHeadSelfAttention,
    SqueezeExcitationAttention,
    TokenPerformer,
    Transition,
)
from keras_t2t.models.backbone import T2TViTBackbone
from keras_t2t.models.image_classifier import T2TViTImageClassifier, find_backbone
from keras_t2t.models.variants import VARIANTS


def read_checkpoint(path: str | os.PathLike, use_ema: bool = True) -> dict[str, np.ndarray]:
    """Reads an official checkpoint into a flat state dict of float32 arrays.

    Args:
        path: a `.pth` / `.pth.tar` file saved by `torch.save`.
        use_ema: for a training checkpoint holding both `state_dict_ema` and `state_dict`, read the
            EMA weights (the ones the paper evaluates) when True, the raw weights when False. A
            checkpoint with only one of them is read as it is when `use_ema` is True; asking for the
            raw weights of an EMA-only checkpoint is an error.

    Returns:
        `{official key: array}` with any `module.` prefix removed, e.g.
        `{"blocks.0.attn.qkv.weight": (1152, 384) array, ...}`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ImportError: torch is not installed.
        ValueError: the file is not a readable PyTorch checkpoint, or holds no state dict.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint file not found: '{path}'.")
    try:
        import torch
    except ImportError as err:
        raise ImportError(
            'Reading PyTorch checkpoints needs torch: `pip install "keras_t2t[convert]"`.'
        ) from err
    try:
        # Training checkpoints of the official (timm-based) script also store the argparse
        # namespace of the run under "args"; allow that one class and nothing else executable.
        with torch.serialization.safe_globals([argparse.Namespace]):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"Could not read '{path}' as a PyTorch checkpoint ({type(err).__name__}: {err}). "
            "The file may be truncated or corrupt, or not a torch.save file: download it again."
        ) from err
    state_dict = _select_state_dict(checkpoint, path, use_ema)
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"'{path}': state dict entry '{key}' is a {type(value).__name__}, not a tensor.")
        arrays[key.removeprefix("module.")] = value.detach().float().numpy()
    return arrays


def _select_state_dict(checkpoint: object, path: str, use_ema: bool) -> dict:
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise ValueError(
            f"'{path}' holds a {type(checkpoint).__name__}, not a state dict or a training "
            "checkpoint dict with 'state_dict' / 'state_dict_ema'."
        )
    if "state_dict" not in checkpoint and "state_dict_ema" not in checkpoint:
        if any(isinstance(value, dict) for value in checkpoint.values()):
            raise ValueError(
                f"'{path}' has no 'state_dict' or 'state_dict_ema' entry and is not a plain "
                f"state dict; its top-level keys are {sorted(map(str, checkpoint))}."
            )
        return checkpoint
    if use_ema:
        return checkpoint.get("state_dict_ema", checkpoint.get("state_dict"))
    if "state_dict" not in checkpoint:
        raise ValueError(f"'{path}' holds only EMA weights ('state_dict_ema'); read them with use_ema=True.")
    return checkpoint["state_dict"]


def _cubic_interpolation_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) matrix of 1-D bicubic resampling, as torch's `mode="bicubic"`.

    Half-pixel sample positions, cubic convolution coefficient -0.75, edge samples repeated.
    """
    coefficient = -0.75
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    for row in range(out_size):
        source = (row + 0.5) * in_size / out_size - 0.5
        start = math.floor(source)
        for tap in range(-1, 3):
            distance = abs(source - (start + tap))
            if distance <= 1:
                weight = ((coefficient + 2) * distance - (coefficient + 3)) * distance**2 + 1
            else:
                weight = coefficient * (((distance - 5) * distance + 8) * distance - 4)
            matrix[row, min(max(start + tap, 0), in_size - 1)] += weight
    return matrix


def resize_position_embedding(embedding: np.ndarray, grid_size: tuple[int, int]) -> np.ndarray:
    """Resamples a position embedding to a new token grid, keeping the class-token row.

    The patch rows, a square grid in the checkpoint, are interpolated bicubically exactly like the
    official transfer-learning code (torch `F.interpolate(mode="bicubic")`). Hand-written because
    `tf.image.resize` and `keras.ops.image.resize` use the Keys coefficient -0.5, not torch's -0.75.

    Args:
        embedding: (1, 1 + n * n, dim) array: class-token row, then an n x n grid in row-major order.
        grid_size: (rows, cols) of the new token grid.

    Returns:
        (1, 1 + rows * cols, dim) float32 array.
    """
    if embedding.ndim != 3 or embedding.shape[0] != 1:
        raise ValueError(
            f"Expected a position embedding of shape (1, 1 + tokens, dim), got {embedding.shape}."
        )
    old_side = math.isqrt(embedding.shape[1] - 1)
    if old_side * old_side != embedding.shape[1] - 1:
        raise ValueError(
            f"A position embedding of {embedding.shape[1]} rows is not a class token plus a "
            "square token grid, so it cannot be resized."
        )
    rows, cols = grid_size
    grid = embedding[0, 1:].reshape(old_side, old_side, -1).astype(np.float64)
    grid = np.einsum(
        "ri,ijd,cj->rcd",
        _cubic_interpolation_matrix(old_side, rows),
        grid,
        _cubic_interpolation_matrix(old_side, cols),
    )
    resized = np.concatenate([embedding[0, :1], grid.reshape(rows * cols, -1)], axis=0)
    return resized[None].astype(np.float32)


@dataclasses.dataclass
class LoadReport:
    """What `load_torch_checkpoint` did not load, official keys throughout.

    Attributes:
        skipped: checkpoint entries left out on purpose: the classifier head, when the model has no
            head or one with another number of classes (it keeps its fresh initialisation).
        missing: model weights the checkpoint has no entry for.
        unexpected: checkpoint entries the model has no weight for.
        mismatched: entries whose shape does not fit the model, as "key: checkpoint (...) vs model (...)".

    `missing`, `unexpected` and `mismatched` are empty unless the load was not strict.
    """

    skipped: list[str] = dataclasses.field(default_factory=list)
    missing: list[str] = dataclasses.field(default_factory=list)
    unexpected: list[str] = dataclasses.field(default_factory=list)
    mismatched: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Target:
    """One checkpoint entry and the Keras weight it fills."""

    key: str
    variable: keras.Variable
    source_shape: tuple[int, ...] | None  # None: any shape `convert` accepts
    convert: Callable[[np.ndarray], np.ndarray]


def _unfold_to_patch_order(array: np.ndarray, axis: int, channels: int) -> np.ndarray:
    """Reorders the soft-split axis of `array` from nn.Unfold's to tf.image.extract_patches' order.

    nn.Unfold flattens each patch as (channel, kernel_row, kernel_col), extract_patches as
    (kernel_row, kernel_col, channel).
    """
    kernel = math.isqrt(array.shape[axis] // channels)
    array = np.moveaxis(array, axis, 0)
    rest = array.shape[1:]
    array = array.reshape(channels, kernel, kernel, *rest).transpose(1, 2, 0, *range(3, 3 + len(rest)))
    return np.moveaxis(array.reshape(-1, *rest), 0, axis)


def _identity_target(key: str, variable: keras.Variable) -> _Target:
    return _Target(key, variable, tuple(variable.shape), lambda array: array)


def _dense_targets(key: str, layer: keras.layers.Dense, patch_channels: int | None = None) -> list[_Target]:
    """torch Linear `key` (weight (out, in), bias) -> Dense kernel (in, out) and bias.

    With `patch_channels`, the input is soft-split output of that many channels per position.
    """

    def kernel(weight):
        weight = weight.T
        return weight if patch_channels is None else _unfold_to_patch_order(weight, 0, patch_channels)

    targets = [_Target(f"{key}.weight", layer.kernel, tuple(layer.kernel.shape)[::-1], kernel)]
    if layer.use_bias:
        targets.append(_identity_target(f"{key}.bias", layer.bias))
    return targets


def _norm_targets(
    key: str, layer: keras.layers.LayerNormalization, patch_channels: int | None = None
) -> list[_Target]:
    """torch LayerNorm `key` -> gamma and beta, reordered when it normalises soft-split output."""

    def vector(array):
        return array if patch_channels is None else _unfold_to_patch_order(array, 0, patch_channels)

    return [
        _Target(f"{key}.weight", layer.gamma, tuple(layer.gamma.shape), vector),
        _Target(f"{key}.bias", layer.beta, tuple(layer.beta.shape), vector),
    ]


def _depthwise_targets(key: str, layer: keras.layers.DepthwiseConv1D) -> list[_Target]:
    """torch depthwise Conv1d `key` with kernel size 1 and no bias, weight (C, 1, 1) -> kernel (1, C, 1)."""
    kernel = layer.kernel
    source_shape = (kernel.shape[1], 1, kernel.shape[0])
    return [_Target(f"{key}.weight", kernel, source_shape, lambda weight: weight.transpose(2, 0, 1))]


def _attention_targets(
    key: str, layer: MultiHeadSelfAttention, patch_channels: int | None = None
) -> list[_Target]:
    """The attention of a block or of a `TokenTransformer`, in any of the architecture study's forms."""
    if isinstance(layer, GhostAttention):
        targets = []
        for name in ("q", "k", "v"):
            targets += _dense_targets(f"{key}.{name}", getattr(layer, name))
            targets += _depthwise_targets(
                f"{key}.cheap_operation_{name}", getattr(layer, f"cheap_operation_{name}")
            )
    else:
        targets = _dense_targets(f"{key}.qkv", layer.qkv, patch_channels)
    targets += _dense_targets(f"{key}.proj", layer.proj)
    if isinstance(layer, SqueezeExcitationAttention):
        # The official gate is nn.Sequential(Linear, ReLU, Linear, Sigmoid): its Linears are fc.0 and fc.2.
        targets += _dense_targets(f"{key}.se_layer.fc.0", layer.se_layer.fc1)
        targets += _dense_targets(f"{key}.se_layer.fc.2", layer.se_layer.fc2)
    return targets


def _mlp_targets(key: str, layer) -> list[_Target]:
    """An `Mlp` or a `GhostMlp` (whose cheap operations sit between fc1 and fc2)."""
    targets = _dense_targets(f"{key}.fc1", layer.fc1)
    if isinstance(layer, GhostMlp):
        for operation in layer.cheap_operations:
            targets += _depthwise_targets(f"{key}.{operation.name}", operation)
    return targets + _dense_targets(f"{key}.fc2", layer.fc2)


def _block_targets(key: str, layer, patch_channels: int | None = None) -> list[_Target]:
    """A backbone block of any family (or a dense group's `Transition`), or a `TokenTransformer`."""
    if isinstance(layer, Transition):
        return _dense_targets(f"{key}.linear", layer.linear)
    targets = [
        *_norm_targets(f"{key}.norm1", layer.norm1, patch_channels),
        *_attention_targets(f"{key}.attn", layer.attn, patch_channels),
        *_norm_targets(f"{key}.norm2", layer.norm2),
        *_mlp_targets(f"{key}.mlp", layer.mlp),
    ]
    if isinstance(layer, DenseTransformerBlock):
        targets += _dense_targets(f"{key}.dense_linear", layer.dense_linear)
    return targets


def _t2t_layer_targets(key: str, layer, patch_channels: int) -> list[_Target]:
    if not isinstance(layer, TokenPerformer):
        return _block_targets(key, layer, patch_channels)
    return [
        *_norm_targets(f"{key}.norm1", layer.norm1, patch_channels),
        *_dense_targets(f"{key}.kqv", layer.kqv, patch_channels),
        *_dense_targets(f"{key}.proj", layer.proj),
        *_norm_targets(f"{key}.norm2", layer.norm2),
        *_dense_targets(f"{key}.mlp.0", layer.mlp.fc1),
        *_dense_targets(f"{key}.mlp.2", layer.mlp.fc2),
        _identity_target(f"{key}.w", layer.random_matrix),
    ]


def _position_embedding_target(backbone: T2TViTBackbone) -> _Target:
    """The fixed table: T2T-ViT's own sinusoid table, or the official ViT's learned one."""
    variable = backbone.position_embedding.embedding
    _, _, dim = variable.shape

    def resize(array):
        if array.ndim != 3 or array.shape[0] != 1 or array.shape[2] != dim:
            raise ValueError(f"pos_embed: checkpoint {array.shape} vs model {tuple(variable.shape)}")
        if array.shape == tuple(variable.shape):
            return array
        return resize_position_embedding(array, backbone.token_grid)

    return _Target("pos_embed", variable, None, resize)


def _tokenizer_targets(backbone: T2TViTBackbone) -> list[_Target]:
    """ViT's `patch_embed` or the `tokens_to_token` module."""
    if backbone.tokens_type == "patch":
        proj = backbone.patch_embed.proj
        rows, cols, channels, dim = proj.kernel.shape
        torch_shape = (dim, channels, rows, cols)

        def kernel(weight):
            # torch Conv2d weight (out, in, rows, cols) -> Keras Conv2D kernel (rows, cols, in, out).
            # ViTs trained before the patch embedding became a convolution store it flattened to
            # (out, in * rows * cols); the official loader reshapes those, and so does this.
            if weight.shape not in (torch_shape, (dim, channels * rows * cols)):
                raise ValueError(f"patch_embed.proj.weight: checkpoint {weight.shape} vs model {torch_shape}")
            return weight.reshape(torch_shape).transpose(2, 3, 1, 0)

        return [
            _Target("patch_embed.proj.weight", proj.kernel, None, kernel),
            _identity_target("patch_embed.proj.bias", proj.bias),
        ]
    t2t = backbone.tokens_to_token
    if t2t.tokens_type not in ("performer", "transformer"):
        raise ValueError(
            f"The official checkpoints have performer or transformer T2T layers; this model's "
            f"tokens_type is {t2t.tokens_type!r}."
        )
    return [
        *_t2t_layer_targets("tokens_to_token.attention1", t2t.attention1, backbone.image_shape[-1]),
        *_t2t_layer_targets("tokens_to_token.attention2", t2t.attention2, t2t.token_dim),
        *_dense_targets("tokens_to_token.project", t2t.project, t2t.token_dim),
    ]


def _backbone_targets(backbone: T2TViTBackbone) -> list[_Target]:
    """Every backbone weight with its official key: blocks, transitions included, are `blocks.{i}`."""
    targets = [
        _identity_target("cls_token", backbone.class_token.token),
        _position_embedding_target(backbone),
        *_tokenizer_targets(backbone),
    ]
    for i, block in enumerate(backbone.transformer_blocks):
        targets += _block_targets(f"blocks.{i}", block)
    return targets + _norm_targets("norm", backbone.norm)


def transfer_backbone(source: keras.Model, target: keras.Model) -> None:
    """Copies a trained keras_t2t model's backbone into another of the same architecture, for
    transfer learning: the target keeps its own head (its classes) and gets the source's position
    embedding resized to its token grid (`resize_position_embedding`), as official checkpoints are
    transferred on load.

    Args:
        source: a keras_t2t classifier or `T2TViTBackbone`, e.g. a `.keras` file of a training run.
        target: the same architecture, at any input size and with any head.

    Raises:
        ValueError: if the backbones differ in anything but the input size; the target is left
            untouched.
    """
    source_backbone, _ = _backbone_and_head(source)
    target_backbone, _ = _backbone_and_head(target)
    if len(source_backbone.weights) != len(target_backbone.weights):
        raise ValueError(
            f"{source.name!r} is not a {target.name} backbone: its backbone has "
            f"{len(source_backbone.weights)} weights, the target's {len(target_backbone.weights)}. Build "
            "the target with the source's architecture."
        )
    table = target_backbone.position_embedding.embedding
    values = []
    for source_weight, target_weight in zip(source_backbone.weights, target_backbone.weights, strict=True):
        value = np.asarray(source_weight)
        if target_weight is table:
            value = resize_position_embedding(value, target_backbone.token_grid)
        if value.shape != tuple(target_weight.shape):
            raise ValueError(
                f"{source.name!r} is not a {target.name} backbone: its {source_weight.path} is "
                f"{value.shape}, the target's {target_weight.path} is {tuple(target_weight.shape)}. "
                "Build the target with the source's architecture."
            )
        values.append(value)
    for target_weight, value in zip(target_backbone.weights, values, strict=True):
        target_weight.assign(value)


def _backbone_and_head(model: keras.Model) -> tuple[T2TViTBackbone, keras.layers.Dense | None]:
    """The backbone and the Dense head of a classifier (None for a backbone or feature extractor)."""
    head = model.head if isinstance(model, T2TViTImageClassifier) else None
    return find_backbone(model), head


def _listing(title: str, entries: list[str], limit: int = 20) -> str:
    if not entries:
        return ""
    shown = ", ".join(entries[:limit])
    more = f" ... and {len(entries) - limit} more" if len(entries) > limit else ""
    return f"\n  {title} ({len(entries)}): {shown}{more}"


# Official keys that only one kind of tokenizer, or one family of blocks, has.
_TOKENS_TYPE_KEYS = {
    "patch": "patch_embed.proj.weight",
    "performer": "tokens_to_token.attention1.kqv.weight",
    "transformer": "tokens_to_token.attention1.attn.qkv.weight",
}
_BLOCK_TYPE_MARKERS = {
    "se": ".attn.se_layer.",
    "ghost": ".attn.cheap_operation_q.",
    "dense": ".dense_linear.",
}


def _layout_hint(state_dict: Mapping[str, np.ndarray]) -> str:
    """Names the models whose layout a state dict has, e.g. "The checkpoint's keys are those of:
    t2t_vit_14_se. ", or "" for keys of no known layout."""
    tokens_types = [kind for kind, key in _TOKENS_TYPE_KEYS.items() if key in state_dict]
    block_types = [
        family for family, marker in _BLOCK_TYPE_MARKERS.items() if any(marker in key for key in state_dict)
    ] or ["transformer"]
    names = [
        v.name for v in VARIANTS.values() if v.tokens_type in tokens_types and v.block_type in block_types
    ]
    return f"The checkpoint's keys are those of: {', '.join(names)}. " if names else ""


def load_torch_checkpoint(
    model: keras.Model,
    checkpoint: str | os.PathLike | Mapping[str, np.ndarray],
    use_ema: bool = True,
    strict: bool = True,
) -> LoadReport:
    """Loads an official PyTorch T2T-ViT checkpoint into a keras_t2t model, converting the weights.

    Linear weights are transposed; the weights that read soft-split output (the T2T layers' `norm1`
    and `kqv` / `attn.qkv`, and `project`) are reordered from nn.Unfold's patch layout to
    extract_patches'; ViT's patch-embedding convolution and the Ghost blocks' depthwise "cheap
    operations" get Keras' kernel layouts; the performers' fixed random matrices, the class token and
    the position embedding (the ViTs' learned one included) are copied. As in the official
    transfer-learning code, a model with another number of classes keeps its fresh head, and a model
    with another input size gets the checkpoint's position embedding resized bicubically to its token
    grid (class token row kept).

    Build the model with the query-key scale its official builder evaluates checkpoints with,
    `VARIANTS[name].checkpoint_qk_scale` (`embed_dim ** -0.5` for most); the builders do so when
    given a checkpoint path as `weights`.

    Args:
        model: a classifier from a keras_t2t builder (any `classes`, input size, `include_top`), or a
            `T2TViTBackbone`, of the checkpoint's variant.
        checkpoint: a `.pth` / `.pth.tar` path, or a state dict of NumPy arrays as
            `read_checkpoint` returns it.
        use_ema: see `read_checkpoint` (for a path).
        strict: raise unless every checkpoint entry is used (the head aside, see above) and every
            model weight is filled. With False, load what fits and list the rest in the report.

    Returns:
        A `LoadReport` of what was not loaded.

    Raises:
        ValueError: the file is not a checkpoint, or (strict) it does not fit the model. Nothing is
            assigned to the model when an error is raised.
    """
    backbone, head = _backbone_and_head(model)
    targets = _backbone_targets(backbone)
    source = "the state dict" if isinstance(checkpoint, Mapping) else f"'{os.fspath(checkpoint)}'"
    if not isinstance(checkpoint, Mapping):
        checkpoint = read_checkpoint(checkpoint, use_ema=use_ema)
    report = LoadReport()
    head_weight = checkpoint.get("head.weight")
    if head is not None and (head_weight is None or head_weight.shape[0] == head.units):
        targets += _dense_targets("head", head)
    else:
        report.skipped = [key for key in ("head.weight", "head.bias") if key in checkpoint]

    assignments = []
    for target in targets:
        if target.key not in checkpoint:
            report.missing.append(target.key)
            continue
        array = checkpoint[target.key]
        if target.source_shape is not None and array.shape != target.source_shape:
            report.mismatched.append(f"{target.key}: checkpoint {array.shape} vs model {target.source_shape}")
            continue
        try:
            assignments.append((target.variable, target.convert(array)))
        except ValueError as err:
            report.mismatched.append(str(err))
    used = {target.key for target in targets} | set(report.skipped)
    report.unexpected = [key for key in checkpoint if key not in used]
    # Any model weight no target maps (say, a layer added to the model family later) is missing too.
    mapped = {id(target.variable) for target in targets}
    if head is not None and report.skipped:
        mapped |= {id(weight) for weight in head.weights}
    report.missing += [weight.path for weight in model.weights if id(weight) not in mapped]

    if strict and (report.missing or report.unexpected or report.mismatched):
        raise ValueError(
            f"{source} does not fit model {model.name!r}; nothing was loaded."
            + _listing("missing in the checkpoint", report.missing)
            + _listing("unexpected in the checkpoint", report.unexpected)
            + _listing("shape mismatches", report.mismatched)
            + f"\n{_layout_hint(checkpoint)}Build the variant the checkpoint was trained as (e.g. "
            "T2TViT14 for 81.5_T2T_ViT_14.pth.tar, T2TViT_t14 for 81.7_T2T_ViTt_14.pth.tar), or load "
            "what fits with strict=False (keras-t2t convert --no-strict)."
        )
    for variable, value in assignments:
        variable.assign(value)
    return report
