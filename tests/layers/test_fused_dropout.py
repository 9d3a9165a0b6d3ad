import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2t.layers import FusedDropout
from keras_t2t.layers.utils import compiled_dropout
from tests.kernels import executed_op_types


def _output_and_gradient(drop, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = drop(x)
    return y, tape.gradient(y, x, output_gradients=tf.cast(upstream, y.dtype))


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_compiled_dropout_keeps_scales_and_passes_the_gradient_through_the_mask(dtype):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(8, 500, 16)) + 3.0, dtype)  # no input is zero
    upstream = tf.constant(rng.normal(size=(8, 500, 16)), tf.float32)
    rate = 0.3
    y, dx = _output_and_gradient(lambda t: compiled_dropout(t, rate, tf.constant([4, 2])), x, upstream)

    assert y.dtype == x.dtype and dx.dtype == x.dtype
    y, dx, x = (tf.cast(t, tf.float32).numpy() for t in (y, dx, x))
    kept = y != 0.0
    # 64000 draws: the kept fraction is within 0.01 of 0.7 with overwhelming probability.
    assert abs(kept.mean() - (1 - rate)) < 0.01
    tolerance = 1e-6 if dtype == "float32" else 1e-2
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=tolerance)
    np.testing.assert_allclose(
        dx, np.where(kept, upstream.numpy() / (1 - rate), 0.0), rtol=tolerance, atol=1e-6
    )


@pytest.mark.tensorflow_only
def test_compiled_dropout_draws_its_mask_from_the_seed():
    x = tf.ones((64, 64))
    first, again, other = (compiled_dropout(x, 0.5, tf.constant(seed)) for seed in ([1, 2], [1, 2], [1, 3]))
    np.testing.assert_array_equal(first, again)
    assert np.mean(first.numpy() != other.numpy()) > 0.3


@pytest.mark.tensorflow_only
def test_fused_dropout_trains_with_one_compiled_kernel_each_way(tmp_path):
    """No uniform noise, comparison or multiply kernels: the noise, the mask and the scaling, forward
    and backward, run as XLA fusions. (Drawing the (2,) seed casts, so a Cast kernel remains.)"""
    layer = FusedDropout(0.1)
    upstream = tf.random.normal((4, 8, 32))
    step = tf.function(lambda x: _output_and_gradient(lambda t: layer(t, training=True), x, upstream))
    op_types = executed_op_types(step, tf.random.normal((4, 8, 32)), logdir=tmp_path)
    assert any("fusion" in op for op in op_types), sorted(op_types)
    assert not {"StatelessRandomUniformV2", "GreaterEqual", "Mul", "RealDiv"} & op_types, sorted(op_types)


def test_fused_dropout_is_dropout_on_every_backend():
    """Identity outside training; in training, new masks at each call, with Keras' scaling."""
    layer = FusedDropout(0.5, seed=3)
    x = np.ones((32, 16), "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    first, second = (keras.ops.convert_to_numpy(layer(x, training=True)) for _ in range(2))
    assert set(np.unique(first)) <= {0.0, 2.0}
    assert 0.4 < np.mean(first == 0.0) < 0.6
    assert not np.array_equal(first, second)


def test_fused_dropout_with_a_noise_shape_drops_whole_rows():
    layer = FusedDropout(0.5, noise_shape=(None, 1, 8), seed=1)
    out = keras.ops.convert_to_numpy(layer(np.ones((64, 5, 8), "float32"), training=True))
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))
    assert 0.3 < np.mean(out == 0.0) < 0.7


def test_fused_dropout_config_round_trip():
    layer = FusedDropout(0.2, noise_shape=(None, 1, 4), seed=5, name="drop")
    clone = FusedDropout.from_config(layer.get_config())
    assert (clone.rate, tuple(clone.noise_shape), clone.seed, clone.name) == (0.2, (None, 1, 4), 5, "drop")
