"""Transfer learning: an ImageNet T2T-ViT fine-tuned on another dataset at another resolution.

As in the paper's CIFAR-10/100 runs (T2T-ViT-14: 98.3 / 88.4 top-1): the official ImageNet
checkpoint, a new head for the dataset's classes, the images resized to 224 (the position table is
resized to the new token grid), SGD at learning rate 0.05 with batches of 64.

    python examples/finetune.py --weights 81.5_T2T_ViT_14.pth.tar --data-dir ~/tensorflow_datasets
    python examples/finetune.py --weights 81.5_T2T_ViT_14.pth.tar --dataset cifar100 --image-size 384
    python examples/finetune.py --weights my_imagenet_run/best.keras ...   # your own keras_t2t run
    python examples/finetune.py --tiny      # a tiny model on a few drawn images, in seconds on CPU

The dataset is read with tensorflow_datasets from `--data-dir` and must be there already
(`tfds build cifar10 --data_dir DIR`; this script downloads nothing). Momentum 0.9 and the cosine
decay of the learning rate are this script's choices; the paper gives the learning rate and batch.
Writes the fine-tuned model (`finetuned.keras`) and its curves (`curves.png`) to `--out`.
"""

import argparse
import math
import os

import keras
import numpy as np
import tensorflow as tf

import keras_t2t
from keras_t2t.convert import resize_position_embedding
from keras_t2t.visualize import plot_history

TINY_MODEL = dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, token_dim=16)


def load_pretrained(name: str, weights: str, image_size: int, classes: int, **kwargs) -> keras.Model:
    """`name` at `image_size` with a new `classes`-way head, the rest from `weights`.

    An official checkpoint is converted on load, which replaces the head and resizes the position
    table itself. A whole keras_t2t classifier saved as `.keras` (the output of a training run)
    gets the same treatment here: every backbone weight copied, the position table resized to the
    new token grid as the official code resizes it.
    """
    if not weights.endswith(".keras"):
        return keras_t2t.create_model(
            name, weights=weights, input_shape=(image_size, image_size, 3), classes=classes, **kwargs
        )
    source = keras.saving.load_model(weights).get_layer("backbone")
    model = keras_t2t.create_model(name, input_shape=(image_size, image_size, 3), classes=classes, **kwargs)
    target = model.get_layer("backbone")
    if len(source.weights) != len(target.weights):
        raise ValueError(
            f"{weights} holds a backbone of {len(source.weights)} weights, not a {name} backbone "
            f"({len(target.weights)}): pass --model as the checkpoint was trained."
        )
    table = target.position_embedding.embedding
    for source_weight, target_weight in zip(source.weights, target.weights, strict=True):
        value = np.asarray(source_weight)
        if target_weight is table:
            value = resize_position_embedding(value, target.token_grid)
        if value.shape != tuple(target_weight.shape):
            raise ValueError(
                f"{weights} does not hold a {name} backbone: {source_weight.path} is {value.shape}, "
                f"the model's {target_weight.path} is {tuple(target_weight.shape)}."
            )
        target_weight.assign(value)
    return model


def tfds_datasets(name: str, data_dir: str | None, image_size: int, batch_size: int):
    """(train, test, classes, train batches) from tensorflow_datasets: images resized, RGB 0..255,
    flipped in training."""
    import tensorflow_datasets as tfds  # only the real run needs it

    builder = tfds.builder(name, data_dir=data_dir)
    if not os.path.isdir(builder.data_dir):
        raise FileNotFoundError(
            f"{name} is not in {builder.data_dir}. Prepare it first: tfds build {name} --data_dir DIR, "
            "then pass --data-dir DIR."
        )

    def resize(image, label):
        return tf.image.resize(image, (image_size, image_size), method="bicubic"), label

    def flip(image, label):
        return tf.image.random_flip_left_right(image), label

    train = builder.as_dataset(split="train", as_supervised=True, shuffle_files=True)
    train = train.shuffle(10_000).map(resize, tf.data.AUTOTUNE).map(flip, tf.data.AUTOTUNE)
    test = builder.as_dataset(split="test", as_supervised=True).map(resize, tf.data.AUTOTUNE)
    batched = [ds.batch(batch_size).prefetch(tf.data.AUTOTUNE) for ds in (train, test)]
    batches = math.ceil(builder.info.splits["train"].num_examples / batch_size)
    return *batched, builder.info.features["label"].num_classes, batches


def tiny_datasets(image_size: int, classes: int = 3):
    """A few drawn images per class, a flat colour per class plus noise: (train, test, classes,
    train batches)."""
    rng = np.random.default_rng(0)
    labels = np.arange(24) % classes
    colours = np.array([[220, 40, 40], [40, 220, 40], [40, 40, 220]], np.float32)[labels]
    images = colours[:, None, None] + rng.normal(0, 20, (24, image_size, image_size, 3))
    images = np.clip(images, 0, 255).astype(np.float32)
    train = tf.data.Dataset.from_tensor_slices((images[:16], labels[:16])).batch(8)
    test = tf.data.Dataset.from_tensor_slices((images[16:], labels[16:])).batch(8)
    return train, test, classes, 2


def tiny_pretrained(path: str) -> str:
    """Stands in for an ImageNet run: a tiny random 1000-class classifier at 32x32, saved whole."""
    keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), **TINY_MODEL).save(path)
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="t2t_vit_14", choices=keras_t2t.list_models(), metavar="NAME")
    parser.add_argument("--weights", help="official .pth.tar checkpoint, or a keras_t2t .keras classifier")
    parser.add_argument("--dataset", default="cifar10", help="a tfds image classification dataset")
    parser.add_argument("--data-dir", help="tensorflow_datasets folder holding the dataset")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="finetune_output", help="folder for the model and its curves")
    parser.add_argument("--tiny", action="store_true", help="tiny model and data, 32x32 -> 48x48")
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    if args.tiny:
        name, size, weights = "t2t_vit_7", 48, tiny_pretrained(os.path.join(args.out, "pretrained.keras"))
        train, test, classes, batches = tiny_datasets(size)
        model_kwargs = TINY_MODEL
    else:
        if args.weights is None:
            parser.error("--weights is needed: an official checkpoint (or a .keras classifier) to start from")
        name, size, weights = args.model, args.image_size, args.weights
        train, test, classes, batches = tfds_datasets(args.dataset, args.data_dir, size, args.batch_size)
        model_kwargs = {}

    model = load_pretrained(name, weights, size, classes, **model_kwargs)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=args.epochs * batches)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="top1")],
    )
    # The datasets shuffle themselves.
    history = model.fit(
        train, validation_data=test, epochs=args.epochs, shuffle=False, verbose=2 if args.tiny else 1
    )
    model.save(os.path.join(args.out, "finetuned.keras"))
    curves = plot_history(
        history.history, os.path.join(args.out, "curves.png"), title=f"{name} on {classes} classes"
    )
    print(f"test top-1: {history.history['val_top1'][-1]:.4f}")
    print(f"wrote:      {os.path.join(args.out, 'finetuned.keras')}, {curves}")
    return {"model": model, "history": history.history, "curves": curves}


if __name__ == "__main__":
    main()
