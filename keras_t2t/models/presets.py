"""The official ImageNet checkpoints as named presets: `t2t_vit_14_imagenet`, ...

`keras_t2t.T2TViTImageClassifier.from_preset(name)` (and `T2TViTBackbone.from_preset`) build a
preset from the official checkpoint the first time (downloaded into the Keras cache, converted,
saved as a keras-hub preset directory beside it) and load it from there afterwards; the builders'
`weights="imagenet"` uses the same checkpoints.
"""

import dataclasses
import difflib

from keras_t2t.models.variants import VARIANTS


@dataclasses.dataclass(frozen=True, kw_only=True)
class Preset:
    """One official ImageNet checkpoint.

    Attributes:
        model: the official model name, a key of `VARIANTS`.
        checkpoint: the file name of the official release's checkpoint.
        top1: its ImageNet top-1 accuracy, as published with the release.
        image_size: the square input size it was trained at.
    """

    model: str
    checkpoint: str
    top1: float
    image_size: int = 224

    @property
    def name(self) -> str:
        """`<model>_imagenet`, or `<model>_<size>_imagenet` at another than the model's usual size."""
        size = "" if self.image_size == VARIANTS[self.model].image_size else f"_{self.image_size}"
        return f"{self.model}{size}_imagenet"

    def describe(self) -> str:
        size = f"{self.image_size}x{self.image_size}"
        return f"{self.model} at {size}, {self.top1}% ImageNet top-1 ({self.checkpoint})"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(model="t2t_vit_7", checkpoint="71.7_T2T_ViT_7.pth.tar", top1=71.7),
        Preset(model="t2t_vit_10", checkpoint="75.2_T2T_ViT_10.pth.tar", top1=75.2),
        Preset(model="t2t_vit_12", checkpoint="76.5_T2T_ViT_12.pth.tar", top1=76.5),
        Preset(model="t2t_vit_14", checkpoint="81.5_T2T_ViT_14.pth.tar", top1=81.5),
        Preset(model="t2t_vit_14", checkpoint="83.3_T2T_ViT_14.pth.tar", top1=83.3, image_size=384),
        Preset(model="t2t_vit_19", checkpoint="81.9_T2T_ViT_19.pth.tar", top1=81.9),
        Preset(model="t2t_vit_24", checkpoint="82.3_T2T_ViT_24.pth.tar", top1=82.3),
        Preset(model="t2t_vit_t_14", checkpoint="81.7_T2T_ViTt_14.pth.tar", top1=81.7),
        Preset(model="t2t_vit_t_19", checkpoint="82.4_T2T_ViTt_19.pth.tar", top1=82.4),
        Preset(model="t2t_vit_t_24", checkpoint="82.6_T2T_ViTt_24.pth.tar", top1=82.6),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called `name`; a ValueError naming close matches and every preset otherwise."""
    if name in PRESETS:
        return PRESETS[name]
    close = difflib.get_close_matches(name, PRESETS, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"Unknown preset {name!r}.{hint} The presets are {', '.join(PRESETS)}.")


def imagenet_preset(model: str, image_size: int | None = None) -> Preset:
    """The official checkpoint that `weights="imagenet"` loads for `model`: the one trained at
    `image_size` if there is one, else the one at the model's usual size.

    Raises:
        ValueError: the model has no official checkpoint.
    """
    candidates = [preset for preset in PRESETS.values() if preset.model == model]
    if not candidates:
        with_weights = sorted({preset.model for preset in PRESETS.values()})
        raise ValueError(
            f"{model} has no official ImageNet checkpoint, so weights='imagenet' cannot be loaded for "
            f"it. Models with one: {', '.join(with_weights)}."
        )
    sized = [preset for preset in candidates if preset.image_size == image_size]
    usual = [preset for preset in candidates if preset.image_size == VARIANTS[model].image_size]
    return (sized or usual)[0]
