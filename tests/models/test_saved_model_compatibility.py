"""`.keras` files saved by earlier keras_t2t versions still load, with the same outputs.

`data/t2t_vit_t_14_tiny_fb89122.keras` was saved by keras_t2t at commit fb89122 (before TokenDense and
TokenLayerNormalization) with

    model = keras_t2t.create_model("t2t_vit_t_14", input_shape=(32, 32, 3), classes=5, embed_dim=32,
                                   depth=1, num_heads=2, token_dim=8)
    model.save(...)

and `..._outputs.npy` holds its outputs for `images()` below.
"""

import pathlib
import warnings

import keras
import numpy as np

import keras_t2t  # noqa: F401  (registers the layers)

DATA = pathlib.Path(__file__).parent / "data"


def images():
    return np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")


def test_a_model_saved_before_the_token_layers_loads_every_weight():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a skipped weight group is only a warning in Keras
        model = keras.saving.load_model(DATA / "t2t_vit_t_14_tiny_fb89122.keras")
    expected = np.load(DATA / "t2t_vit_t_14_tiny_fb89122_outputs.npy")
    np.testing.assert_allclose(np.asarray(model(images())), expected, atol=1e-6)
