"""T2T-ViT models: the backbone, the classifier builders, and the registry of official names."""

from keras_t2t.models.backbone import T2TViTBackbone
from keras_t2t.models.preprocessing import preprocess_input
from keras_t2t.models.registry import create_model, list_models
from keras_t2t.models.t2t_vit import (
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
)
from keras_t2t.models.variants import VARIANTS, Variant

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
    "Variant",
    "create_model",
    "list_models",
    "preprocess_input",
]
