"""`weights="imagenet"`: the official checkpoints, downloaded once into the Keras cache.

The official files are release assets of the T2T-ViT repository (`RELEASE_URL`); set
`KERAS_T2T_WEIGHTS_URL` to fetch them from a mirror instead. A file is downloaded once, to
`<Keras cache>/keras_t2t/<file>` (`~/.keras` or `$KERAS_HOME`), and a file already there is used
as it is, so a machine without internet access works with a file put there by hand. The
conversions (`<preset>.weights.h5`) and the named presets' directories (`presets/<preset>/`) are
kept beside them.
"""

import os

import keras

from keras_t2t.models.presets import Preset

RELEASE_URL = "https://github.com/yitu-opensource/T2T-ViT/releases/download/main"
WEIGHTS_URL_ENV = "KERAS_T2T_WEIGHTS_URL"
CACHE_SUBDIR = "keras_t2t"


def cache_dir() -> str:
    """`<Keras cache>/keras_t2t`, where the official checkpoints and their conversions are kept."""
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(keras_home, CACHE_SUBDIR)


def official_checkpoint(preset: Preset) -> str:
    """The local path of `preset`'s official checkpoint, downloading it if needed.

    Raises:
        OSError: the file is not in the cache and cannot be downloaded; the message names the file,
            where it comes from and where to put it by hand.
    """
    path = os.path.join(cache_dir(), preset.checkpoint)
    if os.path.isfile(path):
        return path
    url = f"{os.environ.get(WEIGHTS_URL_ENV, RELEASE_URL).rstrip('/')}/{preset.checkpoint}"
    # Made first: get_file falls back to /tmp/.keras for a cache folder it cannot write to.
    os.makedirs(cache_dir(), exist_ok=True)
    try:
        return keras.utils.get_file(
            preset.checkpoint, origin=url, cache_dir=os.path.dirname(cache_dir()), cache_subdir=CACHE_SUBDIR
        )
    except Exception as error:
        raise OSError(
            f"Could not download {preset.checkpoint} from {url} ({type(error).__name__}: {error}). "
            f"Download it by hand and put it at {path}, where weights='imagenet' and the preset "
            f"{preset.name!r} look first, or pass weights='<path of the file>'."
        ) from error


def converted_weights_path(preset: Preset) -> str:
    """Where the conversion of `preset`'s checkpoint (its own input size, 1000 classes) is kept."""
    return os.path.join(cache_dir(), f"{preset.name}.weights.h5")


def preset_directory(preset: Preset) -> str:
    """Where the keras-hub preset directory made from `preset`'s checkpoint is kept."""
    return os.path.join(cache_dir(), "presets", preset.name)
