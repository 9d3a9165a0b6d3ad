"""Official PyTorch T2T-ViT checkpoints -> Keras files (`keras-t2t convert`).

The key mapping, the checkpoint reader and the transfer helpers live beside the models, in
`keras_t2t.models.official_checkpoint` (the builders load checkpoints through it); they are
reachable from here too.
"""

import math
import os
from collections.abc import Mapping

import keras
import numpy as np

from keras_t2t.models import VARIANTS, create_model
from keras_t2t.models.official_checkpoint import (
    LoadReport,
    load_torch_checkpoint,
    read_checkpoint,
    resize_position_embedding,
    transfer_backbone,
)
from keras_t2t.models.t2t_vit import KERAS_WEIGHTS_SUFFIXES

__all__ = [
    "LoadReport",
    "convert_checkpoint",
    "load_torch_checkpoint",
    "read_checkpoint",
    "resize_position_embedding",
    "transfer_backbone",
]


def _checkpoint_image_size(state_dict: Mapping[str, np.ndarray]) -> int:
    """The square input size a state dict was trained at, read off its position embedding.

    Assumes the official soft splits, which divide each side of the image by 16.
    """
    if "pos_embed" not in state_dict:
        raise ValueError("The checkpoint has no 'pos_embed' entry: it is not a T2T-ViT checkpoint.")
    tokens = state_dict["pos_embed"].shape[1] - 1
    side = math.isqrt(tokens)
    if side * side != tokens:
        raise ValueError(
            f"The checkpoint's position embedding has {tokens} patch rows, not a square grid; "
            "give the image size explicitly."
        )
    return 16 * side


def convert_checkpoint(
    checkpoint: str | os.PathLike,
    output: str | os.PathLike,
    model_name: str,
    image_size: int | None = None,
    classes: int | None = None,
    use_ema: bool = True,
    strict: bool = True,
    qk_scale: float | None = None,
    include_preprocessing: bool = True,
    preset: bool = False,
) -> tuple[keras.Model, LoadReport]:
    """Converts an official checkpoint into a Keras file or a keras-hub preset, for use without torch.

    Args:
        checkpoint: the official `.pth` / `.pth.tar` file.
        output: a `.weights.h5` file (load it into a model built with the same arguments, including
            `qk_scale`) or a `.keras` file (the whole model, config included); with `preset`, a
            directory that does not exist yet.
        model_name: the official name of the checkpoint's variant, e.g. "t2t_vit_14".
        image_size: square input size; default the checkpoint's own (224, or 384 for the 384
            checkpoint). Another size resizes the position embedding.
        classes: classes of the head; default the checkpoint's (1000). Another number leaves the
            head freshly initialised.
        use_ema, strict: see `load_torch_checkpoint`.
        qk_scale: the blocks' query-key scale; default the one the model's official builder
            evaluates checkpoints with (`VARIANTS[model_name].checkpoint_qk_scale`: `embed_dim ** -0.5`
            for most, `head_dim ** -0.5` for t2t_vit_dense and the ViTs the release lacks).
        include_preprocessing: whether the model normalises [0, 255] RGB input itself.
        preset: write `output` as a keras-hub preset directory (`save_to_preset`), to upload to
            Kaggle or Hugging Face, or to load with `keras_hub.models.ImageClassifier.from_preset`.

    Returns:
        The converted model and the `LoadReport`.
    """
    output = os.fspath(output)
    if preset and os.path.exists(output):
        raise FileExistsError(f"{output!r} exists; a preset is written into a new directory.")
    if not preset and not output.endswith(KERAS_WEIGHTS_SUFFIXES):
        raise ValueError(f"output must end with {' or '.join(KERAS_WEIGHTS_SUFFIXES)}; got '{output}'.")
    if model_name not in VARIANTS:
        raise ValueError(f"Unknown model {model_name!r}; the official ones are {', '.join(VARIANTS)}.")
    state_dict = read_checkpoint(checkpoint, use_ema=use_ema)
    size = image_size or _checkpoint_image_size(state_dict)
    if classes is None:
        classes = state_dict["head.weight"].shape[0] if "head.weight" in state_dict else 1000
    model = create_model(
        model_name,
        input_shape=(size, size, 3),
        classes=classes,
        include_preprocessing=include_preprocessing,
        qk_scale=VARIANTS[model_name].checkpoint_qk_scale if qk_scale is None else qk_scale,
    )
    report = load_torch_checkpoint(model, state_dict, strict=strict)
    if preset:
        model.save_to_preset(output)
    elif output.endswith(".keras"):
        model.save(output)
    else:
        model.save_weights(output)
    return model, report
