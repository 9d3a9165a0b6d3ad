"""The `keras-t2t` command line: a thin argparse layer over the library."""

import argparse
import sys

from keras_t2t.complexity import count_macs, count_params
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-t2t", description="Tokens-to-Token Vision Transformers for Keras 3."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_summary_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"keras-t2t {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
