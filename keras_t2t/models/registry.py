"""Builders by official name: `create_model("t2t_vit_14")`, `list_models()`."""

import difflib
from collections.abc import Callable

import keras

_BUILDERS: dict[str, Callable[..., keras.Model]] = {}


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
