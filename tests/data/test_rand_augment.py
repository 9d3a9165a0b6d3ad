import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps

from keras_t2t.data import rand_augment as ra


def picture(seed: int = 0, shape=(24, 20, 3)) -> np.ndarray:
    """uint8 noise over a gradient that does not span 0..255, so auto-contrast has work to do."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(40, 180, shape[1])[None, :, None] + np.linspace(0, 30, shape[0])[:, None, None]
    return np.clip(ramp + rng.uniform(0, 25, shape), 0, 255).astype(np.uint8)


def run(op, image: np.ndarray, *args) -> np.ndarray:
    out = op(tf.constant(image, tf.float32), *args).numpy()
    assert out.shape == image.shape and out.dtype == np.float32
    return out


def test_invert_solarize_posterize_solarize_add_match_numpy():
    image = picture()
    x = image.astype(np.float32)
    np.testing.assert_array_equal(run(ra.invert, image), 255 - x)
    np.testing.assert_array_equal(run(ra.solarize, image, 128.0), np.where(x >= 128, 255 - x, x))
    np.testing.assert_array_equal(run(ra.posterize, image, 2.0), image & 0b11000000)
    np.testing.assert_array_equal(run(ra.posterize, image, 4.0), image & 0b11110000)
    np.testing.assert_array_equal(
        run(ra.solarize_add, image, 50.0), np.where(x < 128, np.minimum(x + 50, 255), x)
    )


def test_posterize_and_solarize_match_pil():
    image = picture(1)
    np.testing.assert_array_equal(
        run(ra.posterize, image, 1.0), ImageOps.posterize(Image.fromarray(image), 1)
    )
    np.testing.assert_array_equal(
        run(ra.solarize, image, 100.0), ImageOps.solarize(Image.fromarray(image), 100)
    )


def test_equalize_matches_pil():
    for seed in range(3):
        image = picture(seed)
        np.testing.assert_array_equal(run(ra.equalize, image), ImageOps.equalize(Image.fromarray(image)))


def test_equalize_leaves_a_two_level_channel_alone():
    # PIL: step = (count - count of the top level) // 255 = 0 for few pixels: the identity.
    image = np.zeros((4, 4, 3), np.uint8)
    image[:2] = 200
    np.testing.assert_array_equal(run(ra.equalize, image), image)


def test_auto_contrast_on_a_small_array_and_against_pil():
    channel = np.array([[50, 100], [150, 250]], np.float32)
    image = np.stack([channel, channel / 2, np.full((2, 2), 9.0)], axis=-1)
    out = run(ra.auto_contrast, image)
    np.testing.assert_array_equal(out[..., 0], np.floor((channel - 50) * 255 / 200))
    np.testing.assert_array_equal(out[..., 1], np.floor((channel / 2 - 25) * 255 / 100))
    np.testing.assert_array_equal(out[..., 2], 9.0)  # a flat channel is left as it is
    image = picture(2)
    pil = np.asarray(ImageOps.autocontrast(Image.fromarray(image)), np.float32)
    np.testing.assert_allclose(run(ra.auto_contrast, image), pil, atol=1)


@pytest.mark.parametrize(
    "op, enhancer",
    [
        (ra.color, "Color"),
        (ra.contrast, "Contrast"),
        (ra.brightness, "Brightness"),
        (ra.sharpness, "Sharpness"),
    ],
)
@pytest.mark.parametrize("factor", [0.1, 0.6, 1.9])
def test_enhance_operations_match_pil(op, enhancer, factor):
    image = picture(3)
    pil = np.asarray(getattr(ImageEnhance, enhancer)(Image.fromarray(image)).enhance(factor), np.float32)
    # PIL's fixed-point grey conversion and truncation differ from float rounding by a level or two.
    np.testing.assert_allclose(run(op, image, factor), pil, atol=2)


def test_translate_moves_whole_pixels_and_fills_with_the_mean_colour():
    image = picture(4)
    fill = np.array(ra.FILL_COLOUR, np.float32)
    out = run(ra.translate_x, image, 5.0)
    np.testing.assert_array_equal(out[:, :-5], image[:, 5:])
    np.testing.assert_array_equal(out[:, -5:], np.broadcast_to(fill, out[:, -5:].shape))
    out = run(ra.translate_y, image, -3.0)
    np.testing.assert_array_equal(out[3:], image[:-3])
    np.testing.assert_array_equal(out[:3], np.broadcast_to(fill, out[:3].shape))


def test_shear_x_shifts_each_row_by_factor_times_row():
    image = picture(5)
    out = run(ra.shear_x, image, 1.0)
    width = image.shape[1]
    for y in range(image.shape[0]):
        if y < width:
            np.testing.assert_array_equal(out[y, : width - y], image[y, y:])
    np.testing.assert_array_equal(run(ra.shear_y, image, 1.0)[:, 0], image[:, 0])


def test_rotate_by_90_degrees_is_a_counter_clockwise_quarter_turn():
    image = picture(6, shape=(15, 15, 3))
    np.testing.assert_array_equal(run(ra.rotate, image, 90.0), np.rot90(image))
    np.testing.assert_array_equal(run(ra.rotate, image, -90.0), np.rot90(image, -1))


def test_grey_images_work_with_every_operation():
    image = tf.constant(picture(7, shape=(12, 12, 1)), tf.float32)
    for name, op in ra.OPERATIONS.items():
        out = op(image, tf.constant(0.9), tf.constant(-1.0))
        assert out.shape == (12, 12, 1), name


def test_rand_augment_outputs_whole_levels_in_range_deterministically():
    image = tf.constant(picture(8), tf.float32) + 0.3  # rounded first, as PIL's 8-bit images
    augment = tf.function(lambda seed: ra.rand_augment(seed, image))
    outputs = [augment(tf.constant([3, i])).numpy() for i in range(12)]
    for out in outputs:
        assert out.shape == image.shape and out.min() >= 0 and out.max() <= 255
        np.testing.assert_array_equal(out, np.round(out))
    np.testing.assert_array_equal(augment(tf.constant([3, 0])), outputs[0])
    changed = [not np.array_equal(out, np.round(image.numpy())) for out in outputs]
    # Each of the 2 operations is applied with probability 0.5: ~3/4 of the images change.
    assert 4 <= sum(changed) <= 12
    assert len({out.tobytes() for out in outputs}) > 4


def test_rand_augment_rejects_magnitudes_above_10():
    with pytest.raises(ValueError, match="magnitude"):
        ra.rand_augment(tf.constant([0, 0]), tf.zeros((4, 4, 3)), magnitude=11)
