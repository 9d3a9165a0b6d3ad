"""Builders by official name (`create_model("t2t_vit_14")`, `list_models()`), and the named presets'
directories (`preset_location("t2t_vit_14_imagenet")`).

The builders and the preset directories are registered by `keras_t2t.models.t2t_vit`, which the
classes' `from_preset` cannot import (it imports them).
"""

import difflib
import os
from collections.abc import Callable

import keras

_BUILDERS: dict[str, Callable[..., keras.Model]] = {}
_PRESET_DIRECTORIES: dict[str, Callable[[], str]] = {}


def register_model(name: str, builder: Callable[..., keras.Model]) -> None:
    """Makes `builder` reachable as `create_model(name)`."""
    if name in _BUILDERS:
        raise ValueError(f"A model is already registered as {name!r}.")
    _BUILDERS[name] = builder


def list_models() -> list[str]:
    """The names `create_model` takes, e.g. "t2t_vit_14" (the official release's names)."""
    return sorted(_BUILDERS)


def get_builder(name: str) -> Callable[..., keras.Model]:
    """The builder registered as `name`; a ValueError naming close matches otherwise."""
    if name in _BUILDERS:
        return _BUILDERS[name]
    close = difflib.get_close_matches(name, _BUILDERS, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"Unknown model {name!r}.{hint} Known models: {', '.join(list_models())}.")


def create_model(name: str, **kwargs) -> keras.Model:
    """Builds the model registered as `name` (see `list_models()`) with the builder's arguments.

    Example: `create_model("t2t_vit_14", classes=10, input_shape=(384, 384, 3))`.
    """
    return get_builder(name)(**kwargs)


def register_preset(name: str, make_directory: Callable[[], str]) -> None:
    """Makes `preset_location(name)` the directory `make_directory()` returns (and makes)."""
    if name in _PRESET_DIRECTORIES:
        raise ValueError(f"A preset is already registered as {name!r}.")
    _PRESET_DIRECTORIES[name] = make_directory


def preset_location(preset: str) -> str:
    """What keras-hub's `from_preset` is to load for `preset`: a named preset's local directory
    (made on first use), or `preset` itself, a directory or a Kaggle / Hugging Face handle.

    Raises:
        ValueError: `preset` is neither a known name, a handle nor an existing path.
    """
    if preset in _PRESET_DIRECTORIES:
        return _PRESET_DIRECTORIES[preset]()
    if "://" in preset or os.path.exists(preset):
        return preset
    close = difflib.get_close_matches(preset, _PRESET_DIRECTORIES, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"{preset!r} is neither a keras_t2t preset, a directory nor a handle (kaggle://..., hf://...)."
        f"{hint} The presets are {', '.join(sorted(_PRESET_DIRECTORIES))}."
    )


class NamedPresets:
    """Mixin for keras-hub classes: `from_preset` also takes the names of `keras_t2t.models.PRESETS`
    (e.g. "t2t_vit_14_imagenet"), the official checkpoints, downloaded and converted into a preset
    directory in the Keras cache on first use (see `keras_t2t.models.pretrained`)."""

    @classmethod
    def from_preset(cls, preset: str, load_weights: bool = True, **kwargs):
        return super().from_preset(preset_location(preset), load_weights=load_weights, **kwargs)
