"""Transfer learning: an ImageNet T2T-ViT fine-tuned on another dataset at another resolution.

As in the paper's CIFAR-10/100 runs (T2T-ViT-14: 98.3 / 88.4 top-1): the official ImageNet
checkpoint, a new head for the dataset's classes, the images resized to 224 (the position table is
resized to the new token grid), SGD at learning rate 0.05 with batches of 64.

    python examples/finetune.py --weights 81.5_T2T_ViT_14.pth.tar --data-dir ~/tensorflow_datasets
    python examples/finetune.py --weights 81.5_T2T_ViT_14.pth.tar --dataset cifar100 --image-size 384
    python examples/finetune.py --weights my_imagenet_run/best.keras ...   # your own keras_t2t run
    python examples/finetune.py --tiny      # a tiny model on a generated image folder, seconds on CPU

The dataset is any source of `keras_t2t.data`: a tfds dataset in `--data-dir` (tfds prepares it
there on first use, downloading CIFAR-10/100 from their site), or a folder of `train/<class>/` and
`test/<class>/` images. Momentum 0.9, the cosine decay of the learning rate and the augmentation
(random flips only) are this script's choices; the paper gives the learning rate and batch.
Writes the fine-tuned model (`finetuned.keras`) and its curves (`curves.png`) to `--out`.
"""

import argparse
import os

import keras
import numpy as np
import tensorflow as tf

import keras_t2t
from keras_t2t import data
from keras_t2t.convert import transfer_backbone
from keras_t2t.visualize import plot_history

TINY_MODEL = dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, token_dim=16)


def load_pretrained(name: str, weights: str, image_size: int, classes: int, **kwargs) -> keras.Model:
    """`name` at `image_size` with a new `classes`-way head, the rest from `weights`.

    An official checkpoint is converted on load, which replaces the head and resizes the position
    table itself; a whole keras_t2t classifier saved as `.keras` (the output of a training run) gets
    the same treatment from `keras_t2t.convert.transfer_backbone`.
    """
    input_shape = (image_size, image_size, 3)
    if not weights.endswith(".keras"):
        return keras_t2t.create_model(
            name, weights=weights, input_shape=input_shape, classes=classes, **kwargs
        )
    model = keras_t2t.create_model(name, input_shape=input_shape, classes=classes, **kwargs)
    transfer_backbone(keras_t2t.load_model(weights), model)
    return model


def datasets(source: str, data_dir: str | None, image_size: int, batch_size: int):
    """(train, test, classes, train batches per epoch) through keras_t2t.data: RGB 0..255 images,
    one-hot targets; the training images whole, resized and flipped at random (this script's
    choice: no crops, RandAugment, mixing or smoothing), the test images resized whole."""
    info = data.dataset_info(source, data_dir=data_dir)
    size = (image_size, image_size)
    augmentation = data.Augmentation.flip_only()
    train = data.train_dataset(
        source, image_size=size, batch_size=batch_size, augmentation=augmentation, data_dir=data_dir
    )
    test = data.eval_dataset(source, image_size=size, batch_size=batch_size, crop_pct=1.0, data_dir=data_dir)
    test = test.map(lambda images, labels: (images, tf.one_hot(labels, info.num_classes)))
    return train, test, info.num_classes, max(info.num_train_examples // batch_size, 1)


def write_image_folder(root: str, classes: int = 3, images_per_class: int = 8) -> str:
    """`root/{train,test}/<class>/*.png`: 32x32 pictures, a flat colour per class plus noise."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in range(classes):
            folder = os.path.join(root, split, f"class_{label}")
            os.makedirs(folder, exist_ok=True)
            colour = np.roll([220.0, 40.0, 40.0], label)
            for i in range(images_per_class):
                image = np.clip(colour + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
                tf.io.write_file(os.path.join(folder, f"{i}.png"), tf.io.encode_png(image))
    return root


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
    parser.add_argument("--dataset", default="cifar10", help="a tfds dataset name or an image folder")
    parser.add_argument(
        "--data-dir", help="tensorflow_datasets folder (default: tfds's, ~/tensorflow_datasets)"
    )
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="finetune_output", help="folder for the model and its curves")
    parser.add_argument(
        "--tiny", action="store_true", help="tiny model on a generated image folder, 32 -> 48 px"
    )
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    if args.tiny:
        name, size, weights = "t2t_vit_7", 48, tiny_pretrained(os.path.join(args.out, "pretrained.keras"))
        source, data_dir, batch_size = write_image_folder(os.path.join(args.out, "images")), None, 8
        model_kwargs = TINY_MODEL
    else:
        if args.weights is None:
            parser.error("--weights is needed: an official checkpoint (or a .keras classifier) to start from")
        name, size, weights = args.model, args.image_size, args.weights
        source, data_dir, batch_size = args.dataset, args.data_dir, args.batch_size
        model_kwargs = {}
    train, test, classes, batches = datasets(source, data_dir, size, batch_size)

    model = load_pretrained(name, weights, size, classes, **model_kwargs)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=args.epochs * batches)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
        loss="categorical_crossentropy",
        metrics=[keras.metrics.CategoricalAccuracy(name="top1")],
    )
    # The training dataset is endless and shuffles itself.
    history = model.fit(
        train,
        steps_per_epoch=batches,
        validation_data=test,
        epochs=args.epochs,
        shuffle=False,
        verbose=2 if args.tiny else 1,
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
