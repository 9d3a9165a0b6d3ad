"""Plain NumPy versions of T2T-ViT's maths, written from the formulas, for the tests to compare with."""

import math

import numpy as np


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def dense(x, layer):
    """Applies a Keras Dense layer's weights with NumPy."""
    kernel = np.asarray(layer.kernel)
    out = x @ kernel
    return out + np.asarray(layer.bias) if layer.use_bias else out


def norm(x, layer):
    return layer_norm(x, np.asarray(layer.gamma), np.asarray(layer.beta), layer.epsilon)


def mlp(x, layer):
    return dense(gelu(dense(x, layer.fc1)), layer.fc2)


def attention(q, k, v, num_heads, scale):
    """Multi-head softmax attention; q, k, v (batch, tokens, width). Returns outputs and probabilities."""
    b, n, width = q.shape
    d = width // num_heads
    split = [t.reshape(b, n, num_heads, d).transpose(0, 2, 1, 3) for t in (q, k, v)]
    probs = softmax(split[0] @ split[1].transpose(0, 1, 3, 2) * scale)
    out = (probs @ split[2]).transpose(0, 2, 1, 3).reshape(b, n, width)
    return out, probs


def soft_split(images, kernel, stride, padding):
    """Loop over output positions; each patch flattened in (row, col, channel) order."""
    b, h, w, c = images.shape
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    out_h = (h + 2 * padding - kernel) // stride + 1
    out_w = (w + 2 * padding - kernel) // stride + 1
    tokens = []
    for i in range(out_h):
        for j in range(out_w):
            patch = padded[:, i * stride : i * stride + kernel, j * stride : j * stride + kernel, :]
            tokens.append(patch.reshape(b, -1))
    return np.stack(tokens, axis=1)


def relu(x):
    return np.maximum(x, 0.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def block(x, layer, project_qkv, project_output, mlp_fn):
    """A pre-norm Transformer block with the given q, k, v projection, output projection and MLP."""
    q, k, v = project_qkv(norm(x, layer.norm1))
    attended, _ = attention(q, k, v, layer.num_heads, layer.attn.scale)
    y = x + project_output(attended)
    return y + mlp_fn(norm(y, layer.norm2))


def squeeze_excitation(x, layer):
    """x * sigmoid(fc2(relu(fc1(mean of x over tokens)))), fc1 and fc2 without bias."""
    gate = sigmoid(dense(relu(dense(x.mean(1), layer.fc1)), layer.fc2))
    return x * gate[:, None, :]


def cheap_operation(x, layer):
    """A depthwise 1x1 convolution without bias: one scale per channel."""
    return x * np.asarray(layer.kernel).reshape(-1)


def ghost_projection(x, projection, cheap):
    half = dense(x, projection)
    return np.concatenate([half, cheap_operation(half, cheap)], axis=-1)


def ghost_mlp(x, layer):
    hidden = gelu(dense(x, layer.fc1))
    ghosts = [gelu(cheap_operation(hidden, cheap)) for cheap in layer.cheap_operations]
    return dense(np.concatenate([hidden, *ghosts], axis=-1), layer.fc2)
