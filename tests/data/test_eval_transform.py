import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_t2t.data import eval_transform
from tests.export.conftest import random_image


def _pil_eval_transform(image: np.ndarray, size: int, crop_pct: float) -> np.ndarray:
    """The official evaluation transform, with PIL: shorter side to floor(size / crop_pct)
    (bicubic), the longer one in proportion (truncated), then the centre crop."""
    height, width = image.shape[:2]
    short = int(size / crop_pct)
    if height <= width:
        new_height, new_width = short, int(short * width / height)
    else:
        new_height, new_width = int(short * height / width), short
    top = int(round((new_height - size) / 2.0))
    left = int(round((new_width - size) / 2.0))
    resized = Image.fromarray(image).resize((new_width, new_height), Image.BICUBIC)
    return np.asarray(resized.crop((left, top, left + size, top + size)), np.float32)


@pytest.mark.parametrize("height, width", [(90, 120), (120, 90), (300, 400), (20, 30)])
def test_matches_the_pil_evaluation_transform(height, width):
    image = random_image(height, width, seed=1)
    out = eval_transform(image, (32, 32), crop_pct=0.9).numpy()
    assert out.shape == (32, 32, 3)
    assert out.dtype == np.float32
    # PIL rounds to uint8 and works in fixed point: within one grey level.
    np.testing.assert_allclose(out, _pil_eval_transform(image, 32, 0.9), atol=1.0)


def test_resize_and_crop_offsets_on_a_linear_ramp():
    # 300x400 -> shorter side floor(224 / 0.9) = 248, longer 400 * 248 // 300 = 330; the crop
    # starts at row (248 - 224) / 2 = 12 and column (330 - 224) / 2 = 53. Resampling keeps a
    # linear ramp linear, so every output pixel is known exactly.
    rows, cols = np.mgrid[0:300, 0:400].astype(np.float32)
    image = np.repeat((0.5 * rows + 0.25 * cols)[..., None], 3, axis=-1)
    out = eval_transform(image, (224, 224), crop_pct=0.9).numpy()
    y = (12 + np.arange(224) + 0.5) * 300 / 248 - 0.5
    x = (53 + np.arange(224) + 0.5) * 400 / 330 - 0.5
    expected = 0.5 * y[:, None] + 0.25 * x[None, :]
    np.testing.assert_allclose(out[..., 0], expected, atol=1e-2)


def test_non_square_output_covers_both_sides():
    # (32, 48) from a 100x100 image at crop_pct 1: the width needs 48, so 48x48, then rows 8..40.
    rows = np.repeat(np.arange(100, dtype=np.float32)[:, None, None], 100, axis=1)
    out = eval_transform(np.repeat(rows, 3, axis=-1), (32, 48), crop_pct=1.0).numpy()
    assert out.shape == (32, 48, 3)
    expected_rows = (8 + np.arange(32) + 0.5) * 100 / 48 - 0.5
    np.testing.assert_allclose(out[4:-4, 24, 0], expected_rows[4:-4], atol=1e-2)


def test_output_is_clipped_to_the_pixel_range():
    checker = np.kron(np.indices((8, 8)).sum(0) % 2, np.ones((8, 8)))[..., None] * 255.0
    image = np.repeat(checker, 3, axis=-1)
    out = eval_transform(image, (40, 40), crop_pct=1.0).numpy()
    assert out.min() == 0.0 and out.max() == 255.0
    # Bicubic overshoots at the edges of the squares: the clip is what keeps it in range.
    raw = tf.image.resize(image, (40, 40), "bicubic", antialias=True).numpy()
    assert raw.min() < 0.0 and raw.max() > 255.0


@pytest.mark.parametrize("crop_pct", [0.0, -0.5, 1.5])
def test_rejects_crop_pct_outside_0_1(crop_pct):
    with pytest.raises(ValueError, match="crop_pct"):
        eval_transform(random_image(8, 8), (8, 8), crop_pct=crop_pct)
