"""Tokens-to-Token Vision Transformers (T2T-ViT) for Keras 3."""

from keras_t2t import export
from keras_t2t.imagenet_classes import decode_predictions
from keras_t2t.models import (
    VARIANTS,
    T2TViT7,
    T2TViT10,
    T2TViT12,
    T2TViT14,
    T2TViT14_ResNeXt,
    T2TViT14_Wide,
    T2TViT19,
    T2TViT24,
    T2TViT_t14,
    T2TViT_t19,
    T2TViT_t24,
    T2TViTBackbone,
    create_model,
    list_models,
    preprocess_input,
)

__version__ = "0.1.0"

__all__ = [
    "T2TViT10",
    "T2TViT12",
    "T2TViT14",
    "T2TViT14_ResNeXt",
    "T2TViT14_Wide",
    "T2TViT19",
    "T2TViT24",
    "T2TViT7",
    "T2TViTBackbone",
    "T2TViT_t14",
    "T2TViT_t19",
    "T2TViT_t24",
    "VARIANTS",
    "create_model",
    "decode_predictions",
    "export",
    "list_models",
    "preprocess_input",
]
