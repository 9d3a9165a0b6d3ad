"""AdamW with the paper's weight-decay exclusions, its learning-rate scaling and schedule."""

import keras

from keras_t2t.layers.class_token import ClassToken


def scaled_learning_rate(base_lr: float, global_batch: int, lr_base_batch: int = 512) -> float:
    """The linear scaling rule: `base_lr` is the rate for `lr_base_batch` images a step.

    The paper's 5e-4 at 512 gives 1e-3 at 1024 and 1.25e-4 at 128.
    """
    if global_batch < 1 or lr_base_batch < 1:
        raise ValueError(
            f"Batch sizes must be positive; got global_batch={global_batch}, lr_base_batch={lr_base_batch}."
        )
    return base_lr * global_batch / lr_base_batch


def learning_rate_schedule(
    peak_lr: float,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: int = 10,
    warmup_lr: float = 1e-6,
    min_lr: float = 1e-5,
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up, then cosine decay, then a constant floor, per step.

    With `W = warmup_epochs * steps_per_epoch` and `E = epochs * steps_per_epoch`:
    - steps `[0, W)`: linear from `warmup_lr` (at step 0) towards `peak_lr` (reached at step W);
    - steps `[W, E]`: `min_lr + (peak_lr - min_lr) * (1 + cos(pi * (t - W) / (E - W))) / 2`;
    - after E: `min_lr`, which makes the recipe's cooldown epochs.

    Keras' `CosineDecay` is exactly this: its warm-up runs from `initial_learning_rate` to
    `warmup_target`, its decay ends at `alpha * warmup_target` and stays there after `decay_steps`.
    (timm's scheduler counts the cosine from step 0 rather than from the end of the warm-up, so its
    rate at the end of a 10-of-300-epoch warm-up is 0.3% below the peak; here it is the peak.)

    Args:
        peak_lr: the rate at the end of the warm-up (the scaled base rate).
        steps_per_epoch: optimizer steps in one epoch.
        epochs: epochs of warm-up plus cosine decay (the paper's 300; the cooldown is not counted).
        warmup_epochs: epochs of linear warm-up.
        warmup_lr: the rate of the first step.
        min_lr: the rate at the end of the cosine and during the cooldown.
    """
    if not 0 <= warmup_epochs < epochs:
        raise ValueError(
            f"The warm-up must end before the cosine decay does: need 0 <= warmup_epochs < epochs; got "
            f"warmup_epochs={warmup_epochs}, epochs={epochs}."
        )
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be positive; got {steps_per_epoch}.")
    if peak_lr <= 0:
        raise ValueError(f"The peak learning rate must be positive; got {peak_lr}.")
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=warmup_lr,
        decay_steps=(epochs - warmup_epochs) * steps_per_epoch,
        alpha=min_lr / peak_lr,
        warmup_target=peak_lr,
        warmup_steps=warmup_epochs * steps_per_epoch,
    )


def weight_decay_exclusions(model: keras.Model) -> list[keras.Variable]:
    """The trainable variables the paper does not decay: biases, norm weights and the class token.

    Every trainable variable with fewer than two dimensions (the biases, LayerNorm / BatchNorm
    scales and offsets, the squeeze-excitation and Ghost vectors) and every `ClassToken`'s token.
    The position embedding and the performers' random matrices are fixed weights: not trainable,
    so the optimizer never sees them.
    """
    excluded = [variable for variable in model.trainable_variables if len(variable.shape) < 2]
    tokens = [layer.token for layer in model._flatten_layers() if isinstance(layer, ClassToken)]
    return excluded + [token for token in tokens if token.trainable]


def build_optimizer(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    weight_decay: float,
    ema_decay: float | None = None,
    clip_norm: float | None = None,
) -> keras.optimizers.AdamW:
    """`keras.optimizers.AdamW` for `model`: decoupled weight decay except on
    `weight_decay_exclusions(model)`, an optional EMA of the weights and optional clipping.

    Args:
        model: the built model to train.
        learning_rate: a rate or a schedule (see `learning_rate_schedule`).
        weight_decay: decay factor; each step multiplies a decayed weight by `1 - lr * weight_decay`.
        ema_decay: momentum of the exponential moving average of the weights (paper: 0.99996); None
            or 0 keeps none.
        clip_norm: clip the gradients to this global norm; None does not clip.
    """
    if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1) or None; got {ema_decay}.")
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        global_clipnorm=clip_norm,
        use_ema=bool(ema_decay),
        ema_momentum=ema_decay or 0.99,
    )
    optimizer.exclude_from_weight_decay(var_list=weight_decay_exclusions(model))
    return optimizer
