"""`T2TViTImageClassifier`: keras-hub's image classifier task around a `T2TViTBackbone`."""

from __future__ import annotations

import warnings

import keras
import keras_hub

from keras_t2t.layers.utils import FusedDropout, dense
from keras_t2t.models.backbone import T2TViTBackbone
from keras_t2t.models.image_converter import T2TViTImageClassifierPreprocessor
from keras_t2t.models.preprocessing import imagenet_normalization
from keras_t2t.models.registry import NamedPresets

try:
    import tensorflow as tf
except ImportError:  # the JAX and PyTorch backends run without TensorFlow
    tf = None

POOLING_MODES = ("token", "avg", "max")


@keras.saving.register_keras_serializable(package="keras_t2t")
class T2TViTImageClassifier(NamedPresets, keras_hub.models.ImageClassifier):
    """A T2T-ViT image classifier: optional ImageNet normalisation, backbone, pooling, Dense head.

        images -> [normalization] -> backbone -> pooling -> Dropout -> head (Dense) -> activation

    Input: `(batch, height, width, channels)` at `backbone.image_shape`: RGB 0..255 with
    `include_preprocessing=True`, inputs normalised already otherwise. Output: `(batch,
    num_classes)`, float32 whatever the backbone's dtype policy.

    `fit`, `predict` and `evaluate` first run `preprocessor` (keras-hub's tasks do) when there is
    one: with a `T2TViTImageClassifierPreprocessor`, `predict` takes raw images of any size.
    The builders (`keras_t2t.T2TViT14(...)`, `create_model`) return this class with a
    preprocessor holding the paper's evaluation transform.

    Args:
        backbone: a `T2TViTBackbone`.
        num_classes: classes of the head.
        preprocessor: a `T2TViTImageClassifierPreprocessor`, or None.
        pooling: what the head reads: "token" (the class token, as the paper), "avg" or "max"
            (over the patch tokens).
        activation: activation of the head, e.g. "softmax"; None returns logits.
        dropout: dropout rate before the head.
        include_preprocessing: whether the model normalises 0..255 RGB with ImageNet's mean and std
            itself (layer `normalization`); then the preprocessor's converter must not also do so.
        head_dtype: dtype policy of the head; default the backbone's.
    """

    backbone_cls = T2TViTBackbone
    preprocessor_cls = T2TViTImageClassifierPreprocessor

    def __init__(
        self,
        backbone: T2TViTBackbone,
        num_classes: int,
        preprocessor: T2TViTImageClassifierPreprocessor | None = None,
        pooling: str = "token",
        activation: str | None = None,
        dropout: float = 0.0,
        include_preprocessing: bool = False,
        head_dtype=None,
        **kwargs,
    ):
        if not isinstance(backbone, T2TViTBackbone):
            raise TypeError(f"backbone must be a T2TViTBackbone; got {type(backbone).__name__}.")
        if pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}; got {pooling!r}.")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive number of classes; got {num_classes!r}.")
        if include_preprocessing and backbone.image_shape[-1] != 3:
            raise ValueError(
                "include_preprocessing=True normalises RGB images with ImageNet's mean and std, but the "
                f"backbone takes {backbone.image_shape[-1]} channels. Pass include_preprocessing=False "
                "and normalise the images yourself."
            )
        converter = getattr(preprocessor, "image_converter", None)
        if include_preprocessing and converter is not None and converter.scale is not None:
            raise ValueError(
                "The model normalises its inputs (include_preprocessing=True) and so does its "
                "preprocessor's image converter (scale is set): images would be normalised twice. "
                "Build the converter with scale=None, offset=None, or the model with "
                "include_preprocessing=False."
            )
        head_dtype = head_dtype or backbone.dtype_policy

        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.normalization = imagenet_normalization() if include_preprocessing else None
        self.output_dropout = FusedDropout(dropout, name="output_dropout", dtype=head_dtype)
        self.head = dense(num_classes, name="head", dtype=head_dtype, keras_layer=True)
        # The activation runs in float32 so that mixed-precision models output float32 scores.
        self.output_activation = keras.layers.Activation(activation, dtype="float32", name="predictions")

        # === Functional Model ===
        inputs = keras.Input(backbone.image_shape, name="images")
        x = inputs if self.normalization is None else self.normalization(inputs)
        x = pool_features(backbone(x), pooling, dtype=head_dtype)
        x = self.output_dropout(x)
        outputs = self.output_activation(self.head(x))
        keras_hub.models.Task.__init__(self, inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.pooling = pooling
        self.activation = activation
        self.dropout = dropout
        self.include_preprocessing = include_preprocessing

    def get_config(self) -> dict:
        config = super().get_config()
        config["include_preprocessing"] = self.include_preprocessing
        # keras-hub's ImageClassifier leaves it out, so that a reloaded head took the backbone's.
        head_dtype = self.head.dtype_policy
        if head_dtype.quantization_mode is not None and not isinstance(
            head_dtype, keras.dtype_policies.DTypePolicyMap
        ):
            # After `quantize`: the pooling and dropout before the head share its policy
            # unquantized, and a map gives the head alone its quantized one.
            head_dtype = keras.dtype_policies.DTypePolicyMap(
                self.output_dropout.dtype_policy, {self.head.path: head_dtype}
            )
        config["head_dtype"] = keras.saving.serialize_keras_object(head_dtype)
        return config

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs) -> None:
        """keras-hub's defaults (Adam, sparse categorical cross-entropy from the head's
        activation), except that `metrics="auto"` is Keras' "accuracy", which matches integer and
        one-hot labels alike, so that any loss the user picks works with the default metrics."""
        if metrics == "auto":
            metrics = ["accuracy"]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config: dict) -> None:
        """Restores the saved compilation, optimizer state included, when a `.keras` file loads.

        Keras skips this for models with their own `compile` (keras-hub's tasks), which would
        drop a training run's optimizer, and with it the weights' moving average, on load.
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, **kwargs):
        """keras-hub's `fit`, which maps the preprocessor over `x`; a tf.distribute dataset (which
        keras-hub cannot map over) goes to Keras' own `fit`, as the model's inputs already."""
        if _is_distributed(x):
            self._check_no_preprocessor_for_distributed_data()
            return keras.Model.fit(self, x, y, **kwargs)
        return super().fit(x, y, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """keras-hub's `evaluate`; a tf.distribute dataset goes to Keras' own (see `fit`)."""
        if _is_distributed(x):
            self._check_no_preprocessor_for_distributed_data()
            return keras.Model.evaluate(self, x, y, **kwargs)
        return super().evaluate(x, y, **kwargs)

    def _check_no_preprocessor_for_distributed_data(self) -> None:
        if self.preprocessor is not None:
            raise ValueError(
                "keras-hub cannot apply a preprocessor to a tf.distribute dataset. Map it over the "
                "tf.data.Dataset before distributing it (dataset.map(classifier.preprocessor)) and set "
                "classifier.preprocessor = None for the fit, or pass the tf.data.Dataset itself."
            )

    def quantize(self, mode=None, config=None, filters=None, **kwargs) -> None:
        """Keras' `Model.quantize`, e.g. `quantize("int8")`: int8 weights for every Dense layer
        of the backbone and the head. Without Keras' warning for each layer that has nothing to
        quantize (normalisations, dropouts, soft splits...)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Layer .* does not have a `quantize` method", UserWarning)
            super().quantize(mode, config=config, filters=filters, **kwargs)

    def save_task_weights(self, filepath: str) -> None:
        """keras-hub's, without the optimizer: a preset holds weights, not training state."""
        self._check_weights_filename(filepath)
        keras.saving.save_weights(self, filepath, objects_to_skip=self._not_task_weights())

    def load_task_weights(self, filepath: str) -> None:
        """keras-hub's, without the optimizer (see `save_task_weights`).

        `from_preset` calls it on a classifier built by `from_config`, which is uncompiled (see
        there); it is compiled here with the defaults, as keras-hub's presets come.
        """
        self._check_weights_filename(filepath)
        keras.saving.load_weights(self, filepath, objects_to_skip=self._not_task_weights())
        if not self.compiled:
            self.compile()

    @classmethod
    def from_config(cls, config: dict):
        """Builds the classifier uncompiled: a `.keras` file restores its own compilation
        (`compile_from_config`), or has none, and `from_preset` compiles in `load_task_weights`."""
        config = {"compile": False, **config}
        if isinstance(config.get("head_dtype"), dict):
            config["head_dtype"] = keras.saving.deserialize_keras_object(config["head_dtype"])
        return super().from_config(config)

    def _not_task_weights(self) -> list:
        optimizer = [self.optimizer] if getattr(self, "optimizer", None) is not None else []
        return [*self.backbone._flatten_layers(), *optimizer]

    @staticmethod
    def _check_weights_filename(filepath: str) -> None:
        if not str(filepath).endswith(".weights.h5"):
            raise ValueError(f"The filename must end in `.weights.h5`; received filepath={filepath}.")

    @property
    def returns_logits(self) -> bool:
        """Whether the outputs are logits (no activation) rather than scores."""
        return self.output_activation.activation is keras.activations.linear


def _is_distributed(x) -> bool:
    return tf is not None and isinstance(x, tf.distribute.DistributedDataset)


def pool_features(features: dict, pooling: str, dtype=None):
    """The backbone's features for a head: the class token's ("token"), or the mean ("avg") or
    maximum ("max") over the patch tokens. `(batch, embed_dim)`."""
    if pooling == "token":
        return features["pooled_output"]
    if pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be one of {POOLING_MODES}; got {pooling!r}.")
    crop_class_token = keras.layers.Cropping1D((1, 0), name="patch_tokens", dtype=dtype)
    patch_tokens = crop_class_token(features["sequence_output"])
    pool = keras.layers.GlobalAveragePooling1D if pooling == "avg" else keras.layers.GlobalMaxPooling1D
    return pool(name=f"{pooling}_pool", dtype=dtype)(patch_tokens)


def find_backbone(model: keras.Model) -> T2TViTBackbone:
    """The `T2TViTBackbone` of a keras_t2t model: a `T2TViTImageClassifier`'s `backbone`, a
    backbone itself, or the one backbone inside a functional model (the builders' feature
    extractors, `include_top=False`, and models applied to an `input_tensor`)."""
    if isinstance(model, T2TViTBackbone):
        return model
    if isinstance(model, T2TViTImageClassifier):
        return model.backbone
    found = [layer for layer in model.layers if isinstance(layer, T2TViTBackbone | T2TViTImageClassifier)]
    if len(found) != 1:
        raise ValueError(
            f"{model.name!r} is not a keras_t2t model: a T2TViTImageClassifier, a T2TViTBackbone, or a "
            f"model built by a keras_t2t builder (one of those inside); it has {len(found)}."
        )
    return find_backbone(found[0])
