import math

import keras
import numpy as np
import pytest

import keras_t2t
from keras_t2t.training import (
    Recipe,
    build_optimizer,
    learning_rate_schedule,
    scaled_learning_rate,
    weight_decay_exclusions,
)

PEAK, WARMUP_LR, MIN_LR = 1e-3, 1e-6, 1e-5
# 10 steps an epoch, 3 warm-up epochs, cosine to epoch 30: warm-up [0, 30), cosine [30, 300].
SCHEDULE = dict(steps_per_epoch=10, epochs=30, warmup_epochs=3, warmup_lr=WARMUP_LR, min_lr=MIN_LR)


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, WARMUP_LR),
        (15, WARMUP_LR + (PEAK - WARMUP_LR) / 2),
        (30, PEAK),  # end of the warm-up: the peak
        (30 + 270 / 3, MIN_LR + (PEAK - MIN_LR) * 0.75),  # cos(pi / 3) = 1 / 2
        (165, (PEAK + MIN_LR) / 2),  # the cosine's midpoint
        (300, MIN_LR),
        (301, MIN_LR),  # the cooldown stays at the minimum
        (400, MIN_LR),
    ],
)
def test_schedule_values(step, expected):
    schedule = learning_rate_schedule(PEAK, **SCHEDULE)
    np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-5)


def test_schedule_round_trips_through_its_config():
    schedule = learning_rate_schedule(PEAK, **SCHEDULE)
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    for step in (0, 29, 100, 350):
        assert float(restored(step)) == pytest.approx(float(schedule(step)))


def test_schedule_rejects_a_warmup_as_long_as_the_run():
    with pytest.raises(ValueError, match="warmup_epochs"):
        learning_rate_schedule(PEAK, steps_per_epoch=10, epochs=5, warmup_epochs=5)


@pytest.mark.parametrize(
    "global_batch, expected", [(512, 5e-4), (1024, 1e-3), (128, 1.25e-4), (8 * 64, 5e-4)]
)
def test_learning_rate_scales_linearly_with_the_global_batch(global_batch, expected):
    assert scaled_learning_rate(5e-4, global_batch) == pytest.approx(expected)


def test_learning_rate_scaling_takes_another_base_batch():
    assert scaled_learning_rate(1e-3, 256, lr_base_batch=128) == pytest.approx(2e-3)


@pytest.fixture(scope="module")
def tiny_model():
    return keras_t2t.create_model(
        "t2t_vit_7", input_shape=(32, 32, 3), classes=3, embed_dim=32, depth=1, num_heads=2, token_dim=8
    )


# The only variables the paper decays: the Dense kernels (biases, LayerNorm weights and the class
# token are excluded; the position embedding and the performers' random matrices are fixed).
DECAYED = {
    "tokens_to_token/attention1/kqv/kernel",
    "tokens_to_token/attention1/proj/kernel",
    "tokens_to_token/attention1/mlp/fc1/kernel",
    "tokens_to_token/attention1/mlp/fc2/kernel",
    "tokens_to_token/attention2/kqv/kernel",
    "tokens_to_token/attention2/proj/kernel",
    "tokens_to_token/attention2/mlp/fc1/kernel",
    "tokens_to_token/attention2/mlp/fc2/kernel",
    "tokens_to_token/project/kernel",
    "block_0/attn/qkv/kernel",
    "block_0/attn/proj/kernel",
    "block_0/mlp/fc1/kernel",
    "block_0/mlp/fc2/kernel",
    "head/kernel",
}


def test_weight_decay_exclusions_by_name(tiny_model):
    excluded = {variable.path for variable in weight_decay_exclusions(tiny_model)}
    trainable = {variable.path for variable in tiny_model.trainable_variables}
    assert excluded == trainable - DECAYED
    assert "class_token/token" in excluded
    assert {"block_0/norm1/gamma", "norm/beta", "head/bias"} <= excluded
    fixed = {variable.path for variable in tiny_model.non_trainable_weights}
    assert fixed == {
        "tokens_to_token/attention1/random_matrix",
        "tokens_to_token/attention2/random_matrix",
        "position_embedding/embedding",
    }


def test_adamw_decays_exactly_the_kernels(tiny_model):
    """With zero gradients Adam moves nothing, so one step leaves only the decoupled decay:
    decayed weights shrink by (1 - lr * wd), excluded ones stay."""
    lr, wd = 0.1, 0.5
    optimizer = build_optimizer(tiny_model, lr, wd)
    variables = tiny_model.trainable_variables
    before = [variable.numpy() for variable in variables]
    optimizer.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in variables])
    for variable, value in zip(variables, before, strict=True):
        factor = 1 - lr * wd if variable.path in DECAYED else 1.0
        np.testing.assert_allclose(variable.numpy(), value * factor, rtol=1e-6, err_msg=variable.path)
        variable.assign(value)


def test_optimizer_options():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    optimizer = build_optimizer(model, 1e-3, 0.05, ema_decay=0.99996, clip_norm=1.0)
    assert optimizer.use_ema and optimizer.ema_momentum == 0.99996
    assert optimizer.global_clipnorm == 1.0
    assert not build_optimizer(model, 1e-3, 0.05, ema_decay=None).use_ema
    with pytest.raises(ValueError, match="ema_decay"):
        build_optimizer(model, 1e-3, 0.05, ema_decay=1.5)


def test_paper_weight_decay_per_model():
    paper = {
        "t2t_vit_7": 0.03,
        "t2t_vit_10": 0.03,
        "t2t_vit_12": 0.03,
        "t2t_vit_14": 0.05,
        "t2t_vit_19": 0.065,
        "t2t_vit_24": 0.065,
        "t2t_vit_t_14": 0.05,
        "t2t_vit_t_19": 0.065,
        "t2t_vit_t_24": 0.065,
    }
    resolved = {name: Recipe(model=name).resolved_weight_decay() for name in paper}
    assert resolved == paper
    assert math.isclose(Recipe(model="t2t_vit_14_resnext").resolved_weight_decay(), 0.05)
    assert math.isclose(Recipe(model="t2t_vit_7", weight_decay=0.1).resolved_weight_decay(), 0.1)
