"""weights="imagenet": the official file from a (local) release server, into the Keras cache, once."""

import functools
import http.server
import os
import sys
import threading

import keras_hub
import numpy as np
import pytest

import keras_t2t
from keras_t2t.models import PRESETS, pretrained
from tests.convert.checkpoints import images, reference_model, reference_output, save


class _Server:
    """An HTTP server on 127.0.0.1 serving one folder, counting the requests."""

    def __init__(self, folder):
        self.paths = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                server.paths.append(self.path)

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/releases"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def release(tmp_path, monkeypatch):
    """t2t_vit_7's official file (random weights) on a local server, and an empty Keras cache."""
    reference = reference_model("t2t_vit_7", 224)
    (tmp_path / "server" / "releases").mkdir(parents=True)
    save(tmp_path / "server" / "releases" / "71.7_T2T_ViT_7.pth.tar", reference.state_dict())
    server = _Server(tmp_path / "server")
    monkeypatch.setenv(pretrained.WEIGHTS_URL_ENV, server.url)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    yield reference, server
    server.close()


def test_imagenet_weights_are_downloaded_once_converted_once_and_kept(release, monkeypatch):
    reference, server = release
    pixels = images(224)
    expected = reference_output(reference, pixels)

    model = keras_t2t.T2TViT7(weights="imagenet", classifier_activation=None)
    np.testing.assert_allclose(model.predict_on_batch(pixels), expected, atol=2e-4)
    assert server.paths == ["/releases/71.7_T2T_ViT_7.pth.tar"]
    cache = pretrained.cache_dir()
    assert sorted(os.listdir(cache)) == ["71.7_T2T_ViT_7.pth.tar", "t2t_vit_7_imagenet.weights.h5"]

    # The second time: no request, and no torch (the kept conversion is a Keras file).
    monkeypatch.setitem(sys.modules, "torch", None)
    again = keras_t2t.create_model("t2t_vit_7", weights="imagenet", classifier_activation=None)
    np.testing.assert_array_equal(again.predict_on_batch(pixels), model.predict_on_batch(pixels))
    assert len(server.paths) == 1


def test_other_sizes_and_heads_transfer_from_the_cached_checkpoint(release):
    reference, server = release
    model = keras_t2t.T2TViT7(weights="imagenet", input_shape=(64, 64, 3), classes=5)
    features = keras_t2t.T2TViT7(weights="imagenet", include_top=False, pooling="token")
    expected = reference_output(reference, images(224), features=True)
    np.testing.assert_allclose(features.predict_on_batch(images(224)), expected, atol=2e-4)
    assert model.output_shape == (None, 5)
    assert len(server.paths) == 1  # the checkpoint was fetched once for both
    assert not os.path.exists(pretrained.converted_weights_path(PRESETS["t2t_vit_7_imagenet"]))


def test_offline_fails_at_once_naming_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    server = _Server(tmp_path)  # serves an empty folder: every file is missing
    monkeypatch.setenv(pretrained.WEIGHTS_URL_ENV, server.url)
    try:
        with pytest.raises(OSError) as error:
            keras_t2t.T2TViT14(weights="imagenet")
    finally:
        server.close()
    message = str(error.value)
    assert "Could not download 81.5_T2T_ViT_14.pth.tar from http://127.0.0.1:" in message
    assert os.path.join(str(tmp_path / "keras_home"), "keras_t2t", "81.5_T2T_ViT_14.pth.tar") in message
    assert not os.path.exists(
        os.path.join(str(tmp_path / "keras_home"), "keras_t2t", "81.5_T2T_ViT_14.pth.tar")
    )


def test_a_model_without_an_official_checkpoint_says_which_have_one():
    with pytest.raises(ValueError, match="t2t_vit_dense has no official ImageNet checkpoint.*t2t_vit_14"):
        keras_t2t.T2TViT_Dense(weights="imagenet")


def test_a_named_preset_is_made_from_the_official_file_once_and_loads_through_keras_hub(release, monkeypatch):
    reference, server = release
    pixels = images(224)
    expected = keras_t2t.T2TViT7(weights="imagenet").predict_on_batch(pixels)

    classifier = keras_t2t.T2TViTImageClassifier.from_preset("t2t_vit_7_imagenet")
    np.testing.assert_array_equal(classifier.predict_on_batch(pixels), expected)
    directory = pretrained.preset_directory(PRESETS["t2t_vit_7_imagenet"])
    assert {"config.json", "model.weights.h5", "task.json", "task.weights.h5"} <= set(os.listdir(directory))
    assert len(server.paths) == 1

    # Afterwards: from the directory, without torch; through keras-hub's own classes too.
    monkeypatch.setitem(sys.modules, "torch", None)
    again = keras_hub.models.ImageClassifier.from_preset(directory)
    assert type(again) is keras_t2t.T2TViTImageClassifier
    np.testing.assert_array_equal(again.predict_on_batch(pixels), expected)
    backbone = keras_t2t.T2TViTBackbone.from_preset("t2t_vit_7_imagenet")
    np.testing.assert_allclose(
        backbone(keras_t2t.preprocess_input(pixels))["pooled_output"],
        reference_output(reference, pixels, features=True),
        atol=2e-4,
    )
    assert len(server.paths) == 1


def test_unknown_preset_names_are_explained():
    with pytest.raises(ValueError, match="Did you mean 't2t_vit_14_imagenet'.*t2t_vit_14_384_imagenet"):
        keras_t2t.T2TViTImageClassifier.from_preset("t2t_vit_14_imagnet")


def test_imagenet_weights_at_384_take_the_checkpoint_trained_at_384(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    server = _Server(tmp_path)  # nothing to serve: the error names the file it asked for
    monkeypatch.setenv(pretrained.WEIGHTS_URL_ENV, server.url)
    try:
        with pytest.raises(OSError, match="83.3_T2T_ViT_14.pth.tar"):
            keras_t2t.T2TViT14(weights="imagenet", input_shape=(384, 384, 3))
        with pytest.raises(OSError, match="81.5_T2T_ViT_14.pth.tar"):
            keras_t2t.T2TViT14(weights="imagenet", input_shape=(256, 256, 3))
    finally:
        server.close()
