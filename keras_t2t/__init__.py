"""Tokens-to-Token Vision Transformers (T2T-ViT) for Keras 3.

Importing the package registers its Keras classes, so that `keras.saving.load_model` and
keras-hub's `from_preset` find them. The submodules that bring more than Keras (`data` and
`training`: tensorflow-datasets; `visualize`: matplotlib; `convert`, `export`, `benchmark`) load
on first use.
"""

import importlib

from keras_t2t.imagenet_classes import decode_predictions
from keras_t2t.models import (
    PRESETS,
    VARIANTS,
    T2TViT7,
    T2TViT10,
    T2TViT12,
    T2TViT14,
    T2TViT14_ResNeXt,
    T2TViT14_SE,
    T2TViT14_Wide,
    T2TViT16_Ghost,
    T2TViT19,
    T2TViT24,
    T2TViT_Dense,
    T2TViT_t14,
    T2TViT_t19,
    T2TViT_t24,
    T2TViTBackbone,
    T2TViTImageClassifier,
    T2TViTImageClassifierPreprocessor,
    T2TViTImageConverter,
    ViT_DN,
    ViT_Ghost,
    ViT_ResNeXt,
    ViT_S16,
    ViT_SE,
    ViT_SW,
    create_model,
    list_models,
    load_model,
    preprocess_input,
    with_dtype,
)

__version__ = "0.1.0"

_LAZY_SUBMODULES = ("benchmark", "convert", "data", "export", "training", "visualize")

__all__ = [
    "T2TViT7",
    "T2TViT10",
    "T2TViT12",
    "T2TViT14",
    "T2TViT14_ResNeXt",
    "T2TViT14_SE",
    "T2TViT14_Wide",
    "T2TViT16_Ghost",
    "T2TViT19",
    "T2TViT24",
    "T2TViTBackbone",
    "T2TViTImageClassifier",
    "T2TViTImageClassifierPreprocessor",
    "T2TViTImageConverter",
    "T2TViT_Dense",
    "T2TViT_t14",
    "T2TViT_t19",
    "T2TViT_t24",
    "PRESETS",
    "VARIANTS",
    "ViT_DN",
    "ViT_Ghost",
    "ViT_ResNeXt",
    "ViT_S16",
    "ViT_SE",
    "ViT_SW",
    "create_model",
    "decode_predictions",
    "list_models",
    "load_model",
    "preprocess_input",
    "with_dtype",
    *_LAZY_SUBMODULES,
]


def __getattr__(name: str):
    if name not in _LAZY_SUBMODULES:
        raise AttributeError(f"module 'keras_t2t' has no attribute {name!r}")
    return importlib.import_module(f"keras_t2t.{name}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
