"""Reading `.keras` files with errors that say what is wrong with the file."""

import os
import zipfile

import keras


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

    Args:
        path: a `.keras` file written by `model.save`.
        **kwargs: passed to `keras.saving.load_model` (`compile`, `safe_mode`, ...).
    """
    check_keras_archive(path)
    return keras.saving.load_model(path, **kwargs)
