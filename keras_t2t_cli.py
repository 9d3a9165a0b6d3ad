"""The `keras-t2t` command: `--help` without TensorFlow, a quiet TensorFlow start, then `keras_t2t.cli`.

A module of its own, outside the package: `import keras_t2t` imports Keras, keras-hub and
TensorFlow (so that keras-hub's `from_preset` finds the model classes), which is too late both to
answer `keras-t2t --help` at once and to quiet TensorFlow's import.

TensorFlow's native logging writes notices to stderr while it is imported (oneDNN, CPU features, a
failed CUDA probe on machines without a GPU) that read like failures to a new user.
`TF_CPP_MIN_LOG_LEVEL` does not reach the messages logged before absl's logging is set up, so the
import runs with stderr captured; if the import fails, what was captured is printed. `--verbose`,
or a `TF_CPP_MIN_LOG_LEVEL` of the user's own, leaves all of it alone. Before the import, the
command also turns TensorFlow's oneDNN kernels on where TensorFlow would leave them off
(`use_onednn_on_every_x86_cpu`).
"""

import argparse
import contextlib
import os
import platform
import sys
import tempfile
from collections.abc import Iterator, MutableMapping

# The commands of keras_t2t.cli, in the order `keras-t2t --help` lists them.
COMMANDS = {
    "demo": "train, evaluate and export a small T2T-ViT on Fashion-MNIST in minutes on a CPU",
    "train": "train a model with the paper's recipe (every setting a flag or a --config file entry)",
    "evaluate": "top-1 and top-5 accuracy of a classifier on a dataset",
    "predict": "classify image files and print the best classes",
    "export": "export a classifier as a TensorFlow Serving SavedModel in OUTPUT/<version>",
    "convert": "convert an official PyTorch checkpoint into a Keras file or a keras-hub preset",
    "summary": "print a model's parameters and multiply-accumulates",
    "visualize": "draw an image's attention maps, attention rollout and token feature maps as PNG files",
    "benchmark": "images/s, GFLOP/s and peak memory for inference and training steps",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not set(argv) & set(COMMANDS):
        # No command given: the overview, or argparse's usage error, needs no TensorFlow.
        overview_parser().parse_args(argv)
    use_onednn_on_every_x86_cpu()
    quiet = "--verbose" not in argv and "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    if quiet:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _stderr_shown_only_on_failure() if quiet else contextlib.nullcontext():
        from keras_t2t import cli
    return cli.main(argv)


def use_onednn_on_every_x86_cpu(environ: MutableMapping[str, str] = os.environ) -> None:
    """Turns TensorFlow's oneDNN kernels on for this process on x86 CPUs, unless the user chose.

    TensorFlow enables them by default only on CPUs with AVX-512 VNNI or newer; on the others (AVX2
    AMD EPYCs and older Intel Xeons) its Eigen kernels ran T2T-ViT slower in every measurement (see
    the README's performance section). `TF_ENABLE_ONEDNN_OPTS=0` keeps Eigen's. It must be set
    before TensorFlow starts, so only the command does it: `import keras_t2t` changes no setting.
    """
    if is_x86():
        environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def is_x86() -> bool:
    """Whether this machine's CPU is x86-64, the only kind whose oneDNN setting the command changes."""
    return platform.machine().lower() in ("x86_64", "amd64")


def overview_parser() -> argparse.ArgumentParser:
    """The top level of the command line: the commands, each with its one-line summary."""
    parser = argparse.ArgumentParser(
        prog="keras-t2t",
        description="Tokens-to-Token Vision Transformers for Keras 3. `keras-t2t COMMAND --help` "
        "describes a command's options.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in COMMANDS.items():
        subparsers.add_parser(name, help=summary)
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's native log")
    return parser


@contextlib.contextmanager
def _stderr_shown_only_on_failure() -> Iterator[None]:
    """Sends file descriptor 2 (native code's stderr and Python's) to a temporary file."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.buffer.write(captured.read())
            sys.stderr.flush()
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


if __name__ == "__main__":
    sys.exit(main())
