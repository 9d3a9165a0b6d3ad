"""SavedModel export for TensorFlow Serving, and prediction on image files.

`saved_model` writes `export_dir/<version>/`, the layout TensorFlow Serving watches, with two
signatures that need neither Python nor keras_t2t on the server:

- `serving_default`: `images` float32 `[batch, H, W, 3]` RGB 0..255 -> `probabilities`
  `[batch, classes]`, `top_k_classes` int32 `[batch, k]`, `top_k_scores` `[batch, k]`.
- `serving_bytes`: `image_bytes` string `[batch]` of encoded JPEG or PNG -> the same outputs plus
  `top_k_class_names` string `[batch, k]`; the evaluation transform runs inside the graph.

`assets.extra/tf_serving_warmup_requests` holds one PredictionLog per signature, which TF Serving
replays before it takes traffic.
"""

import contextlib
import dataclasses
import functools
import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_t2t.ema import ema_weights
from keras_t2t.imagenet_classes import NUM_IMAGENET_CLASSES, imagenet_class_names
from keras_t2t.layers.utils import portable_graph
from keras_t2t.models.image_classifier import T2TViTImageClassifier, pool_features
from keras_t2t.models.image_converter import IMAGENET_OFFSET, IMAGENET_SCALE, T2TViTImageConverter
from keras_t2t.models.precision import with_dtype
from keras_t2t.runtimes import ARTIFACT_FORMATS, Artifact

SERVING_DEFAULT = "serving_default"
SERVING_BYTES = "serving_bytes"
WARMUP_FILENAME = "tf_serving_warmup_requests"
# The precisions of each format, float32 first (the default):
# - bfloat16: weights stored and matmuls run in bfloat16;
# - float16: weights stored in float16, computed in float32;
# - dynamic_int8: int8 weights, activations quantized to int8 on the fly for the matmuls;
# - int8: int8 weights and activations, the activations' ranges calibrated on sample images.
EXPORT_PRECISIONS = {
    "saved_model": ("float32", "bfloat16", "dynamic_int8"),
    "onnx": ("float32",),
    "litert": ("float32", "float16", "dynamic_int8", "int8"),
    "openvino": ("float32", "int8"),
}
CALIBRATED_PRECISIONS = ("int8",)
# What Keras' export needs for each artifact format, beyond TensorFlow.
CONVERTER_MODULES = {".onnx": ("tf2onnx", "onnx"), ".tflite": (), ".xml": ("openvino", "scipy")}
# Post-training quantization of OpenVINO files (NNCF, in the openvino extra).
QUANTIZER_MODULES = {".xml": ("nncf",)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_image(image_bytes: tf.Tensor, jpeg_or_png_only: bool = True) -> tf.Tensor:
    """Decodes one encoded image (scalar string) to `(h, w, 3)` uint8 RGB.

    With `jpeg_or_png_only` (the serving signature's contract), anything but a JPEG or PNG fails
    with an error naming the accepted formats, instead of TF's decoder guessing at GIF or BMP.
    Without it, every format `tf.io.decode_image` reads (JPEG, PNG, GIF, BMP, WebP) is decoded, as
    the training pipeline does.
    """
    checks = []
    if jpeg_or_png_only:
        is_png = tf.equal(tf.strings.substr(image_bytes, 0, len(PNG_SIGNATURE)), PNG_SIGNATURE)
        checks.append(
            tf.debugging.Assert(
                tf.logical_or(tf.io.is_jpeg(image_bytes), is_png),
                [
                    "image_bytes holds an element that is neither a JPEG nor a PNG image; send the "
                    'file\'s encoded bytes (base64 in a {"b64": ...} object for REST). It starts with:',
                    tf.strings.substr(image_bytes, 0, 16),
                ],
            )
        )
    with tf.control_dependencies(checks):
        image = tf.io.decode_image(image_bytes, channels=3, dtype=tf.uint8, expand_animations=False)
    return tf.ensure_shape(image, [None, None, 3])


class ServingFunctions:
    """The computations behind both signatures, around one classifier.

    Args:
        model: a `T2TViTImageClassifier`; another built classifier taking `(batch, H, W, 3)`
            images and returning `(batch, classes)` scores (then `preprocess` and `from_logits`
            must be given); or an exported file loaded in its runtime
            (`keras_t2t.runtimes.load_artifact`), which normalises and applies the softmax itself.
        top_k: how many best classes each request returns; `None` means 5 (the paper's top-5),
            or every class for models with fewer.
        class_names: one name per class; defaults to the ImageNet names for 1000 classes and to
            the class ids as strings otherwise.
        crop_pct: the evaluation transform's crop fraction for encoded images.
        interpolation: the evaluation transform's `tf.image.resize` method.
        preprocess: whether to normalise images with ImageNet's mean and std (as
            `keras_t2t.preprocess_input`) before the model; `None` does so when the classifier
            does not itself (`include_preprocessing=False`).
        from_logits: whether the model returns logits, to which softmax is applied; `None` asks
            the classifier (`returns_logits`).
    """

    def __init__(
        self,
        model: keras.Model,
        top_k: int | None = None,
        class_names: Sequence[str] | None = None,
        crop_pct: float = 0.9,
        interpolation: str = "bicubic",
        preprocess: bool | None = None,
        from_logits: bool | None = None,
    ):
        self.model = model
        self.image_size = _image_size(model)
        num_classes = _num_classes(model)
        if top_k is None:
            top_k = min(5, num_classes)
        if not 1 <= top_k <= num_classes:
            raise ValueError(
                f"`top_k` must be in [1, {num_classes}] (the model's number of classes); "
                f"received top_k={top_k}."
            )
        self.top_k = top_k
        self.class_names = _class_names(class_names, num_classes)
        self.preprocess, self.from_logits = _inputs_and_outputs(model, preprocess, from_logits)
        # One converter for both signatures: images of the model's size are only normalised (when
        # `preprocess`), decoded images of any size get the evaluation transform first.
        self.converter = T2TViTImageConverter(
            self.image_size,
            crop_pct=crop_pct,
            interpolation=interpolation,
            scale=IMAGENET_SCALE if self.preprocess else None,
            offset=IMAGENET_OFFSET if self.preprocess else None,
        )

    def images_spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None, *self.image_size, 3], tf.float32, name="images")

    def image_bytes_spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None], tf.string, name="image_bytes")

    def classify(self, model_inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        """The converter's output, `(batch, H, W, 3)` -> probabilities and the top-k classes."""
        if isinstance(self.model, Artifact):
            # The file runs in its own runtime, outside TensorFlow's graph.
            scores = tf.numpy_function(self.model, [model_inputs], tf.float32, stateful=False)
            scores = tf.ensure_shape(scores, self.model.output_shape)
        else:
            scores = tf.cast(self.model(model_inputs, training=False), tf.float32)
        probabilities = tf.nn.softmax(scores) if self.from_logits else scores
        top_k_scores, top_k_classes = tf.math.top_k(probabilities, k=self.top_k)
        return {
            "probabilities": probabilities,
            "top_k_classes": top_k_classes,
            "top_k_scores": top_k_scores,
        }

    def serve_images(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """The `serving_default` signature."""
        # A data dependency on a runtime shape check: a wrongly shaped request fails here with
        # the expected shape in the message, instead of deep inside (or crashing) a kernel.
        images = tf.ensure_shape(images, self.images_spec().shape)
        return self.classify(self.converter(images))

    def serve_image_bytes(
        self, image_bytes: tf.Tensor, jpeg_or_png_only: bool = True
    ) -> dict[str, tf.Tensor]:
        """The `serving_bytes` signature: decode (see `decode_image`), evaluation transform, classify."""
        image_bytes = tf.ensure_shape(image_bytes, [None])
        images = tf.map_fn(
            lambda encoded: self.converter(decode_image(encoded, jpeg_or_png_only)),
            image_bytes,
            fn_output_signature=tf.TensorSpec([*self.image_size, 3], tf.float32),
        )
        outputs = self.classify(images)
        outputs["top_k_class_names"] = tf.gather(tf.constant(self.class_names), outputs["top_k_classes"])
        return outputs


def saved_model(
    model: keras.Model,
    export_dir: str,
    version: int | None = None,
    *,
    top_k: int | None = None,
    class_names: Sequence[str] | None = None,
    crop_pct: float = 0.9,
    interpolation: str = "bicubic",
    preprocess: bool | None = None,
    from_logits: bool | None = None,
    use_ema: bool = True,
    warmup_requests: bool = True,
    precision: str = "float32",
) -> str:
    """Exports a classifier as a TensorFlow Serving SavedModel in `export_dir/<version>/`.

    The version folder is written under a temporary name and renamed when complete, so a server
    watching `export_dir` never loads a half-written version. Endpoints are plain graphs (no
    `jit_compile`): TF Serving runs XLA on CPU only behind an experimental flag.

    Args:
        model: a built classifier, `(batch, H, W, 3)` images -> `(batch, classes)` scores.
        export_dir: the model's base folder, the one TF Serving's `--model_base_path` names.
        version: the integer version folder; `None` takes one more than the highest present.
        top_k, class_names, crop_pct, interpolation, preprocess, from_logits: see
            `ServingFunctions`.
        use_ema: export the exponential moving average of the weights when the model's optimizer
            keeps one (`use_ema=True` in Keras optimizers); the model's own weights are left as
            they were.
        warmup_requests: write `assets.extra/tf_serving_warmup_requests`.
        precision: "float32" (the default); "bfloat16": the SavedModel stores the weights in
            bfloat16 and computes as `mixed_bfloat16` does (see `keras_t2t.models.with_dtype`),
            for CPUs with fast bfloat16 matmuls (AMX, AVX512-BF16; on AMX, serve it with
            `TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1` in the server's environment, so that oneDNN
            pre-packs the weights once); or "dynamic_int8": Keras'
            `quantize("int8")` (int8 weights per output channel, each token's activations
            quantized to int8 on the fly). Inputs and outputs stay float32, and the model passed
            in is not changed.

    Returns:
        The path of the written version folder.
    """
    _check_keras_model(model)
    _check_precision("saved_model", precision)
    if precision != "float32":
        # The copy is made from the weights that are to be exported, and has no optimizer.
        with ema_weights(model) if use_ema else contextlib.nullcontext():
            model = in_precision(model, precision)
    serving = ServingFunctions(model, top_k, class_names, crop_pct, interpolation, preprocess, from_logits)
    os.makedirs(export_dir, exist_ok=True)
    if version is None:
        version = next_version(export_dir)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(
            f"`version` must be a non-negative integer (TF Serving's version folder); "
            f"received version={version!r}."
        )
    version_dir = os.path.join(export_dir, str(version))
    if os.path.exists(version_dir):
        raise FileExistsError(
            f"{version_dir} already exists. TF Serving versions are immutable: pass another "
            f"version, or none to take the next one ({next_version(export_dir)})."
        )

    # No `archive.track(model)`: the archive saves the variables its endpoints use, and tracking
    # the model as well would write every weight a second time.
    archive = keras.export.ExportArchive()
    for name, function, spec in (
        (SERVING_DEFAULT, serving.serve_images, serving.images_spec()),
        (SERVING_BYTES, serving.serve_image_bytes, serving.image_bytes_spec()),
    ):
        # Traced here, once: given a bare function and its signature, the archive traces the
        # model several times while saving, which more than doubles the export time.
        endpoint = tf.function(function, input_signature=[spec], autograph=False)
        endpoint.get_concrete_function()
        archive.add_endpoint(name, endpoint)
    # Not a number, so TF Serving ignores it; created by the save itself, so with the umask's
    # permissions (a mkdtemp folder would be private to this user).
    staging_dir = os.path.join(export_dir, f".{version}.incomplete-{uuid.uuid4().hex}")
    try:
        with ema_weights(model) if use_ema else contextlib.nullcontext():
            archive.write_out(staging_dir, verbose=False)
        if warmup_requests:
            write_warmup_requests(
                staging_dir, serving, model_name=os.path.basename(os.path.abspath(export_dir))
            )
        os.rename(staging_dir, version_dir)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return version_dir


def artifact(
    model: keras.Model,
    path: str,
    *,
    preprocess: bool | None = None,
    from_logits: bool | None = None,
    use_ema: bool = True,
    precision: str = "float32",
    calibration_data: Iterable | None = None,
    calibration_steps: int | None = None,
) -> str:
    """Exports a classifier for another runtime, in the format `path`'s suffix names.

    `.onnx` (ONNX Runtime), `.tflite` (LiteRT) or `.xml` (OpenVINO IR, with its `.bin` beside it),
    through Keras' `model.export`. Like the SavedModel's `serving_default`, the artifact takes
    float32 `(batch, H, W, 3)` RGB 0..255 (any batch size) and returns `(batch, classes)`
    probabilities: the ImageNet normalisation and the softmax are inside. The graph is traced in
    `keras_t2t.layers.portable_graph()`, so that each runtime converts every operation. Written
    under a temporary name and renamed when complete. `keras_t2t.runtimes.load_artifact` runs it.

    Args:
        model: a `T2TViTImageClassifier`, or another classifier (then `preprocess` and
            `from_logits` must be given).
        path: the file to write: `<name>.onnx`, `<name>.tflite` or `<name>.xml`.
        preprocess, from_logits: see `ServingFunctions`.
        use_ema: export the moving average of the weights when the model's optimizer keeps one.
        precision: one of `EXPORT_PRECISIONS` for the format: "float32" (the default) everywhere;
            LiteRT's post-training quantizations "float16" (float16 weights), "dynamic_int8"
            (int8 weights, activations quantized on the fly) and "int8" (calibrated activations
            too); OpenVINO's "int8" (NNCF's post-training quantization for transformers). Inputs
            and outputs stay float32.
        calibration_data: for "int8", the images whose activations calibrate the quantization:
            an iterable of float32 `(batch, H, W, 3)` RGB 0..255 batches, or of `(images, labels)`
            pairs, such as `keras_t2t.data.calibration_dataset(...)`. Images the model was
            trained on (not its test images) that resemble what it will see.
        calibration_steps: how many batches of `calibration_data` to use; `None` uses them all.

    Returns:
        `path`.

    Raises:
        ValueError: an unknown suffix or precision, or calibration data missing for "int8" (or
            given for another precision, which would not use it).
        ImportError: the converter the format needs is not installed; the message names the extra.
    """
    suffix = os.path.splitext(path)[1]
    if suffix not in ARTIFACT_FORMATS:
        raise ValueError(
            f"{path!r}: the artifact's format is read off its suffix, one of "
            f"{', '.join(f'{s} ({f})' for s, f in ARTIFACT_FORMATS.items())}; for a "
            "TensorFlow Serving SavedModel use export.saved_model."
        )
    export_format = ARTIFACT_FORMATS[suffix]
    _check_keras_model(model)
    _check_precision(export_format, precision)
    calibrated = precision in CALIBRATED_PRECISIONS
    if calibrated and calibration_data is None:
        raise ValueError(
            f'precision="{precision}" quantizes the activations with ranges calibrated on sample '
            "images: pass calibration_data (e.g. keras_t2t.data.calibration_dataset(...); "
            "keras-t2t export --calibration-data), or choose another precision."
        )
    if not calibrated and (calibration_data is not None or calibration_steps is not None):
        raise ValueError(
            f'precision="{precision}" calibrates nothing: calibration data is used by '
            f"{' and '.join(repr(p) for p in CALIBRATED_PRECISIONS)} only. Leave it out."
        )
    modules = CONVERTER_MODULES[suffix]
    if precision != "float32":
        modules += QUANTIZER_MODULES.get(suffix, ())
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise ImportError(
            f"Exporting {suffix} files{'' if precision == 'float32' else f' in {precision}'} needs "
            f'{" and ".join(missing)}: pip install "keras_t2t[{export_format}]".'
        )
    preprocess, from_logits = _inputs_and_outputs(model, preprocess, from_logits)
    portable = _portable_classifier(model, preprocess, from_logits)
    calibration = (
        calibration_samples(calibration_data, calibration_steps, portable.input_shape[1:])
        if calibrated
        else None
    )
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    staging_dir = os.path.join(folder, f".{os.path.basename(path)}.incomplete-{uuid.uuid4().hex}")
    staged = os.path.join(staging_dir, os.path.basename(path))
    try:
        os.makedirs(staging_dir)
        with ema_weights(model) if use_ema else contextlib.nullcontext(), portable_graph():
            # Keras' ONNX export needs a model that has been called.
            portable(np.zeros((1, *portable.input_shape[1:]), "float32"))
            options = _litert_options(precision, calibration) if export_format == "litert" else {}
            quantized_later = export_format == "openvino" and precision == "int8"
            exported = (
                os.path.join(staging_dir, "float32", os.path.basename(path)) if quantized_later else staged
            )
            portable.export(exported, format=export_format, verbose=False, **options)
        if quantized_later:
            _quantize_openvino(exported, staged, calibration)
            shutil.rmtree(os.path.dirname(exported))
        # OpenVINO's weights first, so that the .xml appears only beside a complete .bin.
        for name in sorted(os.listdir(staging_dir), key=lambda name: name == os.path.basename(path)):
            os.replace(os.path.join(staging_dir, name), os.path.join(folder, name))
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return path


def in_precision(model: keras.Model, precision: str) -> keras.Model:
    """A copy of `model` in a SavedModel `precision` (see `saved_model`), without its optimizer;
    "float32" keeps the model's own dtype policy, as the float32 export does. `model` is unchanged."""
    _check_precision("saved_model", precision)
    copy = with_dtype(model, "bfloat16" if precision == "bfloat16" else model.dtype_policy)
    if precision == "dynamic_int8":
        copy.quantize("int8")
    return copy


def calibration_samples(
    calibration_data: Iterable, steps: int | None, image_shape: tuple[int, ...]
) -> list[np.ndarray]:
    """The images of the first `steps` batches of `calibration_data` (all when `None`), one
    float32 `(1, *image_shape)` array each, as the quantizers take them; `(images, labels)`
    pairs give their images."""
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"calibration_steps must be a positive integer or None; received {steps!r}.")
    samples = []
    for index, batch in enumerate(calibration_data):
        if index == steps:
            break
        images = np.asarray(batch[0] if isinstance(batch, tuple | list) else batch, np.float32)
        if images.ndim != 1 + len(image_shape) or tuple(images.shape[1:]) != tuple(image_shape):
            raise ValueError(
                f"Calibration batches must be images shaped (batch, {', '.join(map(str, image_shape))}), "
                f"as the model takes them; batch {index} is shaped {images.shape}. Build the "
                "calibration data at the model's image size."
            )
        samples.extend(images[i : i + 1] for i in range(len(images)))
    if not samples:
        raise ValueError("calibration_data holds no images.")
    return samples


def _litert_options(precision: str, calibration: list[np.ndarray] | None) -> dict:
    """The TFLite converter's settings for a LiteRT precision (Keras' export sets them)."""
    if precision == "float32":
        return {}
    options = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if precision == "float16":
        options["target_spec"] = {"supported_types": [tf.float16]}
    elif precision == "int8":
        # The converter runs each sample through the float model to record the ranges.
        options["representative_dataset"] = lambda: ([sample] for sample in calibration)
    return options


def _quantize_openvino(source: str, destination: str, calibration: list[np.ndarray]) -> None:
    """Writes NNCF's int8 post-training quantization of the OpenVINO IR `source` to
    `destination` (another file: OpenVINO maps the source's weights while it reads them)."""
    import nncf
    import openvino

    quantized = nncf.quantize(
        openvino.Core().read_model(source),
        nncf.Dataset(calibration),
        subset_size=len(calibration),
        # Keeps the softmax, layer norms and other accuracy-sensitive parts in float.
        model_type=nncf.ModelType.TRANSFORMER,
    )
    openvino.save_model(quantized, destination, compress_to_fp16=False)


def _check_keras_model(model) -> None:
    if isinstance(model, Artifact):
        raise TypeError(f"{model.path} is an exported file already: export the Keras model it came from.")


def _check_precision(export_format: str, precision: str) -> None:
    if precision not in EXPORT_PRECISIONS[export_format]:
        raise ValueError(
            f"The {export_format} format's precisions are {', '.join(EXPORT_PRECISIONS[export_format])}; "
            f"received precision={precision!r}."
        )


def _portable_classifier(model: keras.Model, preprocess: bool, from_logits: bool) -> keras.Model:
    """`model` as the artifact computes it: 0..255 RGB -> probabilities, one functional graph.

    The ImageNet normalisation is a `Rescaling` (constants inside the graph: tf2onnx turns the
    `Normalization` layer's captured tensors into extra inputs), the model's own included: a
    `T2TViTImageClassifier` is reassembled from its backbone, pooling and head, which keep their
    weights.
    """
    inputs = keras.Input(model.input_shape[1:], name="images")
    normalise = preprocess or (isinstance(model, T2TViTImageClassifier) and model.include_preprocessing)
    x = keras.layers.Rescaling(IMAGENET_SCALE, IMAGENET_OFFSET)(inputs) if normalise else inputs
    if isinstance(model, T2TViTImageClassifier):
        pooled = pool_features(model.backbone(x), model.pooling)
        scores = model.output_activation(model.head(pooled))
    else:
        scores = model(x)
    if from_logits:
        scores = keras.layers.Softmax(dtype="float32")(scores)
    return keras.Model(
        inputs, keras.layers.Activation("linear", dtype="float32", name="probabilities")(scores)
    )


def next_version(export_dir: str) -> int:
    """One more than the highest integer version folder in `export_dir` (1 when there is none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
    return max(versions, default=0) + 1


def warmup_request_inputs(serving: ServingFunctions) -> dict[str, dict[str, np.ndarray]]:
    """One small request per signature: a grey image, and the same image as a wider JPEG."""
    height, width = serving.image_size
    grey = np.full((1, height, width, 3), 128.0, np.float32)
    jpeg = tf.io.encode_jpeg(np.full((height, 2 * width, 3), 128, np.uint8)).numpy()
    return {
        SERVING_DEFAULT: {"images": grey},
        SERVING_BYTES: {"image_bytes": np.array([jpeg], dtype=object)},
    }


def write_warmup_requests(saved_model_dir: str, serving: ServingFunctions, model_name: str) -> str:
    """Writes `assets.extra/tf_serving_warmup_requests`: a TFRecord of PredictionLog protos."""
    path = os.path.join(saved_model_dir, "assets.extra", WARMUP_FILENAME)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in warmup_request_inputs(serving).items():
            writer.write(prediction_log(model_name, signature, inputs))
    return path


def prediction_log(model_name: str, signature_name: str, inputs: dict[str, np.ndarray]) -> bytes:
    """A serialized `tensorflow.serving.PredictionLog` holding one PredictRequest.

    Encoded here, field by field, so that exporting needs no `tensorflow-serving-api` (whose
    releases each pin a TensorFlow minor version); the field numbers are those of
    tensorflow_serving/apis/{prediction_log,predict,model}.proto. The tests parse the result with
    that package.
    """
    model_spec = _proto_field(1, model_name.encode()) + _proto_field(3, signature_name.encode())
    request = _proto_field(1, model_spec)  # PredictRequest.model_spec
    for name, value in inputs.items():
        # PredictRequest.inputs, a map<string, TensorProto>: one (key 1, value 2) entry each.
        entry = _proto_field(1, name.encode()) + _proto_field(
            2, tf.make_tensor_proto(value).SerializeToString()
        )
        request += _proto_field(2, entry)
    predict_log = _proto_field(1, request)  # PredictLog.request
    return _proto_field(6, predict_log)  # PredictionLog.predict_log


def _proto_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2: strings, bytes and messages)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    encoded = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        encoded.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(encoded)


@dataclasses.dataclass(frozen=True)
class FilePrediction:
    """What `predict_files` found for one file: its best classes, or why it has none."""

    path: str
    classes: list[tuple[str, float]]  # (class name, probability), best first; empty on error
    error: str | None = None


def predict_files(model: keras.Model, paths: Sequence[str], **serving_kwargs) -> list[FilePrediction]:
    """Classifies image files through the `serving_bytes` signature's graph.

    Files are read in every format the training pipeline reads (JPEG, PNG, GIF, BMP, WebP), not
    only the signature's JPEG and PNG. A file that cannot be read or decoded does not stop the
    others: its entry carries the error instead of classes.

    Args:
        model: the classifier, or an exported file loaded by `keras_t2t.runtimes.load_artifact`.
        paths: image files.
        **serving_kwargs: `ServingFunctions` arguments (`top_k`, `class_names`, `crop_pct`, ...).

    Returns:
        One `FilePrediction` per path, in order.
    """
    serving = ServingFunctions(model, **serving_kwargs)
    serve = tf.function(
        functools.partial(serving.serve_image_bytes, jpeg_or_png_only=False),
        input_signature=[serving.image_bytes_spec()],
    )
    predictions = []
    # One file a call, so that an unreadable file is told apart from the others.
    for path in paths:
        try:
            with open(path, "rb") as f:
                outputs = serve(tf.constant([f.read()]))
        except OSError as error:
            predictions.append(FilePrediction(path, [], f"cannot read it ({error.strerror or error})"))
            continue
        except tf.errors.InvalidArgumentError as error:
            predictions.append(FilePrediction(path, [], _error_text(error)))
            continue
        names = outputs["top_k_class_names"].numpy()[0]
        scores = outputs["top_k_scores"].numpy()[0]
        classes = [(n.decode(), float(p)) for n, p in zip(names, scores, strict=True)]
        predictions.append(FilePrediction(path, classes))
    return predictions


def _error_text(error: tf.errors.OpError) -> str:
    """The error's own words, without the graph-execution report TF wraps around them."""
    report = ("Graph execution error", "Detected at node", "<stack traces", 'File "', "[[")
    lines = [line.strip() for line in error.message.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith(report)) or error.message


def _image_size(model: keras.Model) -> tuple[int, int]:
    shape = model.input_shape
    if not (isinstance(shape, tuple) and len(shape) == 4 and shape[-1] == 3 and all(shape[1:3])):
        raise ValueError(
            "Export needs a classifier with one image input shaped (batch, H, W, 3) with known "
            f"H and W; this model's input shape is {shape}. Build it with "
            "`input_shape=(H, W, 3)`."
        )
    return shape[1], shape[2]


def _num_classes(model: keras.Model) -> int:
    shape = model.output_shape
    if not (isinstance(shape, tuple) and len(shape) == 2 and shape[-1]):
        raise ValueError(
            "Export needs a classifier whose output is (batch, classes) scores; this model's "
            f"output shape is {shape}. Build it with `include_top=True`."
        )
    return shape[-1]


def _inputs_and_outputs(
    model: keras.Model, preprocess: bool | None, from_logits: bool | None
) -> tuple[bool, bool]:
    """Whether to normalise the images before the model, and to apply a softmax after it (see
    `ServingFunctions`), read off a `T2TViTImageClassifier` where not given; an `Artifact` (see
    `artifact`) does both itself."""
    if isinstance(model, Artifact):
        return bool(preprocess), bool(from_logits)
    if not isinstance(model, T2TViTImageClassifier) and None in (preprocess, from_logits):
        raise ValueError(
            f"{model.name!r} is not a T2TViTImageClassifier, so whether it normalises its inputs "
            "and whether it returns logits cannot be read off it: pass preprocess= and from_logits=."
        )
    preprocess = not model.include_preprocessing if preprocess is None else preprocess
    return preprocess, model.returns_logits if from_logits is None else from_logits


def _class_names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        if num_classes == NUM_IMAGENET_CLASSES:
            return imagenet_class_names()
        return [str(i) for i in range(num_classes)]
    class_names = list(class_names)
    if len(class_names) != num_classes:
        raise ValueError(
            f"`class_names` has {len(class_names)} names but the model has {num_classes} "
            "classes; give exactly one name per class, in class-id order."
        )
    return class_names
