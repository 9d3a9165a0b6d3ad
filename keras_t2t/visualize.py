"""Pictures of what a T2T-ViT sees and how its training went, written as PNG files with matplotlib.

- Class-token attention of any block, head by head, and attention rollout over all blocks (Abnar &
  Zuidema, 2020), overlaid on the image: `attention_scores`, `attention_rollout`, `class_token_map`,
  `plot_attention_maps`.
- The paper's Fig. 2 view: per-channel feature maps of the tokens after each stage of the T2T
  module (or of a ViT's patch embedding, for comparison): `token_maps`, `plot_feature_maps`.
- Loss, accuracy and learning-rate curves of a training run: `plot_history`.
- All of it for one image, as `keras-t2t visualize` writes it: `visualize`.

Figures are drawn on `matplotlib.figure.Figure` objects with the Agg canvas, never through pyplot,
so no display or global backend setting is involved.
"""

import math
import os
from collections.abc import Mapping, Sequence

import keras
import numpy as np
from keras import ops
from matplotlib.figure import Figure

from keras_t2t.layers import TransformerBlock
from keras_t2t.models import T2TViTBackbone
from keras_t2t.models.image_classifier import T2TViTImageClassifier, find_backbone

DPI = 100
ATTENTION_PANEL = 250  # pixels, the width of one image panel of an attention figure
FEATURE_PANEL = 120  # pixels, the width of one channel panel of a feature-map figure
HISTORY_PANEL = (400, 300)  # pixels, one panel of the training curves
TITLE_HEIGHT = 30  # pixels above each row of panels for its titles


def _backbone_and_preprocessing(model: keras.Model) -> tuple[T2TViTBackbone, keras.layers.Layer | None]:
    """The model's `T2TViTBackbone` and the layer normalising images in front of it, if any."""
    backbone = find_backbone(model)
    if model is backbone:
        return backbone, None
    if isinstance(model, T2TViTImageClassifier):
        return backbone, model.normalization
    # A functional model around the backbone: a builder's feature extractor (include_top=False).
    in_front = model.layers[: model.layers.index(backbone)] if backbone in model.layers else None
    normalizations = [layer for layer in in_front or [] if isinstance(layer, keras.layers.Normalization)]
    others = [
        layer.name
        for layer in in_front or []
        if not isinstance(layer, keras.layers.InputLayer | keras.layers.Normalization)
    ]
    if in_front is None or others or len(normalizations) > 1:
        raise ValueError(
            f"{model.name!r} has layers before its backbone that visualize cannot replay"
            f"{f': {others}' if others else ''}. Pass its T2TViTBackbone and apply those layers to the "
            "images yourself."
        )
    return backbone, (normalizations[0] if normalizations else None)


def _attention_blocks(backbone: T2TViTBackbone) -> list[TransformerBlock]:
    # Dense stacks interleave transitions, which have no attention.
    return [block for block in backbone.transformer_blocks if isinstance(block, TransformerBlock)]


def _backbone_images(model: keras.Model, images: np.ndarray) -> tuple[T2TViTBackbone, np.ndarray]:
    """The model's backbone and `images` as the backbone takes them (normalised, if the model does)."""
    backbone, preprocessing = _backbone_and_preprocessing(model)
    images = np.asarray(images, dtype="float32")
    expected = tuple(backbone.image_shape)
    if images.ndim != 4 or images.shape[1:] != expected:
        raise ValueError(
            f"{model.name!r} takes images shaped (batch, {', '.join(map(str, expected))}); got "
            f"{images.shape}. Resize and crop them first (keras_t2t.data.eval_transform)."
        )
    if preprocessing is not None:
        images = np.asarray(preprocessing(images))
    return backbone, images


def _numpy(tensors) -> list[np.ndarray]:
    return [np.asarray(ops.convert_to_numpy(x), dtype="float32") for x in tensors]


def attention_scores(model: keras.Model, images: np.ndarray) -> list[np.ndarray]:
    """The attention probabilities of every attention block, first to last.

    Each block's input is read off the backbone's graph, then the block itself is called on it with
    `return_attention_scores=True` in inference mode: these are exactly the probabilities of the
    model's forward pass.

    Args:
        model: a keras_t2t classifier (images RGB 0..255) or a `T2TViTBackbone` (normalised images).
        images: `(batch, H, W, 3)` at the model's input size.

    Returns:
        Per block, `(batch, heads, 1 + tokens, 1 + tokens)` float32; row i holds how token i
        attends to every token (the class token first, then the grid in row-major order).
    """
    backbone, images = _backbone_images(model, images)
    blocks = _attention_blocks(backbone)
    block_inputs = keras.Model(backbone.input, [block.input for block in blocks])(images, training=False)
    return _numpy(
        block(x, training=False, return_attention_scores=True)[1]
        for block, x in zip(blocks, block_inputs, strict=True)
    )


def attention_rollout(scores: Sequence[np.ndarray]) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): how much each token draws on each input token.

    Per block, the heads' mean plus the identity (the residual connection), rows renormalised to
    sum to 1; the blocks' matrices multiplied from the first to the last.

    Args:
        scores: per block `(batch, heads, tokens, tokens)`, as `attention_scores` returns them.

    Returns:
        `(batch, tokens, tokens)`, rows summing to 1.
    """
    if not scores:
        raise ValueError("attention_rollout needs the attention of at least one block; got none.")
    rollout = None
    for block_scores in scores:
        mixing = block_scores.mean(axis=1) + np.eye(block_scores.shape[-1], dtype=block_scores.dtype)
        mixing /= mixing.sum(axis=-1, keepdims=True)
        rollout = mixing if rollout is None else mixing @ rollout
    return rollout


def class_token_map(attention: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The class token's row of `attention` `(..., 1 + rows * cols, 1 + rows * cols)` over the patch
    tokens, as a `(..., rows, cols)` map."""
    rows, cols = grid
    row = attention[..., 0, 1:]
    if row.shape[-1] != rows * cols:
        raise ValueError(f"The attention covers {row.shape[-1]} patch tokens, not a {rows}x{cols} grid.")
    return row.reshape(*row.shape[:-1], rows, cols)


def token_maps(model: keras.Model, images: np.ndarray) -> dict[str, np.ndarray]:
    """The tokens after each stage of the model's tokenizer, as images (the paper's Fig. 2 view).

    For a T2T module the stages are named after their layers: "attention1", "attention2" (the two
    T2T layers, `token_dim` channels) and "project" (the tokens the blocks read, `embed_dim`); with
    `tokens_type="convolution"` "conv0", "conv1", "project". For a ViT (`tokens_type="patch"`) the
    one stage is "patch_embed".

    Args:
        model, images: as for `attention_scores`.

    Returns:
        Stage name -> `(batch, rows, cols, channels)` float32, in order.
    """
    backbone, images = _backbone_images(model, images)
    # The tokenizer is the backbone's first layer, so it is called on the images directly.
    if backbone.tokens_type == "patch":
        tokens = backbone.patch_embed(images)
        return {
            "patch_embed": _numpy([ops.reshape(tokens, (-1, *backbone.token_grid, backbone.embed_dim))])[0]
        }
    module = backbone.tokens_to_token
    names = ("conv0", "conv1") if module.tokens_type == "convolution" else ("attention1", "attention2")
    _, maps = module(images, training=False, return_token_maps=True)
    return dict(zip([*names, "project"], _numpy(maps), strict=True))


def _pixels_to_inches(width: int, height: int) -> tuple[float, float]:
    # Half a pixel more: the PNG's size is the figure size times the dpi rounded down, and
    # width / DPI * DPI can fall just short of `width` in floating point.
    return (width + 0.5) / DPI, (height + 0.5) / DPI


def _save(figure: Figure, path: str) -> str:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


def _show_image(axes, image: np.ndarray) -> None:
    axes.imshow(np.clip(np.asarray(image, dtype="float32") / 255.0, 0.0, 1.0))
    axes.set_axis_off()


def plot_attention_maps(
    image: np.ndarray,
    maps: Mapping[str, np.ndarray],
    path: str,
    title: str | None = None,
    columns: int = 5,
) -> str:
    """Draws the image, then each map overlaid on it, one panel each, `columns` panels a row.

    Each map is scaled to its own range and stretched over the whole image (bilinear), so a
    `(rows, cols)` token grid lines up with the image region each token comes from.

    Args:
        image: `(H, W, 3)` RGB 0..255.
        maps: panel title -> `(rows, cols)` map, e.g. from `class_token_map`.
        path: the PNG to write.
        title: a line above the panels.
        columns: panels per row.

    Returns:
        `path`. The PNG is `min(1 + len(maps), columns) * 250` pixels wide; each row of panels is
        `round(250 * H / W) + 30` pixels high (plus 30 with a title).
    """
    height, width = np.shape(image)[:2]
    count = 1 + len(maps)
    cols, rows = min(count, columns), math.ceil(count / columns)
    panel_height = round(ATTENTION_PANEL * height / width)
    size = (cols * ATTENTION_PANEL, rows * (panel_height + TITLE_HEIGHT) + (TITLE_HEIGHT if title else 0))
    figure = Figure(figsize=_pixels_to_inches(*size))
    top = 1 - TITLE_HEIGHT / size[1] if title else 1.0
    grid = figure.add_gridspec(rows, cols, left=0, right=1, bottom=0, top=top, hspace=0, wspace=0)
    axes = figure.add_subplot(grid[0, 0])
    _show_image(axes, image)
    axes.set_title("image", fontsize=9)
    for index, (name, overlay) in enumerate(maps.items(), start=1):
        axes = figure.add_subplot(grid[index // cols, index % cols])
        _show_image(axes, image)
        axes.set_title(name, fontsize=9)
        overlay = np.asarray(overlay, dtype="float32")
        axes.imshow(
            overlay,
            cmap="jet",
            alpha=0.5,
            extent=(-0.5, width - 0.5, height - 0.5, -0.5),
            interpolation="bilinear",
            vmin=float(overlay.min()),
            vmax=float(overlay.max()),
        )
    if title:
        figure.suptitle(title, fontsize=11)
    return _save(figure, path)


def plot_feature_maps(
    maps: Mapping[str, np.ndarray],
    path: str,
    channels: int = 8,
    title: str | None = None,
) -> str:
    """Draws per-channel feature maps, one row per stage (the paper's Fig. 2 view).

    Each row shows the `channels` channels of its stage that vary most over the grid (the most
    structured ones; constant channels show nothing), each scaled to its own range.

    Args:
        maps: row label -> `(rows, cols, channels)` token map, e.g. one image's `token_maps`.
        path: the PNG to write.
        channels: channels per row (fewer where a stage has fewer).
        title: a line above the rows.

    Returns:
        `path`. The PNG is `channels * 120` pixels wide; each row is `round(120 * rows / cols) + 30`
        pixels high for its maps' `rows / cols` (plus 30 with a title).
    """
    if not maps:
        raise ValueError("plot_feature_maps needs at least one token map; got none.")
    heights = [round(FEATURE_PANEL * m.shape[0] / m.shape[1]) for m in maps.values()]
    size = (channels * FEATURE_PANEL, sum(heights) + TITLE_HEIGHT * (len(maps) + bool(title)))
    figure = Figure(figsize=_pixels_to_inches(*size))
    top = 1 - TITLE_HEIGHT / size[1] if title else 1.0
    # A row for each stage's name above the row of its channels.
    ratios = [h for height in heights for h in (TITLE_HEIGHT, height)]
    grid = figure.add_gridspec(
        len(ratios), channels, height_ratios=ratios, left=0, right=1, bottom=0, top=top, hspace=0, wspace=0.05
    )
    for row, (name, stage) in enumerate(maps.items()):
        heading = figure.add_subplot(grid[2 * row, :])
        heading.set_axis_off()
        heading.text(0.5, 0.4, name, ha="center", va="center", fontsize=9)
        stage = np.asarray(stage, dtype="float32")
        spread = stage.reshape(-1, stage.shape[-1]).std(axis=0)
        for col, channel in enumerate(np.argsort(-spread, kind="stable")[:channels]):
            axes = figure.add_subplot(grid[2 * row + 1, col])
            axes.imshow(stage[..., channel], cmap="viridis", interpolation="nearest", aspect="auto")
            axes.set_axis_off()
            axes.text(
                0.03, 0.97, f"ch{channel}", color="white", fontsize=6, va="top", transform=axes.transAxes
            )
    if title:
        figure.suptitle(title, fontsize=11)
    return _save(figure, path)


def _history_panels(keys: Sequence[str]) -> dict[str, list[str]]:
    """Sorts history keys into the loss, accuracy, learning-rate and other panels."""
    panels = {"loss": [], "accuracy": [], "learning rate": [], "other": []}
    for key in keys:
        metric = key.removeprefix("val_")
        if key in ("learning_rate", "lr"):
            panels["learning rate"].append(key)
        elif "loss" in metric:
            panels["loss"].append(key)
        elif metric.startswith("top") or "acc" in metric:
            panels["accuracy"].append(key)
        else:
            panels["other"].append(key)
    return {name: keys for name, keys in panels.items() if keys}


def plot_history(history: Mapping[str, Sequence[float]], path: str, title: str | None = None) -> str:
    """Draws training curves per epoch: loss, accuracy and learning rate panels, one PNG.

    Keys go to panels by name: "learning_rate" / "lr" to the learning rate (log scale when
    positive); keys with "loss" to the loss; "top1", "top5", "accuracy" and the like to the
    accuracy; validation keys (`val_...`) beside their training key, dashed. Keys of none of
    these kinds get an "other" panel, so nothing is left out; panels without keys are.

    Args:
        history: metric name -> one value per epoch, e.g. `keras.callbacks.History.history`.
        path: the PNG to write.
        title: a line above the panels.

    Returns:
        `path`. The PNG is 400 pixels wide per panel and 300 high (plus 30 with a title).
    """
    history = {key: [float(v) for v in values] for key, values in history.items() if len(values)}
    if not history:
        raise ValueError("plot_history needs at least one metric with values; the history is empty.")
    panels = _history_panels(list(history))
    width, height = HISTORY_PANEL
    size = (len(panels) * width, height + (TITLE_HEIGHT if title else 0))
    figure = Figure(figsize=_pixels_to_inches(*size))
    top = 1 - TITLE_HEIGHT / size[1] if title else 1.0
    grid = figure.add_gridspec(1, len(panels), left=0, right=1, bottom=0, top=top)
    for index, (name, keys) in enumerate(panels.items()):
        # The outer gridspec cell, shrunk so tick labels and titles fit inside the panel.
        axes = figure.add_subplot(grid[0, index])
        box = axes.get_position()
        axes.set_position(
            [box.x0 + 0.18 * box.width, box.y0 + 0.15 * box.height, 0.75 * box.width, 0.72 * box.height]
        )
        for key in keys:
            values = history[key]
            axes.plot(range(1, len(values) + 1), values, "--" if key.startswith("val_") else "-", label=key)
        if name == "learning rate" and all(v > 0 for key in keys for v in history[key]):
            axes.set_yscale("log")
        axes.set_title(name, fontsize=10)
        axes.set_xlabel("epoch", fontsize=8)
        axes.tick_params(which="both", labelsize=7)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    if title:
        figure.suptitle(title, fontsize=11)
    return _save(figure, path)


def _block_index(block: int, count: int) -> int:
    if count == 0:
        raise ValueError("The model has no attention blocks (depth 0): there is no attention to draw.")
    if not -count <= block < count:
        raise ValueError(
            f"Block {block} does not exist: the model has {count} attention blocks, "
            f"0..{count - 1} (or -{count}..-1 from the last)."
        )
    return block % count


def visualize(
    model: keras.Model,
    image: np.ndarray,
    out_dir: str,
    block: int = -1,
    compare_with: keras.Model | None = None,
    channels: int = 8,
) -> list[str]:
    """Writes every picture of one image: attention of a block, attention rollout, token maps.

    Files in `out_dir`:
    - `attention_block_{i}.png`: the class token's attention in block i, mean over heads and each head;
    - `attention_rollout.png`: attention rollout over all blocks (the class token's row);
    - `token_maps.png`: per-channel feature maps after each stage of the tokenizer, then after each
      stage of `compare_with`'s (e.g. a ViT's patch embedding).

    Args:
        model: a keras_t2t classifier (or `T2TViTBackbone`, fed normalised images).
        image: `(H, W, 3)` RGB 0..255 at the model's input size (`keras_t2t.data.eval_transform`).
        out_dir: where the PNG files go (created if needed).
        block: the attention block, counted from 0 (negative: from the last).
        compare_with: another keras_t2t model whose token maps are drawn below the model's; it
            gets the same image, which must fit its input size too.
        channels: channels per row of the token maps.

    Returns:
        The paths written.
    """
    backbone, _ = _backbone_and_preprocessing(model)
    index = _block_index(block, len(_attention_blocks(backbone)))
    images = np.asarray(image, dtype="float32")[None]
    scores = attention_scores(model, images)
    grid = backbone.token_grid
    block_maps = class_token_map(scores[index][0], grid)
    written = [
        plot_attention_maps(
            image,
            {"mean of heads": block_maps.mean(axis=0)}
            | {f"head {head}": head_map for head, head_map in enumerate(block_maps)},
            os.path.join(out_dir, f"attention_block_{index}.png"),
            title=f"{model.name}: class-token attention, block {index}",
        ),
        plot_attention_maps(
            image,
            {f"rollout over {len(scores)} blocks": class_token_map(attention_rollout(scores)[0], grid)},
            os.path.join(out_dir, "attention_rollout.png"),
            title=f"{model.name}: attention rollout",
        ),
    ]
    stages = {f"{model.name} {name}": maps[0] for name, maps in token_maps(model, images).items()}
    if compare_with is not None:
        stages |= {
            f"{compare_with.name} {name}": maps[0] for name, maps in token_maps(compare_with, images).items()
        }
    written.append(
        plot_feature_maps(
            stages,
            os.path.join(out_dir, "token_maps.png"),
            channels=channels,
            title="tokens as images, most varied channels",
        )
    )
    return written
