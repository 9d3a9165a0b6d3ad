import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_t2t.export import decode_image
from tests.export.conftest import encode, random_image


@pytest.mark.parametrize("image_format", ["png", "jpeg"])
def test_decode_image_reads_png_and_jpeg(image_format):
    image = random_image(20, 30)
    decoded = decode_image(tf.constant(encode(image, image_format))).numpy()
    assert decoded.shape == (20, 30, 3) and decoded.dtype == np.uint8
    error = np.abs(decoded.astype(int) - image)
    # PNG is lossless; JPEG is close on average.
    assert error.max() == 0 if image_format == "png" else error.mean() < 4


def test_decode_image_gives_rgb_for_grey_and_rgba_png():
    grey = random_image(6, 7)[..., :1]
    np.testing.assert_array_equal(decode_image(tf.constant(encode(grey, "png"))), np.repeat(grey, 3, -1))
    rgba = np.concatenate([random_image(6, 7), np.full((6, 7, 1), 255, np.uint8)], axis=-1)
    np.testing.assert_array_equal(decode_image(tf.constant(encode(rgba, "png"))), rgba[..., :3])


def _pil_encoded(image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(random_image(4, 4)).save(buffer, image_format)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [b"not an image at all", b"", _pil_encoded("GIF"), _pil_encoded("BMP")],
    ids=["text", "empty", "gif", "bmp"],
)
def test_decode_image_names_the_accepted_formats(data):
    # GIF and BMP would decode with tf.io.decode_image: the signature promises JPEG or PNG only.
    if data.startswith((b"GIF", b"BM")):
        assert tf.io.decode_image(data, expand_animations=False).shape == (4, 4, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="neither a JPEG nor a PNG"):
        decode_image(tf.constant(data))
