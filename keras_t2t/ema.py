"""The exponential moving average (EMA) of the weights that Keras optimizers keep with `use_ema=True`.

Used by training (validation and the best checkpoint see the averages) and by export; a module of
its own, on Keras alone, so that neither of the two imports the other.
"""

import contextlib
from collections.abc import Iterator

import keras


def ema_optimizer(model: keras.Model) -> keras.optimizers.Optimizer | None:
    """The model's optimizer if it keeps an exponential moving average of the weights, else None."""
    optimizer = getattr(model, "optimizer", None)
    # A LossScaleOptimizer (mixed_float16) keeps the averages in its inner optimizer.
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if getattr(optimizer, "use_ema", False) and optimizer.built:
        return optimizer
    return None


@contextlib.contextmanager
def ema_weights(model: keras.Model) -> Iterator[bool]:
    """Gives the model the EMA weights its optimizer keeps, for the duration of the `with` block.

    Evaluation, best-checkpoint saving and export run inside it, so that they see the averaged
    weights; the model's own weights are put back on exit, so that training continues from them.
    Without an EMA (or before the optimizer is built) the block runs on the model's own weights.

    Yields:
        Whether EMA weights were swapped in.
    """
    optimizer = ema_optimizer(model)
    if optimizer is None:
        yield False
        return
    variables = model.trainable_variables
    values = [variable.numpy() for variable in variables]
    optimizer.finalize_variable_values(variables)
    try:
        yield True
    finally:
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
