import keras
import pytest


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts and ends with the default float32 policy, whatever it sets."""
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
