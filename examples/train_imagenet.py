"""Train a T2T-ViT on ImageNet with the paper's full recipe, on every GPU of the machine.

    python examples/train_imagenet.py --model t2t_vit_14 --data-dir ~/tensorflow_datasets \\
        --manual-dir ~/imagenet            # holds ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar
    python examples/train_imagenet.py --config my_recipe.yaml --batch-size 128
    python examples/train_imagenet.py --tiny    # a tiny model on a generated image folder, on CPU

The defaults are the paper's recipe (`keras_t2t.training.Recipe`): 310 epochs of AdamW with
warm-up, cosine decay and cooldown, the learning rate scaled with the global batch, RandAugment,
Mixup/CutMix, random erasing, label smoothing, stochastic depth and an EMA of the weights. Every
setting is a flag (`--help` lists them) or an entry of a `--config` YAML/JSON file. Several GPUs
are used through `MirroredStrategy` (`--batch-size` is per GPU); a killed run resumes where it
stopped when started again with the same `--output-dir`. The run folder gets the best and last
models, the TensorBoard logs, `curves.png` and a TF Serving export.
"""

import argparse
import os

import numpy as np
import tensorflow as tf
import yaml

from keras_t2t.training import Recipe, add_recipe_arguments, recipe_from_arguments, run_report, train

TINY_CLASSES = ("red", "green", "blue")


def tiny_recipe() -> Recipe:
    """The recipe at toy scale: a one-block T2T-ViT-7 at 32x32, two short epochs, EMA included."""
    return Recipe(
        model="t2t_vit_7",
        image_size=32,
        embed_dim=32,
        depth=1,
        num_heads=2,
        token_dim=16,
        epochs=2,
        warmup_epochs=1,
        cooldown_epochs=0,
        batch_size=4,
        steps_per_epoch=2,
        ema_decay=0.9,
        output_dir=os.path.join("runs", "tiny_imagenet"),
        progress_bar=False,
    )


def write_image_folder(root: str, images_per_class: int = 4) -> str:
    """`root/{train,validation}/<class>/*.jpg`: flat-coloured 40x40 JPEGs with noise, one colour a class."""
    rng = np.random.default_rng(0)
    colours = np.eye(3, dtype=np.float32) * 200 + 30
    for split in ("train", "validation"):
        for name, colour in zip(TINY_CLASSES, colours, strict=True):
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(images_per_class):
                image = np.clip(colour + rng.normal(0, 15, (40, 40, 3)), 0, 255).astype(np.uint8)
                tf.io.write_file(os.path.join(folder, f"{i}.jpg"), tf.io.encode_jpeg(image))
    return root


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="toy model and data: checks the whole run on CPU")
    add_recipe_arguments(parser)
    args = parser.parse_args(argv)

    recipe = recipe_from_arguments(args, base=tiny_recipe() if args.tiny else Recipe())
    if args.tiny:
        recipe = recipe.replace(data=write_image_folder(os.path.join(recipe.resolved_output_dir(), "images")))
    resolved = recipe.to_dict() | {
        "image_size": recipe.resolved_image_size(),
        "weight_decay": recipe.resolved_weight_decay(),
        "output_dir": recipe.resolved_output_dir(),
    }
    print(yaml.safe_dump(resolved, sort_keys=False))

    result = train(recipe)
    print(run_report(result))
    return result


if __name__ == "__main__":
    main()
