"""Layers and factories the other layers share: T2T-ViT's initialisers, its Dense and LayerNorm."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Iterator

import keras
from keras import ops

try:
    import tensorflow as tf
except ImportError:  # the JAX and PyTorch backends run without TensorFlow
    tf = None

LAYER_NORM_EPSILON = 1e-5  # PyTorch's nn.LayerNorm default, which the official checkpoints were trained with


def dense_kernel_initializer() -> keras.initializers.Initializer:
    """Truncated normal, std 0.02: the initialisation of every Dense kernel in T2T-ViT."""
    return keras.initializers.TruncatedNormal(stddev=0.02)


_SQRT_HALF = 0.7071067811865476
_INVERSE_SQRT_TWO_PI = 0.3989422804014327


def _compiled(function):
    """`function` compiled by XLA into one kernel where TensorFlow is installed."""
    return function if tf is None else tf.function(function, jit_compile=True, autograph=False)


def _scoped_like_tensorflows_gradients(gradient):
    """`gradient` run under the name scope `gradient_tape/<the forward's scope>/`, where TensorFlow
    puts the kernels of its own gradients. A `tf.custom_gradient`'s gradient is called at the root
    scope, so its kernels would carry neither the layer's name nor the mark of the backward pass, in
    graphs and in profiles (`keras_t2t.benchmark.profile` sorts kernels into parts by these names).
    Call it in the forward function, where the forward's scope is current."""
    scope = tf.get_current_name_scope()

    def scoped(upstream):
        with tf.name_scope(f"gradient_tape/{scope}/" if scope else "gradient_tape/"):
            return gradient(upstream)

    return scoped


@_compiled
def _gelu_forward(x):
    x32 = tf.cast(x, tf.float32)
    return tf.cast(x32 * (0.5 + 0.5 * tf.math.erf(x32 * _SQRT_HALF)), x.dtype)


@_compiled
def _gelu_backward(x, upstream):
    # d/dx [x * Phi(x)] = Phi(x) + x * phi(x), with Phi and phi the standard normal cdf and pdf.
    x32 = tf.cast(x, tf.float32)
    cdf = 0.5 + 0.5 * tf.math.erf(x32 * _SQRT_HALF)
    slope = cdf + x32 * tf.exp(-0.5 * tf.square(x32)) * _INVERSE_SQRT_TWO_PI
    return tf.cast(tf.cast(upstream, tf.float32) * slope, x.dtype)


def compiled_gelu(x: tf.Tensor) -> tf.Tensor:
    """The exact GELU `x * Phi(x)` and its gradient, each one XLA kernel, in float32 inside for any
    input dtype; TensorFlow only.

    For training steps that TensorFlow runs kernel by kernel, where the GELU of a Dense layer cannot
    fuse with its matmul: TensorFlow's GELU and its gradient are about ten elementwise kernels over
    the layer's widest activations, each a pass over memory (and slower in bfloat16 than in
    float32). Inside an XLA-compiled step the two functions are inlined into the step's fusions.
    """

    @tf.custom_gradient
    def gelu(x):
        gradient = _scoped_like_tensorflows_gradients(lambda upstream: _gelu_backward(x, upstream))
        return _gelu_forward(x), gradient

    return gelu(x)


@_compiled
def _dropout_forward(x, seed, rate):
    # XLA's CPU Philox generator is far slower than threefry; the algorithm is fixed for that.
    keep = tf.random.stateless_uniform(tf.shape(x), seed, alg="threefry") >= rate
    return _scale_kept(x, keep, rate), keep


@_compiled
def _scale_kept(x, keep, rate):
    return tf.where(keep, tf.cast(tf.cast(x, tf.float32) / (1.0 - rate), x.dtype), tf.zeros_like(x))


def compiled_dropout(x: tf.Tensor, rate: float, seed: tf.Tensor) -> tf.Tensor:
    """Inverted dropout of `x` (kept values scaled by `1 / (1 - rate)`) and its gradient, each one
    XLA kernel; TensorFlow only. `seed` is a stateless seed, int32 of shape `(2,)`.

    `tf.nn.experimental.stateless_dropout`, which Keras' Dropout runs on TensorFlow, is five kernels
    over the tensor (the uniform noise, a comparison, a cast and two multiplies), and its gradient
    two more. Here the forward is one kernel that also returns the boolean mask, and the gradient is
    the upstream gradient through the same mask and scale.
    """

    @tf.custom_gradient
    def drop(x):
        y, keep = _dropout_forward(x, seed, rate)
        return y, _scoped_like_tensorflows_gradients(lambda upstream: _scale_kept(upstream, keep, rate))

    return drop(x)


@keras.saving.register_keras_serializable(package="keras_t2t")
class FusedDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` whose training steps on CPU run `compiled_dropout`: one kernel each
    way instead of about seven. Elsewhere (inference, GPUs, JAX and PyTorch, a `noise_shape`) it is
    Keras' Dropout. The same arguments, and the same distribution of masks (not the same draws).

    Input shape: any. Output shape: the same.
    """

    def call(self, inputs, training=False):
        if self.rate > 0 and self.noise_shape is None and uses_cpu_training_kernels(training):
            seed = keras.random.randint((2,), 0, 2**31 - 1, seed=self.seed_generator, dtype="int32")
            return compiled_dropout(inputs, self.rate, seed)
        return super().call(inputs, training=training)


@keras.saving.register_keras_serializable(package="keras_t2t")
class TokenDense(keras.layers.Dense):
    """`keras.layers.Dense` that multiplies the tokens of all samples as one matrix.

    Keras' Dense multiplies a `(batch, tokens, dim)` input with a tensordot (reshape, matmul, reshape)
    and adds the bias and activation after the reshape back. Here the bias and activation are applied
    to the 2-D product, so TensorFlow's graph optimiser fuses matmul, bias and activation (GELU
    included) into one oneDNN kernel: about 10% faster T2T-ViT blocks on CPU. In training steps on
    CPU, where the GELU cannot fuse (its gradient needs the pre-activation), the GELU is
    `compiled_gelu`. Same weights, same results as `keras.layers.Dense`.

    Input shape: `(..., input_dim)`. Output shape: `(..., units)`.
    """

    def call(self, inputs, training=None):
        if in_portable_graph() and self.activation is keras.activations.gelu:
            # TensorFlow computes the exact GELU with Erfc, which tf2onnx does not convert; the
            # same function through erf (`kernel` includes a LoRA update, as in Dense.call).
            outputs = self._affine(inputs)
            return 0.5 * outputs * (1.0 + ops.erf(outputs * _SQRT_HALF))
        tokens = inputs if len(inputs.shape) == 2 else ops.reshape(inputs, (-1, inputs.shape[-1]))
        if self.activation is keras.activations.gelu and uses_cpu_training_kernels(training):
            # The backward pass needs the pre-activation, so the GELU cannot fuse with the matmul
            # as in inference; compiled, it runs as one kernel each way instead of about ten.
            outputs = compiled_gelu(self._affine(tokens))
        else:
            outputs = super().call(tokens)
        if len(inputs.shape) == 2:
            return outputs
        return ops.reshape(outputs, (*ops.shape(inputs)[:-1], self.units))

    def _affine(self, inputs):
        outputs = ops.matmul(inputs, self.kernel)
        return outputs if self.bias is None else outputs + self.bias

    def quantize(self, mode=None, type_check=True, config=None):
        """`Dense.quantize` (`model.quantize("int8")` and the other modes). Dense refuses its
        subclasses, whose `call` may compute something else; this one computes what Dense does,
        and its quantized forms are Dense's own."""
        super().quantize(mode, type_check=False, config=config)


def dense(
    units: int,
    name: str,
    use_bias: bool = True,
    activation: str | None = None,
    dtype=None,
    keras_layer: bool = False,
) -> keras.layers.Dense:
    """A `TokenDense` layer with T2T-ViT's initialisation (truncated normal kernel, zero bias).

    `keras_layer=True` gives a plain `keras.layers.Dense` instead, for a layer called in a
    functional model: Keras keys its saved weights by class name there, and `.keras` files saved
    before `TokenDense` existed name it `dense`.
    """
    layer_class = keras.layers.Dense if keras_layer else TokenDense
    return layer_class(
        units,
        use_bias=use_bias,
        activation=activation,
        kernel_initializer=dense_kernel_initializer(),
        bias_initializer="zeros",
        name=name,
        dtype=dtype,
    )


@keras.saving.register_keras_serializable(package="keras_t2t")
class TokenLayerNormalization(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` over the last axis, in forms TensorFlow runs fast.

        y = (x - mean) * rsqrt(variance + epsilon) * gamma + beta

    For inference on CPU with oneDNN (`tensorflow_uses_onednn`), the normalisation runs as a
    training-mode `FusedBatchNormV3` on a `(1, rows, dim, 1)` NCHW view of the input, each row a
    "channel": TensorFlow's graph optimiser rewrites that form, with the scale and offset, into one
    oneDNN `_MklLayerNorm` kernel, where Keras' form runs about ten elementwise and reduction
    kernels. Everywhere else it runs the centred form above as plain operations (as inside
    `portable_graph()`, for other runtimes): in training, where the rewrite does not apply, XLA fuses
    the plain form well, and XLA compiled the batch-norm form's gradient into a fusion that made a
    T2T-ViT-7 training step almost three times slower on CPU; on GPUs; and on CPUs where TensorFlow
    runs without oneDNN, whose own `FusedBatchNormV3` is slower than the plain form. The form is
    chosen when the layer is traced, so a SavedModel keeps the form of the machine that exported
    it. On the JAX and PyTorch backends it is the centred form in `keras.ops`. Same weights as
    `keras.layers.LayerNormalization` and, up to rounding, the same results.
    Like Keras, it computes in float32 under mixed precision.

    Input shape: `(..., dim)`. Output shape: the same.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.axis not in (-1, [-1]) or not (self.center and self.scale) or self.rms_scaling:
            raise ValueError(
                "TokenLayerNormalization normalises the last axis with a scale and an offset; for "
                "other settings use keras.layers.LayerNormalization."
            )

    def call(self, inputs, training=None):
        if not uses_cpu_inference_kernels(training):
            x = ops.cast(inputs, "float32")
            normalized = _centred_normalization(x, self.epsilon)
        else:
            # oneDNN's kernel computes the statistics in float32 for bfloat16 data too, so bfloat16
            # inputs go in as they are: no casts of the activations before and after.
            keep_bfloat16 = inputs.dtype == tf.bfloat16 and tensorflow_uses_onednn("bfloat16")
            x = inputs if keep_bfloat16 else tf.cast(inputs, tf.float32)
            normalized = _batch_norm_over_rows(x, self.epsilon)
        gamma, beta = ops.cast(self.gamma, x.dtype), ops.cast(self.beta, x.dtype)
        return ops.cast(normalized * gamma + beta, self.compute_dtype)


_PORTABLE_GRAPH = contextvars.ContextVar("keras_t2t_portable_graph", default=False)


@contextlib.contextmanager
def portable_graph() -> Iterator[None]:
    """Layers traced inside the block use only operations that other runtimes convert (ONNX through
    tf2onnx, LiteRT, OpenVINO), for the same results: the plain layer norm instead of TensorFlow's
    oneDNN form (tf2onnx rejects its `PlaceholderWithDefault` barriers), soft splits as strided
    slices (LiteRT has no `ExtractImagePatches`), GELU through erf (tf2onnx lacks Erfc)."""
    token = _PORTABLE_GRAPH.set(True)
    try:
        yield
    finally:
        _PORTABLE_GRAPH.reset(token)


def in_portable_graph() -> bool:
    """Whether a layer is being traced inside `portable_graph()`."""
    return _PORTABLE_GRAPH.get()


def uses_cpu_inference_kernels(training: bool | None, dtype: str = "float32") -> bool:
    """Whether a layer traced now takes the forms written for TensorFlow's oneDNN inference kernels
    on `dtype` data on CPU: on the TensorFlow backend with oneDNN on for that type
    (`tensorflow_uses_onednn`), outside training and `portable_graph()`, with no GPU."""
    return not training and _tensorflow_on_cpu() and tensorflow_uses_onednn(dtype)


def uses_cpu_training_kernels(training: bool | None) -> bool:
    """Whether a layer traced now takes the forms written for TensorFlow's training steps on CPU:
    on the TensorFlow backend, in training, outside `portable_graph()`, with no GPU (a GPU plugin
    such as Apple's Metal may not run XLA)."""
    return bool(training) and _tensorflow_on_cpu()


@functools.cache
def tensorflow_uses_onednn(dtype: str = "float32") -> bool:
    """Whether TensorFlow runs its CPU kernels on `dtype` data through oneDNN in this process.

    TensorFlow turns oneDNN on by default on x86 CPUs with AVX-512 VNNI, AVX512-BF16 or AMX (Intel
    Cascade Lake and newer), and off elsewhere, AVX2-only AMD and Intel CPUs among them;
    `TF_ENABLE_ONEDNN_OPTS=0` or `1` overrides that when the process starts. bfloat16 kernels also
    need a CPU with AVX-512. Without oneDNN, the forms written for its fused kernels are slower
    than the plain ones (TensorFlow's own `FusedBatchNormV3` is no fast layer norm), and its own
    bfloat16 softmax computes in bfloat16.
    """
    try:
        # TensorFlow reports its decision (the CPU checks and the variable together) only through
        # these private modules; were they gone, the variable alone decides, unset counting as on.
        from tensorflow.python.util import _pywrap_util_port, _pywrap_utils
    except ImportError:
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").lower() not in ("0", "false")
    data_type = tf.as_dtype(dtype).as_datatype_enum
    return bool(
        _pywrap_util_port.IsMklEnabled() and _pywrap_utils.IsDataTypeSupportedByOneDNNOnThisCPU(data_type)
    )


def _tensorflow_on_cpu() -> bool:
    if in_portable_graph() or keras.config.backend() != "tensorflow":
        return False
    return not tf.config.list_logical_devices("GPU")


def _centred_normalization(x, epsilon: float):
    centred = x - ops.mean(x, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
    return centred * ops.rsqrt(variance + epsilon)


def _batch_norm_over_rows(x: tf.Tensor, epsilon: float) -> tf.Tensor:
    # oneDNN's layer-norm rewrite needs an input of the output's shape (the optimiser would merge a
    # reshape before this one, e.g. a soft split's, into it) and Fill ops for the scale and offset
    # (with static shapes it would fold them into constants).
    x = _opaque_to_graph_optimizer(x)
    shape = tf.shape(x)
    rows = _opaque_to_graph_optimizer(tf.reduce_prod(shape[:-1]))
    normalized, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=tf.reshape(x, tf.stack([1, rows, shape[-1], 1])),
        scale=tf.fill([rows], 1.0),
        offset=tf.fill([rows], 0.0),
        mean=tf.constant([], tf.float32),
        variance=tf.constant([], tf.float32),
        epsilon=epsilon,
        data_format="NCHW",
        is_training=True,
    )
    return tf.reshape(normalized, shape)


def _opaque_to_graph_optimizer(tensor: tf.Tensor) -> tf.Tensor:
    """`tensor` behind an identity that TensorFlow's graph optimiser neither folds nor looks through."""
    return tf.raw_ops.PlaceholderWithDefault(input=tensor, shape=tensor.shape)


def layer_norm(name: str, dtype=None, keras_layer: bool = False) -> keras.layers.LayerNormalization:
    """Layer normalisation over the last axis with PyTorch's epsilon: a `TokenLayerNormalization`,
    or with `keras_layer=True` a plain `keras.layers.LayerNormalization` (see `dense`)."""
    layer_class = keras.layers.LayerNormalization if keras_layer else TokenLayerNormalization
    return layer_class(epsilon=LAYER_NORM_EPSILON, name=name, dtype=dtype)


def cheap_operation(name: str, dtype=None) -> keras.layers.DepthwiseConv1D:
    """GhostNet's 'cheap operation' on tokens: a depthwise 1x1 convolution, i.e. one learned scale per
    channel, without bias.

    Initialised uniformly in [-1, 1], PyTorch's default for a depthwise 1x1 convolution (fan-in 1),
    which the official T2T-ViT-Ghost keeps; Keras' fan-in rules would count every channel instead.
    """
    return keras.layers.DepthwiseConv1D(
        kernel_size=1,
        use_bias=False,
        depthwise_initializer=keras.initializers.RandomUniform(-1.0, 1.0),
        name=name,
        dtype=dtype,
    )
