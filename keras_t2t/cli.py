"""The `keras-t2t` command line: a thin argparse layer over the library."""

import argparse
import contextlib
import itertools
import os
import sys

import keras
import tensorflow as tf

from keras_t2t import data, export
from keras_t2t.benchmark import (
    FROZEN_WEIGHTS_VARIABLE,
    MODES,
    PRECISIONS,
    default_precisions,
    format_pipeline_table,
    format_profile,
    measure_pipeline,
    profile,
    run,
)
from keras_t2t.complexity import count_macs, count_params
from keras_t2t.convert import convert_checkpoint
from keras_t2t.ema import ema_optimizer, ema_weights
from keras_t2t.models import (
    PRESETS,
    VARIANTS,
    T2TViTImageClassifier,
    create_model,
    list_models,
    load_model,
)
from keras_t2t.runtimes import ARTIFACT_FORMATS, Artifact, is_artifact, load_artifact
from keras_t2t.training import (
    add_recipe_arguments,
    demo_recipe,
    evaluate,
    recipe_from_arguments,
    run_demo,
    run_report,
    train,
)
from keras_t2t.visualize import visualize


def _add_summary_parser(subparsers) -> None:
    parser = subparsers.add_parser("summary")
    parser.add_argument(
        "--model",
        required=True,
        choices=list_models(),
        metavar="NAME",
        help="official model name, e.g. t2t_vit_14 (choices: %(choices)s)",
    )
    parser.add_argument(
        "--image-size", type=int, default=None, help="square input size (default: the model's, 224)"
    )
    parser.add_argument("--classes", type=int, default=1000, help="classes of the head (default 1000)")
    parser.add_argument("--layers", action="store_true", help="also print the Keras layer table")
    parser.set_defaults(handler=_run_summary)


def _run_summary(args) -> int:
    size = args.image_size or VARIANTS[args.model].image_size
    model = create_model(args.model, input_shape=(size, size, 3), classes=args.classes)
    if args.layers:
        model.summary(expand_nested=True)
    total, trainable = count_params(model)
    print(f"model:        {args.model}")
    print(f"input:        {size}x{size}x3")
    print(f"parameters:   {total:,} total, {trainable:,} trainable, {total - trainable:,} fixed")
    print(f"MACs:         {count_macs(model) / 1e9:.3f} G per image")
    return 0


def _add_convert_parser(subparsers) -> None:
    parser = subparsers.add_parser("convert")
    parser.add_argument("checkpoint", help="official checkpoint, e.g. 81.5_T2T_ViT_14.pth.tar")
    parser.add_argument(
        "--model",
        required=True,
        choices=list(VARIANTS),
        metavar="NAME",
        help="the checkpoint's model, e.g. t2t_vit_14 (choices: %(choices)s)",
    )
    written = parser.add_mutually_exclusive_group(required=True)
    written.add_argument(
        "--output",
        help="a .weights.h5 file (weights only) or a .keras file (the whole model)",
    )
    written.add_argument(
        "--preset",
        metavar="DIR",
        help="a new keras-hub preset directory, to upload (Kaggle, Hugging Face) or load with "
        "keras_hub.models.ImageClassifier.from_preset(DIR)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="square input size (default: the checkpoint's, 224 or 384); another size resizes the "
        "position embedding",
    )
    parser.add_argument(
        "--classes",
        type=int,
        default=None,
        help="classes of the head (default: the checkpoint's, 1000); another number starts a new head",
    )
    parser.add_argument(
        "--ema",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read a training checkpoint's EMA weights (default) or, with --no-ema, its raw weights",
    )
    parser.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fail unless checkpoint and model match entry for entry (default); --no-strict loads "
        "what fits and lists the rest",
    )
    parser.add_argument(
        "--qk-scale",
        type=float,
        default=None,
        help="query-key scale of the blocks (default: the one the model's official builder evaluates "
        "checkpoints with, embed_dim ** -0.5 for most)",
    )
    parser.add_argument(
        "--preprocessing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="normalise [0, 255] RGB input inside the model (default); --no-preprocessing for "
        "inputs already normalised with keras_t2t.preprocess_input",
    )
    parser.set_defaults(handler=_run_convert)


def _run_convert(args) -> int:
    output = args.output or args.preset
    model, report = convert_checkpoint(
        args.checkpoint,
        output,
        args.model,
        image_size=args.image_size,
        classes=args.classes,
        use_ema=args.ema,
        strict=args.strict,
        qk_scale=args.qk_scale,
        include_preprocessing=args.preprocessing,
        preset=args.preset is not None,
    )
    backbone = model.backbone
    input_shape = backbone.image_shape
    classes = model.num_classes
    print(f"wrote:        {output}")
    print(f"model:        {args.model}, input {'x'.join(map(str, input_shape))}, {classes} classes")
    print(f"qk_scale:     {backbone.qk_scale!r}")
    for title, keys in (
        ("new head", report.skipped),
        ("not filled", report.missing),
        ("not used", report.unexpected),
        ("mismatched", report.mismatched),
    ):
        if keys:
            print(f"{title + ':':<13} {', '.join(keys)}")
    if args.preset:
        print(f"load with:    keras_hub.models.ImageClassifier.from_preset({args.preset!r})")
    elif args.output.endswith(".weights.h5"):
        print(
            f"load with:    keras_t2t.create_model({args.model!r}, weights={args.output!r}, "
            f"input_shape={input_shape}, classes={classes}, qk_scale={backbone.qk_scale!r}"
            f"{'' if args.preprocessing else ', include_preprocessing=False'})"
        )
    return 0


def _add_classifier_arguments(
    parser: argparse.ArgumentParser, weights_required: bool = True, artifacts: bool = False
) -> None:
    """The model arguments `export`, `predict` and `visualize` share, and the evaluation transform's."""
    parser.add_argument(
        "--model",
        choices=list_models(),
        metavar="NAME",
        help="official model name, e.g. t2t_vit_14; optional with a whole saved .keras model "
        "(choices: %(choices)s)",
    )
    parser.add_argument(
        "--weights",
        required=weights_required,
        help="a .keras file (whole model: with its optimizer's EMA weights when trained with EMA), "
        "a keras-hub preset (a directory, a kaggle:// or hf:// handle, or a name such as "
        "t2t_vit_14_imagenet), a .weights.h5 file, an official .pth.tar checkpoint, or imagenet "
        "(the model's official checkpoint, downloaded once into the Keras cache)"
        + (", or a file of keras-t2t export --format: .onnx, .tflite or .xml" if artifacts else "")
        + ("" if weights_required else " (default: none, random initialisation)"),
    )
    parser.add_argument(
        "--image-size", type=int, default=None, help="square input size (default: the model's, 224)"
    )
    parser.add_argument("--classes", type=int, default=None, help="classes of the head (default 1000)")
    parser.add_argument(
        "--qk-scale",
        type=float,
        default=None,
        help="the blocks' query-key scale, for .weights.h5 converted from official checkpoints "
        "(default: head_dim ** -0.5; .pth.tar files set embed_dim ** -0.5 themselves)",
    )
    parser.add_argument(
        "--class-names",
        default=None,
        metavar="FILE",
        help="text file with one class name per line, in class-id order (default: the ImageNet "
        "names for 1000 classes, the class ids otherwise)",
    )
    parser.add_argument(
        "--crop-pct",
        type=float,
        default=0.9,
        help="encoded images: resize the shorter side to size / crop-pct, then centre crop (default 0.9)",
    )
    parser.add_argument(
        "--interpolation",
        default="bicubic",
        choices=["bicubic", "bilinear", "area", "lanczos3", "nearest"],
        help="encoded images: resize method (default bicubic)",
    )


def _load_classifier(args) -> keras.Model:
    if args.weights is not None and is_artifact(args.weights):
        raise ValueError(
            f"{args.weights} is a file exported for another runtime, which only `keras-t2t predict` "
            "runs: give the Keras model it came from (a .keras file, a preset or weights)."
        )
    if args.weights is not None and _is_whole_model(args.weights):
        _refuse_architecture_flags(args, "a whole saved model", ("image_size", "classes", "qk_scale"))
        model = (
            load_model(args.weights)
            if args.weights.endswith(".keras")
            else T2TViTImageClassifier.from_preset(args.weights)
        )
        if args.model is not None and args.model != model.name:
            raise ValueError(
                f"{args.weights} holds the model {model.name!r}, not {args.model!r}: leave out --model "
                "or pass the matching name."
            )
        return model
    if args.model is None:
        raise ValueError(
            "--model is needed to build the model"
            + ("" if args.weights is None else f" that {args.weights} is loaded into")
            + "."
        )
    size = args.image_size or VARIANTS[args.model].image_size
    return create_model(
        args.model,
        weights=args.weights,
        input_shape=(size, size, 3),
        classes=1000 if args.classes is None else args.classes,
        qk_scale=args.qk_scale,
    )


def _load_predictor(args) -> keras.Model | Artifact:
    """`_load_classifier`, or the exported file `--weights` names, loaded in its runtime."""
    if args.weights is None or not is_artifact(args.weights):
        return _load_classifier(args)
    artifact = load_artifact(args.weights)
    size = "x".join(str(side) for side in artifact.input_shape[1:3])
    _refuse_architecture_flags(
        args,
        f"an exported file (of {size} images and {artifact.output_shape[-1]} classes)",
        ("model", "image_size", "classes", "qk_scale"),
    )
    return artifact


def _refuse_architecture_flags(args, what: str, flags: tuple[str, ...]) -> None:
    given = [flag for flag in flags if getattr(args, flag) is not None]
    if given:
        raise ValueError(
            f"{args.weights} is {what}, which brings its own architecture: leave out "
            + ", ".join("--" + flag.replace("_", "-") for flag in given)
            + "."
        )


def _is_preset(weights: str) -> bool:
    return weights in PRESETS or os.path.isdir(weights) or "://" in weights


def _is_whole_model(weights: str) -> bool:
    """Whether `--weights` brings its own architecture: a `.keras` file or a preset."""
    return weights.endswith(".keras") or _is_preset(weights)


def _read_class_names(path: str | None) -> list[str] | None:
    if path is None:
        return None
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


# The formats of export.artifact by name, with the suffix of their file.
EXPORT_FORMATS = {export_format: suffix for suffix, export_format in ARTIFACT_FORMATS.items()}
# Every format's precisions, in a stable order.
EXPORT_PRECISIONS = list(
    dict.fromkeys(p for precisions in export.EXPORT_PRECISIONS.values() for p in precisions)
)


def _add_export_parser(subparsers) -> None:
    parser = subparsers.add_parser("export")
    _add_classifier_arguments(parser)
    parser.add_argument(
        "--format",
        default="saved_model",
        choices=["saved_model", *EXPORT_FORMATS],
        help="saved_model (default): a TensorFlow Serving SavedModel; onnx, litert or openvino: one "
        "file for that runtime, images 0..255 in, probabilities out, any batch size",
    )
    parser.add_argument(
        "--output",
        required=True,
        metavar="PATH",
        help="saved_model: the model's base folder for TF Serving; otherwise the file to write "
        f"({', '.join(f'{suffix} for {name}' for name, suffix in EXPORT_FORMATS.items())})",
    )
    parser.add_argument(
        "--version", type=int, default=None, help="version folder (default: one more than the highest)"
    )
    parser.add_argument("--top-k", type=int, default=None, help="classes each request returns (default 5)")
    _add_ema_argument(parser)
    parser.add_argument(
        "--warmup",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write assets.extra/tf_serving_warmup_requests (default)",
    )
    parser.add_argument(
        "--precision",
        default="float32",
        choices=EXPORT_PRECISIONS,
        help="float32 (default, every format); saved_model: bfloat16 (weights stored and matmuls "
        "run in bfloat16, for CPUs with AMX or AVX512-BF16) or dynamic_int8 (Keras' "
        "quantize('int8')); litert: float16, dynamic_int8 or int8; openvino: int8. int8 "
        "calibrates on --calibration-data. Inputs and outputs stay float32",
    )
    calibration = parser.add_argument_group("int8 calibration")
    calibration.add_argument(
        "--calibration-data",
        metavar="SOURCE",
        help="the dataset whose training images calibrate int8: a tfds name (imagenet2012), a "
        "folder with train/<class>/ images, or fashion_mnist_idx",
    )
    calibration.add_argument(
        "--calibration-steps", type=int, default=16, help="batches of calibration images (default 16)"
    )
    calibration.add_argument(
        "--calibration-batch-size", type=int, default=16, help="images a calibration batch (default 16)"
    )
    calibration.add_argument("--data-dir", default=None, help="tfds data folder of the calibration data")
    calibration.add_argument(
        "--manual-dir", default=None, help="ImageNet: the folder of the downloaded tar files"
    )
    parser.set_defaults(handler=_run_export)


def _run_export(args) -> int:
    if args.format != "saved_model":
        return _run_export_artifact(args)
    if args.calibration_data is not None:
        raise ValueError(
            "--calibration-data calibrates the int8 precision of --format litert and openvino; the "
            "saved_model format's dynamic_int8 quantizes the activations on the fly, uncalibrated."
        )
    model = _load_classifier(args)
    path = export.saved_model(
        model,
        args.output,
        args.version,
        top_k=args.top_k,
        class_names=_read_class_names(args.class_names),
        crop_pct=args.crop_pct,
        interpolation=args.interpolation,
        use_ema=args.ema,
        warmup_requests=args.warmup,
        precision=args.precision,
    )
    ema = args.ema and ema_optimizer(model) is not None
    height, width = model.input_shape[1:3]
    print(f"wrote:        {path}")
    print(
        f"weights:      {'EMA averages from the optimizer' if ema else 'the model weights'}, {args.precision}"
    )
    print(f"{export.SERVING_DEFAULT}: images float32 [batch, {height}, {width}, 3], RGB 0..255")
    print(f"{export.SERVING_BYTES}:   image_bytes string [batch], JPEG or PNG")
    print(f"serve with:   tensorflow_model_server --model_base_path={args.output} --rest_api_port=8501")
    return 0


def _run_export_artifact(args) -> int:
    suffix = EXPORT_FORMATS[args.format]
    if not args.output.endswith(suffix):
        raise ValueError(f"--format {args.format} writes a {suffix} file: give --output NAME{suffix}.")
    serving_only = [
        flag
        for flag, given in (
            ("--version", args.version is not None),
            ("--top-k", args.top_k is not None),
            ("--class-names", args.class_names is not None),
        )
        if given
    ]
    if serving_only:
        raise ValueError(f"{', '.join(serving_only)} apply to the saved_model format only.")
    model = _load_classifier(args)
    calibration = None
    if args.calibration_data is not None:
        calibration = data.calibration_dataset(
            args.calibration_data,
            image_size=model.input_shape[1:3],
            batch_size=args.calibration_batch_size,
            steps=args.calibration_steps,
            crop_pct=args.crop_pct,
            interpolation=args.interpolation,
            data_dir=args.data_dir,
            manual_dir=args.manual_dir,
        )
    export.artifact(
        model, args.output, use_ema=args.ema, precision=args.precision, calibration_data=calibration
    )
    ema = args.ema and ema_optimizer(model) is not None
    height, width = model.input_shape[1:3]
    print(f"wrote:        {args.output}")
    print(
        f"weights:      {'EMA averages from the optimizer' if ema else 'the model weights'}, {args.precision}"
    )
    print(f"input:        images float32 [batch, {height}, {width}, 3], RGB 0..255")
    print(f"output:       probabilities float32 [batch, {model.output_shape[-1]}]")
    return 0


def _add_predict_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        description="Classifies each file (JPEG, PNG, GIF, BMP or WebP). A file that cannot be read "
        "is reported by name on stderr, the others are still classified, and the exit status is 1.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG, PNG, GIF, BMP or WebP files")
    _add_classifier_arguments(parser, artifacts=True)
    _add_precision_argument(parser)
    _add_ema_argument(parser)
    parser.add_argument(
        "--top",
        type=int,
        default=None,
        help="classes to print per image (default 5, or every class of a model with fewer)",
    )
    parser.set_defaults(handler=_run_predict)


def _run_predict(args) -> int:
    predictor = _load_predictor(args)
    if isinstance(predictor, Artifact):
        _refuse_inference_flags(args, "an exported file, which brings its own weights and precision")
    else:
        predictor = _inference_model(predictor, args.precision, args.ema)
    predictions = export.predict_files(
        predictor,
        args.images,
        top_k=args.top,
        class_names=_read_class_names(args.class_names),
        crop_pct=args.crop_pct,
        interpolation=args.interpolation,
    )
    failed = 0
    for prediction in predictions:
        if prediction.error is not None:
            failed += 1
            print(
                f"keras-t2t predict: cannot classify {prediction.path}: {prediction.error}", file=sys.stderr
            )
            continue
        print(prediction.path)
        for name, probability in prediction.classes:
            print(f"  {probability:.4f}  {name}")
    if failed:
        print(
            f"keras-t2t predict: {failed} of {len(predictions)} files could not be classified",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _add_ema_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ema",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="use the optimizer's EMA weights when a .keras model has them (default); --no-ema uses "
        "the model's own",
    )


def _add_precision_argument(parser: argparse.ArgumentParser) -> None:
    """`--precision` of `predict` and `evaluate`: the SavedModel precisions, run in Keras."""
    parser.add_argument(
        "--precision",
        default="float32",
        choices=export.EXPORT_PRECISIONS["saved_model"],
        help="float32 (default: the model's own dtype policy); bfloat16: weights stored and "
        f"matmuls run in bfloat16, for CPUs with AMX or AVX512-BF16 (with {FROZEN_WEIGHTS_VARIABLE}"
        "=1 unless set); dynamic_int8: Keras' quantize('int8'). The model keras-t2t export "
        "--precision writes",
    )


def _inference_model(model: keras.Model, precision: str = "float32", use_ema: bool = True) -> keras.Model:
    """`model` on its EMA weights (if it has them and `use_ema`) in `precision`, as `export` would
    write it: a copy, unless that is `model` itself.

    In bfloat16 it also sets `TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1` unless the user set it: this
    process runs inference only, and oneDNN then packs each weight once for AMX's kernels.
    """
    if precision == "bfloat16":
        os.environ.setdefault(FROZEN_WEIGHTS_VARIABLE, "1")
    if precision == "float32" and ema_optimizer(model) is None:
        return model
    with ema_weights(model) if use_ema else contextlib.nullcontext():
        return export.in_precision(model, precision)


def _refuse_inference_flags(args, what: str) -> None:
    if args.precision != "float32" or not args.ema:
        raise ValueError(
            f"{args.weights} is {what}: leave out --precision and --no-ema (export the Keras model "
            "with keras-t2t export --precision to change them)."
        )


def _add_visualize_parser(subparsers) -> None:
    parser = subparsers.add_parser("visualize")
    parser.add_argument("image", metavar="IMAGE", help="a JPEG, PNG, GIF, BMP or WebP file")
    _add_classifier_arguments(parser, weights_required=False)
    _add_ema_argument(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG files")
    parser.add_argument(
        "--block", type=int, default=-1, help="attention block to draw, from 0 (default -1: the last)"
    )
    parser.add_argument(
        "--channels", type=int, default=8, help="feature-map channels per tokenizer stage (default 8)"
    )
    parser.add_argument(
        "--compare-model",
        choices=list_models(),
        metavar="NAME",
        help="also draw this model's token maps, e.g. vit_small_patch16_224 for ViT's patch embedding",
    )
    parser.add_argument(
        "--compare-weights", default=None, help="weights of --compare-model (default: random initialisation)"
    )
    parser.set_defaults(handler=_run_visualize)


def _run_visualize(args) -> int:
    if args.compare_weights is not None and args.compare_model is None:
        raise ValueError("--compare-weights needs --compare-model, the model to load them into.")
    model = _inference_model(_load_classifier(args), use_ema=args.ema)
    height, width = model.input_shape[1:3]
    compare = None
    if args.compare_model is not None:
        compare = create_model(
            args.compare_model, weights=args.compare_weights, input_shape=(height, width, 3)
        )
    # Classifying first also checks the file, with a clear error for one that is not an image.
    [prediction] = export.predict_files(
        model,
        [args.image],
        top_k=1,
        class_names=_read_class_names(args.class_names),
        crop_pct=args.crop_pct,
        interpolation=args.interpolation,
    )
    if prediction.error is not None:
        raise ValueError(f"Cannot classify {args.image}: {prediction.error}")
    [(name, probability)] = prediction.classes
    with open(args.image, "rb") as f:
        image = export.decode_image(tf.constant(f.read()), jpeg_or_png_only=False)
    image = data.eval_transform(image, (height, width), args.crop_pct, args.interpolation).numpy()
    written = visualize(
        model, image, args.out, block=args.block, compare_with=compare, channels=args.channels
    )
    print(f"predicted:    {name} ({probability:.4f})")
    for path in written:
        print(f"wrote:        {path}")
    return 0


def _add_benchmark_parser(subparsers) -> None:
    parser = subparsers.add_parser("benchmark")
    parser.add_argument(
        "--models",
        nargs="+",
        default=["t2t_vit_7", "t2t_vit_14", "t2t_vit_t_14"],
        choices=list_models(),
        metavar="NAME",
        help="models (default: %(default)s)",
    )
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=PRECISIONS,
        help="dtype policies, or bfloat16 for inference with weights stored in bfloat16 "
        "(default: float32 and mixed_bfloat16, and mixed_float16 where a GPU is present)",
    )
    parser.add_argument(
        "--jit",
        nargs="+",
        default=["off", "on"],
        choices=["off", "on"],
        help="XLA compilation settings to measure (default: both)",
    )
    parser.add_argument(
        "--frozen-weights",
        nargs="+",
        default=["off"],
        choices=["off", "on"],
        help=f"inference rows with {FROZEN_WEIGHTS_VARIABLE}=1 (on) or 0 (off): TensorFlow's oneDNN "
        "matmuls pre-pack their weights once, for inference-only processes (default: off)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    parser.add_argument(
        "--attention-chunk-size",
        type=int,
        default=None,
        help="transformer T2T layers attend in chunks of this many queries (t2t_vit_t_* only)",
    )
    parser.add_argument(
        "--tables",
        nargs="+",
        default=["models", "pipeline"],
        choices=["models", "pipeline", "profile"],
        help="models: the model steps; pipeline: the training input pipeline with the full "
        "augmentation, on JPEGs of ImageNet's typical size; profile: where each model step's time "
        "goes, from TensorFlow's profiler (default: models pipeline)",
    )
    parser.add_argument(
        "--profile-steps", type=int, default=3, help="steps traced for the profile table (default 3)"
    )
    parser.add_argument(
        "--pipeline-batch-size", type=int, default=64, help="batch of the pipeline table (default 64)"
    )
    parser.set_defaults(handler=_run_benchmark)


def _run_benchmark(args) -> int:
    tables = []
    jit_settings = [setting == "on" for setting in args.jit]
    frozen_settings = [setting == "on" for setting in args.frozen_weights]
    precisions = args.precisions or default_precisions()
    model_kwargs = {}
    if args.attention_chunk_size is not None:
        model_kwargs["attention_chunk_size"] = args.attention_chunk_size
    if "models" in args.tables:
        tables.append(
            run(
                args.models,
                args.modes,
                precisions,
                jit_settings,
                batch_size=args.batch_size,
                image_size=args.image_size,
                warmup=args.warmup,
                steps=args.steps,
                model_kwargs=model_kwargs,
                frozen_weights=frozen_settings,
            )
        )
    if "profile" in args.tables:
        for model, mode, precision, jit, frozen in itertools.product(
            args.models, args.modes, precisions, jit_settings, frozen_settings
        ):
            if mode == "training" and frozen:
                continue
            result = profile(
                model,
                mode,
                precision,
                jit,
                args.batch_size,
                args.image_size,
                args.warmup,
                args.profile_steps,
                model_kwargs,
                frozen,
            )
            tables.append(format_profile(result))
    if "pipeline" in args.tables:
        pipeline = measure_pipeline(
            args.image_size, args.pipeline_batch_size, warmup=args.warmup, steps=args.steps
        )
        tables.append(format_pipeline_table(pipeline))
    for table in tables:
        print()
        print(table)
    return 0


def _add_train_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        description="Train with the paper's ImageNet recipe; flags override --config, which overrides "
        "the defaults. A killed run resumes where it stopped when run again with the same output dir. "
        "The recipe is made for ImageNet: its learning rate (5e-4 per 512 images, 6.25e-5 at batch "
        "64) and 300 epochs of strong augmentation learn slowly on a small folder of images. For "
        "small data start from `keras-t2t demo --data FOLDER` (a recipe for a few thousand images on "
        "a CPU) or fine-tune a trained model with examples/finetune.py.",
    )
    add_recipe_arguments(parser)
    parser.set_defaults(handler=_run_train)


def _run_train(args) -> int:
    print(run_report(train(recipe_from_arguments(args))))
    return 0


def _add_demo_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        description="Runs keras_t2t.training.demo_recipe(); every setting can be changed with the "
        "train command's flags, e.g. --epochs 2.",
    )
    add_recipe_arguments(parser, defaults=demo_recipe())
    parser.set_defaults(handler=_run_demo)


def _run_demo(args) -> int:
    run_demo(recipe_from_arguments(args, base=demo_recipe()))
    return 0


def _add_evaluate_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate")
    _add_classifier_arguments(parser)
    parser.add_argument(
        "--data",
        required=True,
        help='"imagenet2012", another tfds dataset, "fashion_mnist_idx", or a folder of '
        "<split>/<class>/ images",
    )
    parser.add_argument("--data-dir", default=None, help="tfds data folder (Fashion-MNIST: the idx files')")
    parser.add_argument("--manual-dir", default=None, help="ImageNet: the folder of the downloaded tar files")
    parser.add_argument(
        "--split", default=None, help="split to evaluate (default: the dataset's evaluation split)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="batches to evaluate (default: all)")
    _add_precision_argument(parser)
    _add_ema_argument(parser)
    parser.set_defaults(handler=_run_evaluate)


def _run_evaluate(args) -> int:
    if args.classes is None and not _is_whole_model(args.weights):
        args.classes = data.dataset_info(
            args.data, data_dir=args.data_dir, manual_dir=args.manual_dir
        ).num_classes
    model = _inference_model(_load_classifier(args), args.precision, args.ema)
    dataset = data.eval_dataset(
        args.data,
        image_size=model.input_shape[1:3],
        batch_size=args.batch_size,
        crop_pct=args.crop_pct,
        interpolation=args.interpolation,
        data_dir=args.data_dir,
        manual_dir=args.manual_dir,
        split=args.split,
    )
    results = evaluate(model, dataset, steps=args.steps)
    print(f"top-1:        {100 * results['top1']:.2f}%")
    print(f"top-5:        {100 * results['top5']:.2f}%")
    print(f"loss:         {results['loss']:.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-t2t", description="Tokens-to-Token Vision Transformers for Keras 3."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_summary_parser(subparsers)
    _add_benchmark_parser(subparsers)
    _add_convert_parser(subparsers)
    _add_export_parser(subparsers)
    _add_predict_parser(subparsers)
    _add_visualize_parser(subparsers)
    _add_train_parser(subparsers)
    _add_evaluate_parser(subparsers)
    _add_demo_parser(subparsers)
    for command in [parser, *subparsers.choices.values()]:
        # Read by keras_t2t_cli before TensorFlow is imported; here so that it is parsed and
        # listed in --help.
        command.add_argument(
            "--verbose",
            action="store_true",
            help="show TensorFlow's native log (quiet by default, unless TF_CPP_MIN_LOG_LEVEL is set)",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as error:
        print(f"keras-t2t {args.command}: error: {error}", file=sys.stderr)
        return 2
