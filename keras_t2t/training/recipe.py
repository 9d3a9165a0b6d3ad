"""The training recipe: every setting of a run as data, the paper's values by default.

A `Recipe` is saved to and loaded from YAML or JSON, and each of its fields (the `Augmentation`'s
included) is a `keras-t2t train` flag: `--batch-size 128`, `--mixup-alpha 0`, `--no-export`.
"""

import argparse
import dataclasses
import json
import os
import types
import typing

import yaml

from keras_t2t.data import Augmentation
from keras_t2t.models import VARIANTS, list_models

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
INTERPOLATIONS = ("bicubic", "bilinear", "area", "lanczos3", "nearest")


# AdamW weight decay of the paper's ImageNet recipe: 0.05, but 0.03 for the small T2T-ViT-7/10/12
# and 0.065 for the large -19/-24 (training data, so here rather than in the model table).
DEFAULT_WEIGHT_DECAY = 0.05
PAPER_WEIGHT_DECAY = {
    **dict.fromkeys(["t2t_vit_7", "t2t_vit_10", "t2t_vit_12"], 0.03),
    **dict.fromkeys(["t2t_vit_19", "t2t_vit_24", "t2t_vit_t_19", "t2t_vit_t_24"], 0.065),
}


def _setting(default, help: str, **metadata):
    """A recipe field with its help text (and argparse `choices`) in the metadata."""
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: default, metadata={"help": help, **metadata})
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Every setting of a training run. The defaults are the paper's ImageNet recipe."""

    model: str = _setting("t2t_vit_14", "model name (keras-t2t summary --help lists them)")
    data: str = _setting(
        "imagenet2012",
        'data source: "imagenet2012", another tfds dataset, "fashion_mnist_idx", or a folder of '
        "<split>/<class>/ images",
    )
    data_dir: str | None = _setting(None, "tfds data folder (Fashion-MNIST: the idx files' folder)")
    manual_dir: str | None = _setting(None, "folder holding ILSVRC2012_img_train.tar and _val.tar")
    image_size: int | None = _setting(None, "square input size; None: the model's (224)")
    small_image: bool = _setting(False, "soft splits for 28-64 px images (SMALL_IMAGE_SOFT_SPLITS)")
    embed_dim: int | None = _setting(None, "override the model's token width")
    depth: int | None = _setting(None, "override the model's number of Transformer blocks")
    num_heads: int | None = _setting(None, "override the model's attention heads")
    mlp_ratio: float | None = _setting(None, "override the model's MLP width ratio")
    token_dim: int | None = _setting(None, "override the T2T module's token width (64)")
    attention_chunk_size: int | None = _setting(
        None,
        "transformer T2T layers (t2t_vit_t_*) attend in chunks of this many queries: less memory "
        "(t2t_vit_t_14 with 784: 161 instead of 259 MiB per training image), 5-10% slower",
    )
    epochs: int = _setting(300, "epochs of warm-up and cosine decay")
    warmup_epochs: int = _setting(10, "epochs of linear warm-up from warmup_lr")
    cooldown_epochs: int = _setting(10, "epochs at min_lr after the cosine")
    batch_size: int = _setting(64, "batch of one replica; the global batch is this times the replicas")
    base_lr: float = _setting(5e-4, "learning rate for a global batch of lr_base_batch, scaled linearly")
    lr_base_batch: int = _setting(512, "the global batch base_lr is meant for")
    warmup_lr: float = _setting(1e-6, "learning rate of the first step")
    min_lr: float = _setting(1e-5, "learning rate at the end of the cosine and in the cooldown")
    weight_decay: float | None = _setting(
        None, "AdamW weight decay; None: the model's (0.05; 0.03 for T2T-ViT-7/10/12, 0.065 for -19/-24)"
    )
    drop_path_rate: float = _setting(0.1, "stochastic depth of the last block, linear from 0")
    drop_rate: float = _setting(0.0, "dropout in the blocks")
    ema_decay: float | None = _setting(0.99996, "momentum of the weights' moving average; None: no EMA")
    clip_norm: float | None = _setting(None, "clip gradients to this global norm; None: no clipping")
    precision: str = _setting("float32", "dtype policy", choices=PRECISIONS)
    seed: int = _setting(42, "seed of the initialisation, the data order and every augmentation")
    deterministic: bool = _setting(False, "deterministic TensorFlow ops (slower)")
    jit_compile: bool = _setting(False, "compile the train step with XLA")
    steps_per_epoch: int | None = _setting(None, "steps per epoch; None: train examples // global batch")
    eval_steps: int | None = _setting(None, "evaluation batches per epoch; None: the whole split")
    eval_batch_size: int | None = _setting(None, "evaluation batch of one replica; None: batch_size")
    crop_pct: float = _setting(0.9, "evaluation: resize to size / crop_pct, then centre crop")
    interpolation: str = _setting("bicubic", "evaluation resize method", choices=INTERPOLATIONS)
    output_dir: str | None = _setting(None, "the run's folder; None: runs/<model>")
    backup_every_steps: int | None = _setting(
        500, "back up the training state every this many steps too (always at epoch ends)"
    )
    tpu: str | None = _setting(None, "TPU name or address (TPUStrategy); 'local' on a TPU VM")
    export: bool = _setting(True, "export a TF Serving SavedModel at the end")
    progress_bar: bool = _setting(True, "show a progress bar")
    augmentation: Augmentation = _setting(Augmentation(), "the training transform")

    def __post_init__(self):
        if self.model not in list_models():
            raise ValueError(f"Unknown model {self.model!r}; choose one of {', '.join(list_models())}.")
        for name, choices in (("precision", PRECISIONS), ("interpolation", INTERPOLATIONS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}; got {getattr(self, name)!r}.")
        for name in ("epochs", "batch_size", "lr_base_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive number; got {getattr(self, name)}.")
        for name in ("steps_per_epoch", "eval_steps", "eval_batch_size", "backup_every_steps", "image_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive number or None; got {value}.")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(
                f"warmup_epochs must be in [0, epochs): the cosine needs at least one epoch; got "
                f"warmup_epochs={self.warmup_epochs}, epochs={self.epochs}."
            )
        if self.cooldown_epochs < 0:
            raise ValueError(f"cooldown_epochs must be >= 0; got {self.cooldown_epochs}.")
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) or None; got {self.ema_decay}.")

    @property
    def total_epochs(self) -> int:
        """Epochs of the whole run: warm-up and cosine, then the cooldown (the paper's 310)."""
        return self.epochs + self.cooldown_epochs

    def resolved_weight_decay(self) -> float:
        """`weight_decay`, or the paper's value for the model (`PAPER_WEIGHT_DECAY`)."""
        if self.weight_decay is not None:
            return self.weight_decay
        return PAPER_WEIGHT_DECAY.get(self.model, DEFAULT_WEIGHT_DECAY)

    def resolved_image_size(self) -> int:
        """`image_size`, or the model's."""
        return VARIANTS[self.model].image_size if self.image_size is None else self.image_size

    def resolved_output_dir(self) -> str:
        """`output_dir`, or `runs/<model>`."""
        return self.output_dir or os.path.join("runs", self.model)

    def to_dict(self) -> dict:
        """Plain types only (tuples as lists): what YAML and JSON files hold."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: dict) -> "Recipe":
        """The inverse of `to_dict`; keys left out keep their defaults, unknown keys are an error."""
        return _from_dict(cls, values, "recipe")

    def save(self, path: str) -> str:
        """Writes the recipe as YAML (`.yaml`, `.yml`) or JSON (`.json`); returns `path`."""
        with open(path, "w") as f:
            if _file_format(path) == "json":
                json.dump(self.to_dict(), f, indent=2)
                f.write("\n")
            else:
                yaml.safe_dump(self.to_dict(), f, sort_keys=False)
        return path

    @classmethod
    def load(cls, path: str) -> "Recipe":
        """Reads a recipe written by `save` (or by hand: any subset of the fields)."""
        with open(path) as f:
            values = json.load(f) if _file_format(path) == "json" else yaml.safe_load(f)
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ValueError(
                f"{path} must hold a mapping of recipe fields; it holds {type(values).__name__}."
            )
        return cls.from_dict(values)

    def replace(self, **overrides) -> "Recipe":
        """A copy with some fields changed; `Augmentation` fields may be given by name too
        (`recipe.replace(epochs=5, mixup_alpha=0.0)`)."""
        augmentation_names = {field.name for field in dataclasses.fields(Augmentation)}
        augmentation = {k: overrides.pop(k) for k in list(overrides) if k in augmentation_names}
        unknown = set(overrides) - {field.name for field in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"Unknown recipe settings: {', '.join(sorted(unknown))}.")
        if augmentation:
            overrides["augmentation"] = dataclasses.replace(
                overrides.get("augmentation", self.augmentation), **augmentation
            )
        return dataclasses.replace(self, **overrides)


def demo_recipe() -> Recipe:
    """`keras-t2t demo`: a small T2T-ViT on Fashion-MNIST in minutes on two CPU cores.

    28 px images (a multiple of the small-image soft splits' total stride 4: no resizing), a narrow
    and shallow T2T-ViT-7 (embed_dim 128, depth 4, T2T tokens of width 16), compiled with XLA, a
    short schedule (4 epochs of 400 batches of 128, 85% of the training split each: about 9 minutes
    on two cores) at a rate scaled for batch 128, light augmentation (crops of at least 85% of
    the image; no RandAugment, random erasing, mixup, cutmix or flips: a run of a few epochs
    underfits, and they cost more accuracy than they buy), no drop path and no EMA (a short run's
    average lags the weights).
    """
    return Recipe(
        model="t2t_vit_7",
        data="fashion_mnist_idx",
        image_size=28,
        small_image=True,
        embed_dim=128,
        depth=4,
        num_heads=4,
        token_dim=16,
        epochs=4,
        steps_per_epoch=400,
        warmup_epochs=1,
        cooldown_epochs=0,
        batch_size=128,
        base_lr=2e-3,
        lr_base_batch=128,
        weight_decay=0.05,
        drop_path_rate=0.0,
        ema_decay=None,
        jit_compile=True,
        eval_batch_size=500,
        crop_pct=1.0,
        backup_every_steps=200,
        output_dir=os.path.join("runs", "demo"),
        augmentation=Augmentation(
            crop_scale=(0.85, 1.0),
            horizontal_flip=0.0,
            randaugment_num_ops=0,
            random_erasing=0.0,
            mixup_alpha=0.0,
            cutmix_alpha=0.0,
            label_smoothing=0.1,
        ),
    )


def _file_format(path: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension == ".json":
        return "json"
    if extension in (".yaml", ".yml"):
        return "yaml"
    raise ValueError(f"A recipe file must end in .yaml, .yml or .json; got {path!r}.")


def _from_dict(cls, values: dict, where: str):
    """Builds dataclass `cls` from plain values, converting lists to tuples and nested mappings to
    nested dataclasses as the field types say."""
    hints = typing.get_type_hints(cls)
    names = {field.name for field in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(
            f"Unknown {where} settings: {', '.join(sorted(unknown))}. Known: {', '.join(sorted(names))}."
        )
    converted = {}
    for name, value in values.items():
        hint = _without_none(hints[name])
        if value is not None and dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ValueError(f"{where} setting {name!r} must be a mapping; got {value!r}.")
            value = _from_dict(hint, value, name)
        elif isinstance(value, list) and typing.get_origin(hint) is tuple:
            value = tuple(value)
        converted[name] = value
    return cls(**converted)


def _without_none(hint):
    """`X` for `X | None`, `hint` otherwise."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return hint


def add_recipe_arguments(parser: argparse.ArgumentParser, defaults: Recipe | None = None) -> None:
    """One flag per recipe field and per `Augmentation` field, plus `--config FILE`.

    The help texts show the values of `defaults` (the paper's recipe when None).

    Flags that are not given are absent from the parsed namespace (`argparse.SUPPRESS`), so that
    `recipe_from_arguments` overrides only what the command line says.
    """
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="recipe file (.yaml, .yml or .json); flags override its settings",
    )
    augmentation = parser.add_argument_group("augmentation")
    defaults = defaults or Recipe()
    for group, values in ((parser, defaults), (augmentation, defaults.augmentation)):
        hints = typing.get_type_hints(type(values))
        for field in dataclasses.fields(values):
            if not dataclasses.is_dataclass(hints[field.name]):
                _add_argument(group, field, hints[field.name], getattr(values, field.name))


def _add_argument(parser, field: dataclasses.Field, hint, default) -> None:
    flag = "--" + field.name.replace("_", "-")
    help_text = field.metadata.get("help", field.name.replace("_", " "))
    help_text = f"{help_text} (default: {default})".replace("%", "%%")
    optional = _without_none(hint) is not hint
    hint = _without_none(hint)
    if hint is bool:
        parser.add_argument(
            flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
        )
        return
    kwargs = {"default": argparse.SUPPRESS, "help": help_text, "choices": field.metadata.get("choices")}
    if typing.get_origin(hint) is tuple:
        members = typing.get_args(hint)
        kwargs["nargs"] = "+" if Ellipsis in members else len(members)
        hint = members[0]
    kwargs["type"] = _parse_optional(hint) if optional else hint
    if optional:
        kwargs["metavar"] = f"{hint.__name__.upper()}|none"
    parser.add_argument(flag, **kwargs)


def _parse_optional(kind):
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in its error messages
    return parse


def recipe_from_arguments(args: argparse.Namespace, base: Recipe | None = None) -> Recipe:
    """The recipe that `--config` (or `base`, or the paper's defaults) and the given flags make."""
    recipe = Recipe.load(args.config) if getattr(args, "config", None) else (base or Recipe())
    names = {field.name for field in dataclasses.fields(Recipe)}
    names |= {field.name for field in dataclasses.fields(Augmentation)}
    # argparse gives several values as a list; the recipe holds tuples.
    overrides = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(args).items()
        if name in names
    }
    return recipe.replace(**overrides)
