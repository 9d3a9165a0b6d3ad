"""Reading `.keras` files: errors that say what is wrong with the file, and classifiers saved by
earlier keras_t2t versions (plain functional models) returned as `T2TViTImageClassifier`s."""

import os
import zipfile

import keras

from keras_t2t.models.backbone import T2TViTBackbone
from keras_t2t.models.image_classifier import T2TViTImageClassifier
from keras_t2t.models.image_converter import T2TViTImageClassifierPreprocessor, T2TViTImageConverter


def check_keras_archive(path: str | os.PathLike) -> None:
    """Raises a clear error unless `path` is a readable `.keras` archive (a zip file).

    Keras reports a file that exists but is truncated or not a zip as "File not found"; this
    tells the two cases apart.

    Raises:
        FileNotFoundError: there is no file at `path`.
        ValueError: the file exists but is not a complete zip archive.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Model file not found: {path!r}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} exists but is not a readable .keras archive: it is truncated or not a zip file "
            f"({os.path.getsize(path):,} bytes). Copy or save it again (`model.save(path)`)."
        )


def load_model(path: str | os.PathLike, **kwargs) -> keras.Model:
    """`keras.saving.load_model` on a checked `.keras` archive (see `check_keras_archive`).

    A classifier saved by keras_t2t before `T2TViTImageClassifier` existed (a functional model of
    layers "preprocessing", "backbone", "head", "predictions") comes back as one, with the same
    weights, compilation and optimizer state (see `upgrade_functional_classifier`).

    Args:
        path: a `.keras` file written by `model.save`.
        **kwargs: passed to `keras.saving.load_model` (`compile`, `safe_mode`, ...).
    """
    check_keras_archive(path)
    return upgrade_functional_classifier(keras.saving.load_model(path, **kwargs))


def upgrade_functional_classifier(model: keras.Model) -> keras.Model:
    """The `T2TViTImageClassifier` equivalent of a classifier saved by an earlier keras_t2t (a
    plain functional model); any other model is returned as it is.

    The old builders named the layers, so this is the one place that reads them by name:
    "preprocessing" (optional Normalization), "backbone", "avg_pool" / "max_pool" (optional),
    "head" (Dense) and "predictions" (Activation). The backbone is reused, the head's weights
    copied, and a compiled model is compiled the same way with its optimizer's state copied
    (the moving average of the weights included); an uncompiled one stays uncompiled, as the
    builders' models are.
    """
    if isinstance(model, T2TViTImageClassifier):
        return model
    layers = {layer.name: layer for layer in model.layers}
    backbone, head, activation = (layers.get(name) for name in ("backbone", "head", "predictions"))
    if not (
        isinstance(backbone, T2TViTBackbone)
        and isinstance(head, keras.layers.Dense)
        and isinstance(activation, keras.layers.Activation)
    ):
        return model
    pooling = next((mode for mode in ("avg", "max") if f"{mode}_pool" in layers), "token")
    include_preprocessing = "preprocessing" in layers
    preprocessor = None
    if include_preprocessing:
        converter = T2TViTImageConverter(image_size=backbone.image_shape[:2], scale=None, offset=None)
        preprocessor = T2TViTImageClassifierPreprocessor(converter)
    classifier = T2TViTImageClassifier(
        backbone,
        num_classes=head.units,
        preprocessor=preprocessor,
        pooling=pooling,
        activation=keras.activations.serialize(activation.activation),
        include_preprocessing=include_preprocessing,
        name=model.name,
        compile=False,
    )
    classifier.head.set_weights(head.get_weights())
    compile_config = model.get_compile_config() if model.compiled else None
    if compile_config:
        classifier.compile_from_config(compile_config)
        if model.optimizer.built:
            for target, source in zip(classifier.optimizer.variables, model.optimizer.variables, strict=True):
                target.assign(source)
    return classifier
