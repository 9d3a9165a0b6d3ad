import keras
import numpy as np
import pytest

import keras_t2t

TINY = dict(input_shape=(32, 32, 3), depth=2, embed_dim=32, num_heads=2, token_dim=8)


def _images(batch: int = 3) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (batch, 32, 32, 3)).astype("float32")


@pytest.fixture
def mixed_bfloat16_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize(
    "name, classes", [("t2t_vit_7", 2), ("t2t_vit_t_14", 5), ("vit_small_patch16_224", 3)]
)
def test_bfloat16_weights_compute_as_mixed_bfloat16_does(name, classes, mixed_bfloat16_policy):
    mixed = keras_t2t.create_model(name, classes=classes, classifier_activation=None, **TINY)
    keras.config.set_dtype_policy("float32")
    model = keras_t2t.create_model(name, classes=classes, classifier_activation=None, **TINY)
    model.set_weights(mixed.get_weights())

    copy = keras_t2t.with_dtype(model, "bfloat16")
    assert copy.name == model.name and [x.name for x in copy.layers] == [x.name for x in model.layers]
    fixed = {"embedding", "random_matrix"}  # position table, performer features: float32 by design
    for variable in copy.weights:
        expected = "float32" if variable.name in fixed else "bfloat16"
        assert variable.dtype == expected, variable.path
    assert {variable.dtype for variable in model.weights} == {"float32"}  # the original is unchanged

    images = _images()
    outputs = keras.ops.convert_to_numpy(copy.predict_on_batch(images))
    assert outputs.dtype == np.float32
    # The matmuls see the same bfloat16 weights; only where the two round differs.
    np.testing.assert_allclose(outputs, keras.ops.convert_to_numpy(mixed.predict_on_batch(images)), atol=0.05)
    float32 = keras.ops.convert_to_numpy(model.predict_on_batch(images))
    assert 0 < np.abs(outputs - float32).max() < 0.25


def test_a_bfloat16_copy_saves_and_loads(tmp_path):
    model = keras_t2t.create_model("t2t_vit_7", classes=4, **TINY)
    copy = keras_t2t.with_dtype(model, "bfloat16")
    copy.save(tmp_path / "bf16.keras")
    loaded = keras_t2t.load_model(tmp_path / "bf16.keras")
    assert {variable.dtype for variable in loaded.trainable_weights} == {"bfloat16"}
    np.testing.assert_array_equal(loaded.predict_on_batch(_images()), copy.predict_on_batch(_images()))
    # And back: float32 weights that are the bfloat16 values.
    back = keras_t2t.with_dtype(loaded, "float32")
    assert {variable.dtype for variable in back.weights} == {"float32"}
    np.testing.assert_allclose(back.predict_on_batch(_images()), copy.predict_on_batch(_images()), atol=0.02)
