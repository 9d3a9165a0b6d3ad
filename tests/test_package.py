import subprocess
import sys

import pytest

import keras_t2t

_IMPORT_ONLY = """
import sys
import keras_t2t
loaded = {name.partition(".")[0] for name in sys.modules}
print(sorted(loaded & {"tensorflow", "keras", "torch", "matplotlib"}))
"""


def test_importing_the_package_loads_no_framework():
    result = subprocess.run([sys.executable, "-c", _IMPORT_ONLY], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", keras_t2t.__all__)
def test_every_public_name_resolves(name):
    assert getattr(keras_t2t, name) is not None
    assert name in dir(keras_t2t)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'T2TViT99'"):
        keras_t2t.T2TViT99  # noqa: B018


def test_export_does_not_load_the_training_package():
    """export and training share the EMA helpers in keras_t2t.ema; neither imports the other."""
    script = "import sys, keras_t2t.export; print('keras_t2t.training' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
