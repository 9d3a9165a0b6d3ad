"""Tokens-to-Token Vision Transformers (T2T-ViT) for Keras 3.

The public names below load on first use (PEP 562), so that `import keras_t2t` costs nothing
and the `keras-t2t` command can quiet TensorFlow before TensorFlow is imported.
"""

import importlib
import typing

__version__ = "0.1.0"

# Public name -> the module that defines it; a name that is itself a module maps to None.
_PUBLIC = {
    "export": None,
    "decode_predictions": "keras_t2t.imagenet_classes",
    **{
        name: "keras_t2t.models"
        for name in (
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
            "T2TViT_Dense",
            "T2TViT_t14",
            "T2TViT_t19",
            "T2TViT_t24",
            "T2TViTBackbone",
            "VARIANTS",
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
        )
    },
}

__all__ = sorted(_PUBLIC)

if typing.TYPE_CHECKING:  # for type checkers and IDEs, which do not run __getattr__
    from keras_t2t import export as export
    from keras_t2t.imagenet_classes import decode_predictions as decode_predictions
    from keras_t2t.models import *  # noqa: F403


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'keras_t2t' has no attribute {name!r}")
    module = _PUBLIC[name]
    value = (
        importlib.import_module(f"keras_t2t.{name}")
        if module is None
        else getattr(importlib.import_module(module), name)
    )
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
