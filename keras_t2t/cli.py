"""The `keras-t2t` command line: a thin argparse layer over the library."""

import argparse
import sys

from keras_t2t.complexity import count_macs, count_params
from keras_t2t.convert import convert_checkpoint
from keras_t2t.models import VARIANTS, create_model, list_models


def _add_summary_parser(subparsers) -> None:
    parser = subparsers.add_parser("summary", help="print a model's parameters and multiply-accumulates")
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
    parser = subparsers.add_parser(
        "convert",
        help="convert an official PyTorch checkpoint into a Keras .weights.h5 or .keras file",
    )
    parser.add_argument("checkpoint", help="official checkpoint, e.g. 81.5_T2T_ViT_14.pth.tar")
    parser.add_argument(
        "--model",
        required=True,
        choices=list(VARIANTS),
        metavar="NAME",
        help="the checkpoint's model, e.g. t2t_vit_14 (choices: %(choices)s)",
    )
    parser.add_argument(
        "--output",
        required=True,
        help="a .weights.h5 file (weights only) or a .keras file (the whole model)",
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
        help="query-key scale of the blocks (default: embed_dim ** -0.5, as the checkpoints were trained)",
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
    model, report = convert_checkpoint(
        args.checkpoint,
        args.output,
        args.model,
        image_size=args.image_size,
        classes=args.classes,
        use_ema=args.ema,
        strict=args.strict,
        qk_scale=args.qk_scale,
        include_preprocessing=args.preprocessing,
    )
    backbone = model.get_layer("backbone")
    input_shape = backbone.image_shape
    classes = model.get_layer("head").units
    print(f"wrote:        {args.output}")
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
    if args.output.endswith(".weights.h5"):
        print(
            f"load with:    keras_t2t.create_model({args.model!r}, weights={args.output!r}, "
            f"input_shape={input_shape}, classes={classes}, qk_scale={backbone.qk_scale!r}"
            f"{'' if args.preprocessing else ', include_preprocessing=False'})"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-t2t", description="Tokens-to-Token Vision Transformers for Keras 3."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_summary_parser(subparsers)
    _add_convert_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"keras-t2t {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
