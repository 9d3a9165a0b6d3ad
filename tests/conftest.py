import os

import keras
import pytest

# TensorFlow reads this once, at the first oneDNN matmul that asks, and it must stay off in a
# process that trains: `keras-t2t predict --precision bfloat16` sets it where it is unset, and the
# tests run such commands in this process. Tests of the setting run their own processes.
os.environ.setdefault("TF_ONEDNN_ASSUME_FROZEN_WEIGHTS", "0")

from tests.data.tiny_imagenet import TinyImageNet, prepare_tiny_imagenet


def pytest_collection_modifyitems(config, items):
    """`tensorflow_only` tests are skipped on the JAX and PyTorch backends (KERAS_BACKEND)."""
    if keras.config.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"TensorFlow's own forms; the backend is {keras.config.backend()}")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts and ends with the default float32 policy, whatever it sets."""
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def tiny_imagenet(tmp_path_factory) -> TinyImageNet:
    """A 3-class ILSVRC2012 manual download (4 train and 1 validation JPEG per class, 40x56 flat
    colours), prepared by tfds's imagenet2012 builder: pass `data_dir` (and `manual_dir`) with
    source "imagenet2012". See tests/data/tiny_imagenet.py."""
    return TinyImageNet(*prepare_tiny_imagenet(str(tmp_path_factory.mktemp("tiny_imagenet"))))
