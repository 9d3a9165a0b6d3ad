"""Parameter counts and MACs against the reference table of the official release."""

import keras
import pytest

import keras_t2t
from keras_t2t.complexity import count_macs, count_params

# official name, input size: (total, trainable) from the reference model zoo.
REFERENCE_PARAMS = {
    ("t2t_vit_7", 224): (4_310_222, 4_255_694),
    ("t2t_vit_10", 224): (5_889_230, 5_834_702),
    ("t2t_vit_12", 224): (6_941_902, 6_887_374),
    ("t2t_vit_14", 224): (21_545_550, 21_465_806),
    ("t2t_vit_19", 224): (39_177_422, 39_085_070),
    ("t2t_vit_24", 224): (64_105_934, 64_000_974),
    ("t2t_vit_t_14", 224): (21_541_070, 21_465_422),
    ("t2t_vit_t_19", 224): (39_172_942, 39_084_686),
    ("t2t_vit_t_24", 224): (64_101_454, 64_000_590),
    ("t2t_vit_14_resnext", 224): (21_545_550, 21_465_806),
    ("t2t_vit_14_wide", 224): (25_156_302, 25_000_910),
    ("t2t_vit_14", 384): (21_691_470, 21_465_806),
}
REFERENCE_GMACS = {
    ("t2t_vit_7", 224): 1.147,
    ("t2t_vit_14", 224): 4.783,
    ("t2t_vit_t_14", 224): 6.089,
    ("t2t_vit_14", 384): 16.370,
}


@pytest.mark.parametrize("name, size", list(REFERENCE_PARAMS))
def test_parameter_counts_equal_the_official_release(name, size):
    model = keras_t2t.create_model(name, input_shape=(size, size, 3))
    assert count_params(model) == REFERENCE_PARAMS[(name, size)]


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("name, size", list(REFERENCE_GMACS))
def test_macs_within_two_percent_of_the_official_count(name, size):
    macs = count_macs(keras_t2t.create_model(name, input_shape=(size, size, 3))) / 1e9
    assert macs == pytest.approx(REFERENCE_GMACS[(name, size)], rel=0.02)


def test_every_registered_model_has_a_builder_at_the_top_level():
    for name in keras_t2t.list_models():
        builder = getattr(keras_t2t, keras_t2t.VARIANTS[name].builder)
        assert builder.__name__ == keras_t2t.VARIANTS[name].builder
        assert name in builder.__doc__


@pytest.mark.skipif(keras.config.backend() == "tensorflow", reason="the error of the other backends")
def test_macs_need_the_tensorflow_backend():
    with pytest.raises(RuntimeError, match="KERAS_BACKEND=tensorflow"):
        count_macs(keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), classes=2))
