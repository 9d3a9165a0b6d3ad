import re

import keras
import numpy as np
import pytest
from PIL import Image

import keras_t2t
from keras_t2t.cli import main
from keras_t2t.data import eval_transform
from tests.visualize.test_visualize import SMALL, assert_picture, striped_image


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny classifier saved whole (32x48 input), and a JPEG of another size and aspect."""
    folder = tmp_path_factory.mktemp("visualize_cli")
    model = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 48, 3), classes=3, **SMALL)
    model.save(folder / "tiny.keras")
    Image.fromarray(striped_image(75, 100).astype(np.uint8)).save(folder / "stripes.jpg")
    (folder / "names.txt").write_text("zebra\ntiger\nokapi\n")
    return folder


def test_visualize_writes_and_lists_the_pictures(files, tmp_path, capsys):
    argv = ["visualize", str(files / "stripes.jpg"), "--weights", str(files / "tiny.keras")]
    argv += ["--out", str(tmp_path), "--block", "0", "--class-names", str(files / "names.txt")]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[1] in ("zebra", "tiger", "okapi")
    written = [line.split()[1] for line in out[1:]]
    assert [path.rsplit("/", 1)[1] for path in written] == [
        "attention_block_0.png",
        "attention_rollout.png",
        "token_maps.png",
    ]
    assert_picture(written[0], (4 * 250, 30 + 167 + 30))
    assert_picture(written[2], (8 * 120, 30 + 3 * (30 + 80)))


def test_visualize_draws_the_ema_weights_unless_told_otherwise(tmp_path, capsys):
    model = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 48, 3), classes=3, **SMALL)
    model.compile(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), "categorical_crossentropy")
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (6, 32, 48, 3)).astype("float32")
    model.fit(images, np.eye(3)[rng.integers(0, 3, 6)], batch_size=3, epochs=2, verbose=0)
    picture = striped_image(75, 100).astype(np.uint8)
    Image.fromarray(picture).save(tmp_path / "stripes.png")
    transformed = eval_transform(picture, (32, 48))[None]
    ema_probability = float(np.max(model(transformed)))
    # The raw weights of a checkpoint saved mid-training, away from the averages.
    for variable in model.trainable_variables:
        variable.assign(variable * 1.5 + 0.1)
    own_probability = float(np.max(model(transformed)))
    model.save(tmp_path / "trained.keras")
    argv = ["visualize", str(tmp_path / "stripes.png"), "--weights", str(tmp_path / "trained.keras")]
    printed = []
    for flags in ([], ["--no-ema"]):
        assert main(argv + ["--out", str(tmp_path / "out"), *flags]) == 0
        printed.append(float(re.search(r"predicted: .*\(([\d.]+)\)", capsys.readouterr().out).group(1)))
    assert abs(ema_probability - own_probability) > 1e-3
    assert printed == pytest.approx([ema_probability, own_probability], abs=6e-5)


def test_visualize_without_weights_and_with_a_model_to_compare(files, tmp_path, capsys):
    argv = ["visualize", str(files / "stripes.jpg"), "--model", "t2t_vit_7", "--image-size", "32"]
    argv += ["--out", str(tmp_path), "--channels", "4", "--compare-model", "vit_small_patch16_224"]
    assert main(argv) == 0
    assert "token_maps.png" in capsys.readouterr().out
    # 4 channels a row: t2t_vit_7's three stages and ViT's patch embedding, square 120-pixel maps.
    assert_picture(str(tmp_path / "token_maps.png"), (4 * 120, 30 + 4 * (30 + 120)))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--block", "7"], r"has 2 attention blocks, 0\.\.1"),
        (["--compare-weights", "vit.weights.h5"], "--compare-weights needs --compare-model"),
        (["--image-size", "64"], "leave out --image-size"),
    ],
)
def test_mistakes_are_explained(files, tmp_path, capsys, extra, message):
    argv = ["visualize", str(files / "stripes.jpg"), "--weights", str(files / "tiny.keras")]
    assert main([*argv, "--out", str(tmp_path), *extra]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_file_that_is_not_an_image_is_named(files, tmp_path, capsys):
    argv = ["visualize", str(files / "names.txt"), "--weights", str(files / "tiny.keras")]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "names.txt" in err and "Unknown image file format" in err
