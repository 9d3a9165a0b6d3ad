"""Quickstart: build a T2T-ViT, look at its layers, classify an image.

    python examples/quickstart.py cat.jpg --weights 81.5_T2T_ViT_14.pth.tar
    python examples/quickstart.py --tiny        # a tiny random model and a drawn image, in seconds

Without `--weights` the model is randomly initialised and its guesses mean nothing. Official
checkpoints are release assets of github.com/yitu-opensource/T2T-ViT (reading them needs torch:
`pip install "keras_t2t[convert]"`).
"""

import argparse

import numpy as np
import tensorflow as tf

import keras_t2t
from keras_t2t.export import decode_image

TINY_MODEL = dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, token_dim=16)


def drawn_image(height: int = 96, width: int = 128) -> np.ndarray:
    """A made-up RGB picture (uint8): a bright disc on a colour ramp, for runs without a file."""
    rows, cols = np.mgrid[0:height, 0:width]
    image = np.stack([cols * 255 / width, rows * 255 / height, np.full_like(rows, 96)], axis=-1)
    disc = (rows - height / 2) ** 2 + (cols - width / 2) ** 2 < (height / 4) ** 2
    image[disc] = 240
    return image.astype(np.uint8)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("image", nargs="?", help="a JPEG or PNG file (default: a drawn picture)")
    parser.add_argument("--model", default="t2t_vit_14", choices=keras_t2t.list_models(), metavar="NAME")
    parser.add_argument("--weights", help="an official .pth.tar checkpoint or a Keras weights file")
    parser.add_argument("--tiny", action="store_true", help="a tiny random T2T-ViT at 32x32")
    args = parser.parse_args(argv)

    # 1. Build. Any keras.applications argument works: input_shape, classes, include_top, pooling...
    if args.tiny:
        model = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), **TINY_MODEL)
    else:
        model = keras_t2t.create_model(args.model, weights=args.weights)
    model.summary()

    # 2. An image of any size (RGB, 0..255).
    if args.image:
        with open(args.image, "rb") as f:
            image = decode_image(tf.constant(f.read()))
    else:
        image = tf.constant(drawn_image())

    # 3. Predict: the classifier's preprocessor resizes and centre-crops as in the paper's
    # evaluation, the model normalises 0..255 RGB itself and ends with a softmax over ImageNet.
    probabilities = model.predict(image[None], verbose=0)
    best = keras_t2t.decode_predictions(probabilities, top=5)[0]
    for wnid, name, score in best:
        print(f"{score:.4f}  {name} ({wnid})")
    return {"model": model, "predictions": best}


if __name__ == "__main__":
    main()
