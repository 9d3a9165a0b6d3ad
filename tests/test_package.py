import subprocess
import sys

import pytest

import keras_t2t

_LOADED_BY_IMPORT = """
import sys
import keras
before = {name.partition(".")[0] for name in sys.modules}
import keras_t2t
loaded = {name.partition(".")[0] for name in sys.modules} - before
submodules = {name for name in sys.modules if name.startswith("keras_t2t.")}
print(sorted(loaded & {"tensorflow_datasets", "matplotlib", "torch"}))
print(sorted(n for n in submodules if n.split(".")[1] in {"data", "training", "visualize", "export"}))
"""


def test_importing_the_package_loads_neither_datasets_training_plotting_nor_torch():
    """Only what Keras itself loads (it imports matplotlib on its own) and the model classes."""
    result = subprocess.run(
        [sys.executable, "-c", _LOADED_BY_IMPORT], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[:2] == ["[]", "[]"]


_PRESET_AFTER_IMPORT = """
import sys
import keras_hub
import keras_t2t
model = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), depth=1, embed_dim=16,
                               num_heads=1, token_dim=8, classes=2)
model.save_to_preset(sys.argv[1])
"""

_LOAD_PRESET = """
import sys
import keras_hub
import keras_t2t
print(type(keras_hub.models.ImageClassifier.from_preset(sys.argv[1])).__name__)
"""


def test_after_a_bare_import_keras_hub_loads_presets_as_our_classes(tmp_path):
    preset = str(tmp_path / "preset")
    subprocess.run([sys.executable, "-c", _PRESET_AFTER_IMPORT, preset], capture_output=True, check=True)
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_PRESET, preset], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "T2TViTImageClassifier"


@pytest.mark.parametrize("name", keras_t2t.__all__)
def test_every_public_name_resolves(name):
    assert getattr(keras_t2t, name) is not None
    assert name in dir(keras_t2t)


def test_the_heavier_submodules_load_on_first_use():
    script = "import sys, keras_t2t; keras_t2t.data; print('keras_t2t.data' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'T2TViT99'"):
        keras_t2t.T2TViT99  # noqa: B018


def test_export_does_not_load_the_training_package():
    """export and training share the EMA helpers in keras_t2t.ema; neither imports the other."""
    script = "import sys, keras_t2t.export; print('keras_t2t.training' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
