"""Classifier builders for the T2T-ViT family, in the keras.applications style."""

import functools
import os
import shutil
import uuid
from collections.abc import Callable

import keras

from keras_t2t.models import pretrained
from keras_t2t.models.backbone import T2TViTBackbone
from keras_t2t.models.image_classifier import POOLING_MODES, T2TViTImageClassifier, pool_features
from keras_t2t.models.image_converter import T2TViTImageClassifierPreprocessor, T2TViTImageConverter
from keras_t2t.models.official_checkpoint import load_torch_checkpoint
from keras_t2t.models.preprocessing import imagenet_normalization
from keras_t2t.models.presets import PRESETS, Preset, imagenet_preset
from keras_t2t.models.registry import register_model, register_preset
from keras_t2t.models.saving import check_keras_archive
from keras_t2t.models.variants import VARIANTS, Variant

KERAS_WEIGHTS_SUFFIXES = (".weights.h5", ".keras")
TORCH_CHECKPOINT_SUFFIXES = (".pth", ".pth.tar", ".pt")


def build_t2t_vit(
    variant: Variant,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor=None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    include_preprocessing: bool = True,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.1,
    qk_scale: float | None = None,
    name: str | None = None,
    **backbone_kwargs,
) -> keras.Model:
    """Builds a T2T-ViT classifier (or feature extractor) for one row of the variant table.

    See the public builders (e.g. `keras_t2t.T2TViT14`) for the arguments.
    """
    _check_weights_argument(weights)
    official = weights == "imagenet"
    if input_tensor is not None and not keras.backend.is_keras_tensor(input_tensor):
        input_tensor = keras.Input(tensor=input_tensor, shape=input_shape)
    if input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    input_shape = tuple(input_shape or (variant.image_size, variant.image_size, 3))
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels); got {input_shape}.")
    if include_preprocessing and input_shape[-1] != 3:
        raise ValueError(
            f"include_preprocessing=True normalises RGB images with ImageNet's mean and std, but the "
            f"input has {input_shape[-1]} channels. Pass include_preprocessing=False and normalise "
            "the images yourself."
        )
    if include_top and pooling is None:
        pooling = "token"
    if pooling is not None and pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be None or one of {POOLING_MODES}; got {pooling!r}.")
    if include_top and classes < 1:
        raise ValueError(f"classes must be a positive number of classes; got {classes}.")

    backbone_config = {
        **variant.backbone_kwargs(),
        "image_shape": input_shape,
        "dropout": drop_rate,
        "drop_path_rate": drop_path_rate,
        "qk_scale": qk_scale,
        **backbone_kwargs,
    }
    # The official checkpoint's own model (size, classes, layout) is converted once and kept; any
    # other model is filled from the checkpoint itself, as with a .pth.tar path.
    keep_conversion = False
    if official:
        preset = imagenet_preset(variant.name, input_shape[0] if input_shape[0] == input_shape[1] else None)
        same_weights_as_checkpoint = (
            include_top
            and classes == 1000
            and include_preprocessing
            and tuple(input_shape[:2]) == (preset.image_size, preset.image_size)
            and set(backbone_kwargs) <= {"dtype", "attention_chunk_size", "seed"}
        )
        converted = pretrained.converted_weights_path(preset)
        if same_weights_as_checkpoint and os.path.isfile(converted):
            weights = converted
        else:
            weights = pretrained.official_checkpoint(preset)
            keep_conversion = same_weights_as_checkpoint
    from_torch = weights is not None and os.fspath(weights).endswith(TORCH_CHECKPOINT_SUFFIXES)
    if (from_torch or official) and backbone_config["qk_scale"] is None:
        backbone_config["qk_scale"] = variant.checkpoint_qk_scale
    backbone = T2TViTBackbone(**backbone_config, name="backbone")

    if include_top:
        model = T2TViTImageClassifier(
            backbone,
            num_classes=classes,
            preprocessor=default_preprocessor(input_shape, include_preprocessing),
            pooling=pooling,
            activation=classifier_activation,
            include_preprocessing=include_preprocessing,
            name=name or variant.name,
            # Uncompiled, as keras.applications models are (keras-hub's tasks compile themselves).
            compile=False,
        )
    else:
        model = _feature_extractor(backbone, pooling, include_preprocessing, name or variant.name)
    if from_torch:
        load_torch_checkpoint(model, weights)
        if keep_conversion:
            _save_atomically(model, pretrained.converted_weights_path(preset))
    elif weights is not None:
        load_keras_weights(model, weights)
    if input_tensor is not None:
        # keras.applications' input_tensor: the model is applied to the caller's tensor.
        model = keras.Model(input_tensor, model(input_tensor), name=model.name)
    return model


def default_preprocessor(
    input_shape: tuple[int, int, int], include_preprocessing: bool
) -> T2TViTImageClassifierPreprocessor | None:
    """The builders' preprocessor: the paper's evaluation transform to the model's input size, for
    models that normalise inside; None for models fed `preprocess_input(images)` by the caller
    (keras.applications' `include_preprocessing=False`)."""
    if not include_preprocessing:
        return None
    converter = T2TViTImageConverter(image_size=input_shape[:2], scale=None, offset=None)
    return T2TViTImageClassifierPreprocessor(converter)


def _feature_extractor(
    backbone: T2TViTBackbone, pooling: str | None, include_preprocessing: bool, name: str
) -> keras.Model:
    """`include_top=False`: a functional model from images to the backbone's tokens or pooled features."""
    inputs = keras.Input(backbone.image_shape, name="images")
    x = imagenet_normalization()(inputs) if include_preprocessing else inputs
    features = backbone(x)
    outputs = features["sequence_output"] if pooling is None else pool_features(features, pooling)
    return keras.Model(inputs, outputs, name=name)


def make_preset_directory(preset: Preset) -> str:
    """The keras-hub preset directory of an official checkpoint, made on first use: the model built
    with `weights="imagenet"` at the checkpoint's size (downloaded and converted as there), saved
    with `save_to_preset` under a temporary name and renamed, so that no reader sees half of it."""
    path = pretrained.preset_directory(preset)
    if os.path.isdir(path):
        return path
    size = preset.image_size
    model = build_t2t_vit(VARIANTS[preset.model], weights="imagenet", input_shape=(size, size, 3))
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    try:
        model.save_to_preset(partial)
        os.replace(partial, path)
    except OSError:
        if not os.path.isdir(path):  # another process may have renamed its copy there first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return path


def _save_atomically(model: keras.Model, path: str) -> None:
    """`model.save_weights(path)` through a temporary file, so that no reader sees half a file."""
    partial = f"{path.removesuffix('.weights.h5')}.{uuid.uuid4().hex}.weights.h5"
    try:
        model.save_weights(partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _check_weights_argument(weights) -> None:
    if weights is None or weights == "imagenet":
        return
    if not isinstance(weights, str | os.PathLike):
        raise TypeError(f"weights must be None or a file path; got {type(weights).__name__}.")
    path = os.fspath(weights)
    if not path.endswith(KERAS_WEIGHTS_SUFFIXES + TORCH_CHECKPOINT_SUFFIXES):
        raise ValueError(
            f"weights={path!r} is neither None, 'imagenet', a Keras weights file "
            f"({' or '.join(KERAS_WEIGHTS_SUFFIXES)}) nor an official PyTorch checkpoint "
            f"({' or '.join(TORCH_CHECKPOINT_SUFFIXES)}): pass 'imagenet' for the official "
            "ImageNet weights, or the path of a file saved with model.save_weights() or model.save(), "
            "or of a downloaded official checkpoint."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Weights file not found: {path!r}.")


def load_keras_weights(model: keras.Model, path: str) -> None:
    """Loads a `.weights.h5` or `.keras` file into `model`, explaining a mismatch if there is one."""
    if path.endswith(".keras"):
        check_keras_archive(path)
    try:
        model.load_weights(path)
    except (ValueError, OSError) as error:
        raise ValueError(
            f"Could not load {path!r} into {model.name}: the file is corrupt or was saved from a model "
            "of another configuration (variant, classes, input size, include_top, pooling). Build the "
            f"model with the arguments the weights were saved with. Keras said: {error}"
        ) from error


_BUILDER_DOCSTRING = """Builds the {name} classifier ({description}){accuracy}.

    Args:
        include_top: whether to end with the Dense classifier `head` on the class token.
        weights: None (random initialisation); "imagenet", the official ImageNet checkpoint
            (the one trained at 384 for a 384x384 T2T-ViT-14), downloaded once into the Keras
            cache and converted (see `keras_t2t.models.pretrained`; the first conversion needs
            `keras_t2t[convert]`, and is kept for the checkpoint's own input size and 1000
            classes); the path of a Keras weights file (`.weights.h5` or `.keras`); or of an
            official PyTorch checkpoint (`.pth.tar`, `.pth`), converted on load by
            `keras_t2t.models.official_checkpoint.load_torch_checkpoint` (needs
            `keras_t2t[convert]`).
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: `(height, width, channels)`, default `({size}, {size}, 3)`. Height and width must
            be multiples of 16 (of the product of the soft-split strides).
        pooling: with `include_top=False`, None returns the token sequence `(batch, 1 + tokens,
            features)`; "token" the class token's features, "avg" / "max" the mean / max over the
            patch tokens. With `include_top=True` it picks what the head reads (default "token").
        classes: number of classes of the head.
        classifier_activation: activation of the head ("softmax", or None for logits).
        include_preprocessing: whether the model takes RGB values in [0, 255] and normalises them
            with ImageNet's mean and std itself; with False, feed `preprocess_input(images)`.
        drop_rate: dropout after the position embedding and in the blocks (paper: 0).
        drop_path_rate: stochastic depth of the last block (paper: 0.1, linear from 0).
        qk_scale: the blocks' query-key scale; None means head_dim ** -0.5, or, when `weights` is
            an official checkpoint, the scale the official builder evaluates it with
            ({checkpoint_scale} for {name}).
        name: the model's name, default "{name}".
        **backbone_kwargs: further `T2TViTBackbone` arguments (e.g. `kernel_sizes`, `strides`,
            `paddings`, `token_dim` for small images; `dtype`; `seed`).

    Returns:
        A `T2TViTImageClassifier` (uncompiled, with a preprocessor holding the evaluation transform
        when `include_preprocessing`); with `include_top=False` a functional `keras.Model` around
        the backbone; with `input_tensor`, a functional model applying either to that tensor.
    """


def make_builder(variant: Variant) -> Callable[..., keras.Model]:
    """Defines the builder function of `variant`, named `variant.builder`, and registers it."""

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor=None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: str | None = "softmax",
        include_preprocessing: bool = True,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        qk_scale: float | None = None,
        name: str | None = None,
        **backbone_kwargs,
    ) -> keras.Model:
        return build_t2t_vit(
            variant,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            include_preprocessing=include_preprocessing,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            qk_scale=qk_scale,
            name=name,
            **backbone_kwargs,
        )

    accuracy = f"; {variant.top1}% ImageNet top-1 in the paper" if variant.top1 else ""
    scale = variant.checkpoint_qk_scale
    checkpoint_scale = "head_dim ** -0.5" if scale is None else f"{round(scale**-2)} ** -0.5"
    builder.__name__ = builder.__qualname__ = variant.builder
    builder.__doc__ = _BUILDER_DOCSTRING.format(
        accuracy=accuracy,
        description=variant.describe(),
        size=variant.image_size,
        checkpoint_scale=checkpoint_scale,
        **vars(variant),
    )
    register_model(variant.name, builder)
    return builder


T2TViT7 = make_builder(VARIANTS["t2t_vit_7"])
T2TViT10 = make_builder(VARIANTS["t2t_vit_10"])
T2TViT12 = make_builder(VARIANTS["t2t_vit_12"])
T2TViT14 = make_builder(VARIANTS["t2t_vit_14"])
T2TViT19 = make_builder(VARIANTS["t2t_vit_19"])
T2TViT24 = make_builder(VARIANTS["t2t_vit_24"])
T2TViT_t14 = make_builder(VARIANTS["t2t_vit_t_14"])
T2TViT_t19 = make_builder(VARIANTS["t2t_vit_t_19"])
T2TViT_t24 = make_builder(VARIANTS["t2t_vit_t_24"])
T2TViT14_ResNeXt = make_builder(VARIANTS["t2t_vit_14_resnext"])
T2TViT14_Wide = make_builder(VARIANTS["t2t_vit_14_wide"])

for _preset in PRESETS.values():
    register_preset(_preset.name, functools.partial(make_preset_directory, _preset))
