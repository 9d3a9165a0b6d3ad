"""Random T2T-ViT checkpoints in the official layouts, and the reference's outputs, for the tests."""

import numpy as np
import torch

from keras_t2t import create_model
from keras_t2t.models import VARIANTS
from tests.convert import torch_reference

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])

# A tiny T2T-ViT for the tests that do not need a real variant: 32 x 32 images, a 2 x 2 token grid.
TINY = {"embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_ratio": 2.0, "token_dim": 16}


def reference_model(name, size, num_classes=1000, qk_scale="official", seed=0, **overrides):
    """A random `torch_reference.T2TViT` of variant `name` (with `overrides`) at `size` x `size`."""
    variant = VARIANTS[name]
    config = {
        "embed_dim": variant.embed_dim,
        "depth": variant.depth,
        "num_heads": variant.num_heads,
        "mlp_ratio": variant.mlp_ratio,
        "tokens_type": variant.tokens_type,
        **overrides,
    }
    if qk_scale == "official":
        qk_scale = config["embed_dim"] ** -0.5
    model = torch_reference.T2TViT(
        image_size=(size, size), num_classes=num_classes, qk_scale=qk_scale, **config
    )
    return torch_reference.randomize_(model, seed).eval()


def tiny_keras_model(**kwargs):
    return create_model("t2t_vit_7", input_shape=(32, 32, 3), classes=10, **TINY | kwargs)


def tiny_reference(seed=0, **kwargs):
    return reference_model("t2t_vit_7", 32, num_classes=10, seed=seed, **TINY | kwargs)


def images(size, batch=1):
    return np.random.default_rng(1).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def normalise(pixels):
    """ImageNet mean / std normalisation of [0, 255] RGB `pixels`, in NumPy."""
    return ((pixels / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).astype("float32")


def reference_output(reference, pixels, features=False):
    """The reference's logits (or class-token features) for [0, 255] RGB `pixels` (B, H, W, 3)."""
    with torch.no_grad():
        image = torch.from_numpy(normalise(pixels)).permute(0, 3, 1, 2)
        return (reference.features(image) if features else reference(image)).numpy()


def save(path, state_dict, layout="state_dict_ema"):
    """Writes `state_dict` as an official checkpoint of the given layout; returns the path."""
    if layout == "plain":
        torch.save(state_dict, path)
    elif layout == "module_prefix":
        torch.save({f"module.{key}": value for key, value in state_dict.items()}, path)
    else:
        torch.save({layout: state_dict, "epoch": 309}, path)
    return str(path)
