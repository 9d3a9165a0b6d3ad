"""Initializers and small factories shared by the layers."""

import keras

LAYER_NORM_EPSILON = 1e-5  # PyTorch's nn.LayerNorm default, which the official checkpoints were trained with


def dense_kernel_initializer() -> keras.initializers.Initializer:
    """Truncated normal, std 0.02: the initialisation of every Dense kernel in T2T-ViT."""
    return keras.initializers.TruncatedNormal(stddev=0.02)


def dense(units: int, name: str, use_bias: bool = True, dtype=None) -> keras.layers.Dense:
    """A Dense layer with T2T-ViT's initialisation (truncated normal kernel, zero bias)."""
    return keras.layers.Dense(
        units,
        use_bias=use_bias,
        kernel_initializer=dense_kernel_initializer(),
        bias_initializer="zeros",
        name=name,
        dtype=dtype,
    )


def layer_norm(name: str, dtype=None) -> keras.layers.LayerNormalization:
    """LayerNormalization over the last axis with PyTorch's epsilon."""
    return keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=name, dtype=dtype)


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
