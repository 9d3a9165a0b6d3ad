"""Tokens-to-Token Vision Transformers (T2T-ViT) for Keras 3.

Importing the package registers its Keras classes, so that `keras.saving.load_model` and
keras-hub's `from_preset` find them. The submodules that bring more than Keras (`data` and
`training`: tensorflow-datasets; `visualize`: matplotlib; `convert`, `export`, `benchmark`, and
`runtimes`, which runs exported files in ONNX Runtime, LiteRT or OpenVINO) load on first use.
"""

import importlib

from keras_t2t import models
from keras_t2t.imagenet_classes import decode_predictions
from keras_t2t.models import *  # noqa: F403  (the model API: builders, classes, presets, helpers)

__version__ = "0.1.0"

_LAZY_SUBMODULES = ("benchmark", "convert", "data", "export", "runtimes", "training", "visualize")

__all__ = [*models.__all__, "decode_predictions", "models", *_LAZY_SUBMODULES]


def __getattr__(name: str):
    if name not in _LAZY_SUBMODULES:
        raise AttributeError(f"module 'keras_t2t' has no attribute {name!r}")
    return importlib.import_module(f"keras_t2t.{name}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
