import math

import keras
import numpy as np
import pytest

from keras_t2t.layers import TokenPerformer
from tests import numpy_reference as ref


def _numpy_performer(x, layer):
    """The official performer T2T layer, written with NumPy from the formulas."""
    h = ref.norm(x, layer.norm1)
    k, q, v = np.split(ref.dense(h, layer.kqv), 3, axis=-1)
    w = keras.ops.convert_to_numpy(layer.random_matrix)
    m = w.shape[0]

    def phi(t):
        return np.exp(t @ w.T - (t * t).sum(-1, keepdims=True) / 2) / math.sqrt(m)

    qp, kp = phi(q), phi(k)
    normaliser = qp @ kp.sum(1)[..., None]  # (B, T, 1)
    y = qp @ (kp.transpose(0, 2, 1) @ v) / (normaliser + 1e-8)
    y = v + ref.dense(y, layer.proj)
    return y + ref.mlp(ref.norm(y, layer.norm2), layer.mlp)


def test_matches_numpy_reference():
    x = np.random.default_rng(1).normal(size=(2, 10, 27)).astype("float32")
    layer = TokenPerformer(emb_dim=16, seed=3)
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (2, 10, 16)
    np.testing.assert_allclose(out, _numpy_performer(x.astype("float64"), layer), atol=1e-5, rtol=1e-4)


def test_random_matrix_is_fixed_orthogonal_and_scaled():
    layer = TokenPerformer(emb_dim=64, kernel_ratio=0.5, seed=0)
    layer.build((None, 10, 147))
    w = keras.ops.convert_to_numpy(layer.random_matrix)
    assert w.shape == (32, 64)
    np.testing.assert_allclose(w @ w.T, 32 * np.eye(32), atol=1e-3)
    assert not layer.random_matrix.trainable
    assert sum(int(np.prod(v.shape)) for v in layer.non_trainable_weights) == 32 * 64


def _attention_matrices(kernel_ratio, seed, tokens=32, dim=16):
    """The performer's implied attention matrix (values = identity) and the exact softmax one."""
    rng = np.random.default_rng(seed)
    q, k = (0.3 * rng.normal(size=(1, tokens, dim)).astype("float32") for _ in range(2))
    layer = TokenPerformer(emb_dim=dim, kernel_ratio=kernel_ratio, seed=seed)
    layer.build((None, tokens, 8))
    identity = np.eye(tokens, dtype="float32")[None]
    approx = keras.ops.convert_to_numpy(layer.linear_attention(q, k, identity))
    exact = ref.softmax(q.astype("float64") @ k.transpose(0, 2, 1))
    return approx, exact


def test_linear_attention_approaches_softmax_attention_as_features_grow():
    """Mean total-variation distance per attention row, averaged over random draws."""
    errors, uniform_errors = [], []
    for ratio in (0.5, 4.0, 64.0):
        pairs = [_attention_matrices(ratio, seed) for seed in range(4)]
        errors.append(np.mean([np.abs(a - e).sum(-1).mean() for a, e in pairs]))
        uniform_errors.append(np.mean([np.abs(1 / 32 - e).sum(-1).mean() for _, e in pairs]))
    assert errors[0] > errors[1] > errors[2]
    # With many features the estimate is far closer than the uninformed (uniform) attention.
    assert errors[2] < 0.5 * uniform_errors[2]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_is_finite_on_large_inputs(policy):
    keras.config.set_dtype_policy(policy)
    layer = TokenPerformer(emb_dim=64, seed=0)
    x = np.random.default_rng(0).normal(scale=300.0, size=(2, 49, 147)).astype("float32")
    out = keras.ops.convert_to_numpy(keras.ops.cast(layer(x), "float32"))
    assert np.all(np.isfinite(out))
    assert layer.random_matrix.dtype == "float32"


def test_save_and_load_keep_the_random_matrix(tmp_path):
    inputs = keras.Input((9, 27))
    model = keras.Model(inputs, TokenPerformer(emb_dim=8, seed=5)(inputs))
    path = tmp_path / "performer.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    x = np.random.default_rng(2).normal(size=(1, 9, 27)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(restored(x))
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.layers[1].random_matrix),
        keras.ops.convert_to_numpy(restored.layers[1].random_matrix),
    )


def test_rejects_zero_random_features():
    with pytest.raises(ValueError, match="at least one random feature"):
        TokenPerformer(emb_dim=4, kernel_ratio=0.1)
