"""ImageNet-1k class names shipped with the package, and `decode_predictions`.

`assets/imagenet_classes.json` lists the 1000 ILSVRC2012 classes in label order (sorted WordNet
ids, the order of tfds `imagenet2012`) as `[wnid, name]` pairs, `name` being the first synonym of
the class's WordNet description.
"""

import functools
import json
from importlib import resources

import numpy as np

NUM_IMAGENET_CLASSES = 1000


@functools.cache
def _imagenet_classes() -> tuple[tuple[str, str], ...]:
    text = resources.files("keras_t2t").joinpath("assets/imagenet_classes.json").read_text()
    return tuple((wnid, name) for wnid, name in json.loads(text))


def imagenet_wnids() -> list[str]:
    """The 1000 ImageNet WordNet ids (e.g. `"n01440764"`), indexed by class id."""
    return [wnid for wnid, _ in _imagenet_classes()]


def imagenet_class_names() -> list[str]:
    """The 1000 human-readable ImageNet class names (e.g. `"tench"`), indexed by class id."""
    return [name for _, name in _imagenet_classes()]


def decode_predictions(preds, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """Turns ImageNet class scores into the `top` (wnid, name, score) tuples of each sample.

    Same contract as `keras.applications.imagenet_utils.decode_predictions`, which downloads its
    class index at run time; this one reads the names shipped in the package.

    Args:
        preds: scores, shape `(samples, 1000)`: a NumPy array or anything `np.asarray` accepts.
        top: how many classes to return per sample, best first.

    Returns:
        One list per sample of `top` tuples `(wnid, class_name, score)`, highest score first.
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != NUM_IMAGENET_CLASSES:
        raise ValueError(
            "`decode_predictions` expects ImageNet scores shaped (samples, "
            f"{NUM_IMAGENET_CLASSES}); received an array of shape {preds.shape}. "
            "Pass the output of a 1000-class model, e.g. `model.predict(images)`."
        )
    if not 1 <= top <= NUM_IMAGENET_CLASSES:
        raise ValueError(f"`top` must be in [1, {NUM_IMAGENET_CLASSES}]; received top={top}.")
    classes = _imagenet_classes()
    # A stable sort keeps the lower class id first among equal scores.
    best = np.argsort(-preds, axis=1, kind="stable")[:, :top]
    return [[(*classes[i], float(row[i])) for i in ids] for row, ids in zip(preds, best, strict=True)]
