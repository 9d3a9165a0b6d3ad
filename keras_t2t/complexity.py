"""Parameter and multiply-accumulate counts of a Keras model, read off its TensorFlow graph."""

import math

import keras
import numpy as np
import tensorflow as tf


def count_params(model: keras.Model) -> tuple[int, int]:
    """(total, trainable) numbers of weights; total includes the fixed, non-trainable ones."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return model.count_params(), trainable


def _static_shape(tensor: tf.Tensor) -> list[int]:
    shape = tensor.shape.as_list()
    if any(d is None for d in shape):
        raise ValueError(f"MAC counting needs static shapes; {tensor.name} has shape {shape}.")
    return shape


def _einsum_macs(equation: str, inputs: list[tf.Tensor]) -> int:
    operands = equation.replace(" ", "").split("->")[0].split(",")
    sizes = {}
    for letters, tensor in zip(operands, inputs, strict=True):
        sizes.update(zip(letters, _static_shape(tensor), strict=True))
    return math.prod(sizes.values())


def _matmul_macs(op: tf.Operation) -> int:
    a, b = (_static_shape(t) for t in op.inputs[:2])
    transpose_a = op.get_attr("adj_x" if op.type.startswith("BatchMatMul") else "transpose_a")
    reduced = a[-2] if transpose_a else a[-1]
    output = _static_shape(op.outputs[0])
    return math.prod(output) * reduced


def _conv_macs(op: tf.Operation) -> int:
    kernel = _static_shape(op.inputs[1])
    output = _static_shape(op.outputs[0])
    if op.type == "DepthwiseConv2dNative":
        return math.prod(output) * kernel[0] * kernel[1]
    return math.prod(output) * kernel[0] * kernel[1] * kernel[2]


def _op_macs(op: tf.Operation) -> int:
    if op.type == "Einsum":
        return _einsum_macs(op.get_attr("equation").decode(), list(op.inputs))
    if op.type in ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
        return _matmul_macs(op)
    if op.type in ("Conv2D", "DepthwiseConv2dNative"):
        return _conv_macs(op)
    return 0


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one inference on one image (matmul, einsum and convolution ops).

    The model is traced with batch size 1 at its input shape; element-wise work (exp, softmax, layer
    norm, GELU) is not counted, as in the paper's figures. It needs Keras' TensorFlow backend, whose
    layers trace into the graph that is counted.
    """
    if keras.config.backend() != "tensorflow":
        raise RuntimeError(
            f"count_macs reads the model's TensorFlow graph, and Keras' backend is "
            f"{keras.config.backend()!r}. Run it with KERAS_BACKEND=tensorflow (MACs do not depend on "
            f"the backend)."
        )
    input_shape = (1, *model.input_shape[1:])

    @tf.function
    def forward(images):
        return model(images, training=False)

    graph = forward.get_concrete_function(tf.TensorSpec(input_shape, tf.float32)).graph
    return sum(_op_macs(op) for op in graph.get_operations())
