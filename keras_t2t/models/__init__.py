"""T2T-ViT models: the keras-hub classes (backbone, image classifier, its preprocessor and image
converter), the keras.applications-style builders, and the registry of official names."""

from keras_t2t.models.backbone import T2TViTBackbone
from keras_t2t.models.dense import T2TViT_Dense
from keras_t2t.models.ghost import T2TViT16_Ghost, ViT_Ghost
from keras_t2t.models.image_classifier import T2TViTImageClassifier
from keras_t2t.models.image_converter import T2TViTImageClassifierPreprocessor, T2TViTImageConverter
from keras_t2t.models.precision import with_dtype
from keras_t2t.models.preprocessing import preprocess_input
from keras_t2t.models.presets import PRESETS, Preset
from keras_t2t.models.registry import create_model, list_models
from keras_t2t.models.saving import load_model
from keras_t2t.models.se import T2TViT14_SE, ViT_SE
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
from keras_t2t.models.vit import ViT_DN, ViT_ResNeXt, ViT_S16, ViT_SW

__all__ = [
    "T2TViT10",
    "T2TViT12",
    "T2TViT14",
    "T2TViT14_ResNeXt",
    "T2TViT14_SE",
    "T2TViT14_Wide",
    "T2TViT16_Ghost",
    "T2TViT19",
    "T2TViT24",
    "T2TViT7",
    "T2TViTBackbone",
    "T2TViTImageClassifier",
    "T2TViTImageClassifierPreprocessor",
    "T2TViTImageConverter",
    "T2TViT_Dense",
    "T2TViT_t14",
    "T2TViT_t19",
    "T2TViT_t24",
    "PRESETS",
    "Preset",
    "VARIANTS",
    "Variant",
    "ViT_DN",
    "ViT_Ghost",
    "ViT_ResNeXt",
    "ViT_S16",
    "ViT_SE",
    "ViT_SW",
    "create_model",
    "list_models",
    "load_model",
    "preprocess_input",
    "with_dtype",
]
