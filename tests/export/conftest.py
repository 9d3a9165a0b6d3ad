import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_t2t
from tests.export.tf_serving import GrpcServer, SessionServable

TINY = dict(input_shape=(32, 32, 3), depth=1, embed_dim=32, num_heads=2, token_dim=8, classes=5)
CLASS_NAMES = ["cat", "dog", "bird", "fish", "frog"]


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """`(height, width, 3)` uint8 noise over a smooth gradient, so resizing has work to do."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, width)[None, :, None] + np.linspace(0, 40, height)[:, None, None]
    return np.clip(ramp + rng.uniform(0, 15, (height, width, 3)), 0, 255).astype(np.uint8)


def encode(image: np.ndarray, image_format: str) -> bytes:
    encoder = {"png": tf.io.encode_png, "jpeg": tf.io.encode_jpeg}[image_format]
    return encoder(image).numpy()


def small_classifier(classes: int = 4, activation: str | None = "softmax") -> keras.Model:
    """The smallest T2T-ViT classifier, on 16x16 images, for the export mechanics. It does not
    normalise its inputs (`include_preprocessing=False`); its head reads the patch tokens
    (`pooling="avg"`) and is scaled up, so that its scores are far from uniform and follow the
    input closely."""
    model = keras_t2t.create_model(
        "t2t_vit_7",
        input_shape=(16, 16, 3),
        depth=1,
        embed_dim=16,
        num_heads=1,
        token_dim=8,
        classes=classes,
        classifier_activation=activation,
        include_preprocessing=False,
        pooling="avg",
    )
    model.head.kernel.assign(model.head.kernel * 20.0)
    return model


def plain_classifier(classes: int = 4) -> keras.Model:
    """A convolutional classifier that is not a keras_t2t model."""
    inputs = keras.Input((16, 16, 3), name="images")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x), name="plain")


@pytest.fixture(scope="session")
def tiny_t2t():
    """A T2T-ViT-7 cut down to one block on 32x32 images, 5 classes, softmax outputs."""
    return keras_t2t.create_model("t2t_vit_7", **TINY)


@pytest.fixture(scope="session")
def exported(tiny_t2t, tmp_path_factory) -> str:
    """`tiny_t2t` exported with top_k=3 and CLASS_NAMES; the version folder."""
    export_dir = tmp_path_factory.mktemp("serving") / "tiny_t2t"
    return keras_t2t.export.saved_model(tiny_t2t, str(export_dir), top_k=3, class_names=CLASS_NAMES)


@pytest.fixture(scope="session")
def servable(exported) -> SessionServable:
    """`exported` loaded the way TF Serving loads it."""
    return SessionServable(exported)


@pytest.fixture(scope="session")
def grpc_stub(servable):
    """A PredictionService stub talking to `servable` over gRPC on 127.0.0.1."""
    with GrpcServer(servable) as stub:
        yield stub
