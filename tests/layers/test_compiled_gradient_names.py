import pytest
import tensorflow as tf

from keras_t2t.layers.utils import compiled_dropout, compiled_gelu


@pytest.mark.tensorflow_only
@pytest.mark.parametrize(
    "function",
    [compiled_gelu, lambda x: compiled_dropout(x, 0.5, tf.constant([1, 2]))],
    ids=["gelu", "dropout"],
)
def test_compiled_gradients_are_named_like_tensorflows_own(function):
    """The XLA kernel of a custom gradient sits under `gradient_tape/<layer scope>/`, as the
    gradients TensorFlow derives itself do (the matmul's here), so graphs and profiles show which
    layer's backward pass it is."""
    kernel = tf.Variable(tf.random.normal((8, 8)))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape, tf.name_scope("model/block_3/mlp"):
            y = function(tf.matmul(x, kernel))
        return tape.gradient(y, kernel)

    graph = step.get_concrete_function(tf.TensorSpec((4, 8))).graph
    calls = sorted(op.name for op in graph.get_operations() if op.type == "PartitionedCall")
    forward = [name for name in calls if not name.startswith("gradient_tape/")]
    backward = [name for name in calls if name.startswith("gradient_tape/")]
    assert forward == ["model/block_3/mlp/PartitionedCall"], calls
    assert backward == ["gradient_tape/model/block_3/mlp/PartitionedCall"], calls
    matmul_gradients = [op.name for op in graph.get_operations() if op.type == "MatMul"]
    assert any(name.startswith("gradient_tape/model/block_3/mlp/") for name in matmul_gradients)
