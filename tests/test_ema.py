import keras
import numpy as np

from keras_t2t.ema import ema_optimizer, ema_weights


def linear_model() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    model.layers[0].set_weights([np.ones((3, 2), "float32"), np.zeros(2, "float32")])
    return model


def test_ema_weights_are_the_moving_average_and_the_own_weights_come_back():
    momentum = 0.5
    model = linear_model()
    model.compile(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=momentum), "mse")
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    y = np.zeros((4, 2), "float32")
    after_each_step = []
    for _ in range(3):
        model.train_on_batch(x, y)
        after_each_step.append([w.numpy() for w in model.trainable_variables])
    # Keras' average starts at the first step's weights, then average = m * average + (1 - m) * w.
    expected = after_each_step[0]
    for weights in after_each_step[1:]:
        expected = [momentum * a + (1 - momentum) * w for a, w in zip(expected, weights, strict=True)]

    assert ema_optimizer(model) is model.optimizer
    with ema_weights(model) as swapped:
        assert swapped
        for variable, value in zip(model.trainable_variables, expected, strict=True):
            np.testing.assert_allclose(variable.numpy(), value, rtol=1e-6)
    for variable, value in zip(model.trainable_variables, after_each_step[-1], strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)


def test_without_ema_the_block_runs_on_the_own_weights():
    model = linear_model()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.train_on_batch(np.ones((2, 3), "float32"), np.zeros((2, 2), "float32"))
    own = [w.numpy() for w in model.weights]
    assert ema_optimizer(model) is None
    with ema_weights(model) as swapped:
        assert not swapped
        for variable, value in zip(model.weights, own, strict=True):
            np.testing.assert_array_equal(variable.numpy(), value)


def test_the_average_is_found_inside_a_loss_scale_optimizer():
    keras.config.set_dtype_policy("mixed_float16")
    model = linear_model()
    model.compile(keras.optimizers.SGD(0.1, use_ema=True), "mse")
    model.train_on_batch(np.ones((2, 3), "float32"), np.zeros((2, 2), "float32"))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert ema_optimizer(model) is model.optimizer.inner_optimizer
