"""The `keras-t2t` command (also `python -m keras_t2t`): quiets TensorFlow, then runs `cli.main`.

TensorFlow's native logging writes notices to stderr while it is imported (oneDNN, CPU
features, a failed CUDA probe on machines without a GPU) that read like failures to a new user.
`TF_CPP_MIN_LOG_LEVEL` does not reach the messages logged before absl's logging is set up, so
the import runs with stderr captured; if the import fails, what was captured is printed.
`--verbose`, or a `TF_CPP_MIN_LOG_LEVEL` of the user's own, leaves all of it alone.
"""

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    quiet = "--verbose" not in argv and "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    if quiet:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _stderr_shown_only_on_failure() if quiet else contextlib.nullcontext():
        from keras_t2t import cli
    return cli.main(argv)


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
