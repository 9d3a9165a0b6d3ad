"""`keras-t2t convert`: official checkpoint -> .weights.h5 / .keras, checked against the reference."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

torch = pytest.importorskip("torch")

from keras_t2t import create_model  # noqa: E402
from keras_t2t.cli import main  # noqa: E402
from tests.convert import torch_reference  # noqa: E402
from tests.convert.checkpoints import (  # noqa: E402
    images,
    normalise,
    reference_model,
    reference_output,
    save,
)


def test_convert_to_weights_file_at_the_checkpoints_own_size(tmp_path, capsys):
    reference = reference_model("t2t_vit_7", 64)
    checkpoint = save(tmp_path / "71.7_T2T_ViT_7.pth.tar", reference.state_dict())
    output = str(tmp_path / "t2t_vit_7.weights.h5")

    assert main(["convert", checkpoint, "--model", "t2t_vit_7", "--output", output]) == 0

    printed = capsys.readouterr().out
    assert "input 64x64x3, 1000 classes" in printed
    assert f"qk_scale:     {256**-0.5!r}" in printed
    # Rebuilt as the printed "load with" line says, without torch.
    model = create_model(
        "t2t_vit_7",
        weights=output,
        input_shape=(64, 64, 3),
        qk_scale=256**-0.5,
        classifier_activation=None,
    )
    pixels = images(64)
    np.testing.assert_allclose(model(pixels), reference_output(reference, pixels), atol=1e-4, rtol=0)


def test_convert_to_keras_file_with_every_option(tmp_path, capsys):
    raw = reference_model("t2t_vit_7", 64, qk_scale=0.1, seed=1)
    ema = reference_model("t2t_vit_7", 64, qk_scale=0.1, seed=2)
    checkpoint = str(tmp_path / "train.pth.tar")
    torch.save({"state_dict": raw.state_dict(), "state_dict_ema": ema.state_dict()}, checkpoint)
    output = str(tmp_path / "t2t_vit_7.keras")

    status = main(
        [
            "convert",
            checkpoint,
            "--model",
            "t2t_vit_7",
            "--output",
            output,
            "--image-size",
            "96",
            "--classes",
            "10",
            "--no-ema",
            "--qk-scale",
            "0.1",
            "--no-preprocessing",
        ]
    )

    assert status == 0
    assert "new head:     head.weight, head.bias" in capsys.readouterr().out
    loaded = keras.saving.load_model(output)
    logits = keras.Model(loaded.input, loaded.get_layer("head").output)
    # Expected: the raw weights at 96 x 96 with the grid resized 4 -> 6 and the converted head.
    expected = reference_model("t2t_vit_7", 96, num_classes=10, qk_scale=0.1)
    state = raw.state_dict()
    state["pos_embed"] = torch_reference.resize_pos_embed(state["pos_embed"], (6, 6))
    state["head.weight"] = torch.from_numpy(keras.ops.convert_to_numpy(loaded.get_layer("head").kernel).T)
    state["head.bias"] = torch.from_numpy(keras.ops.convert_to_numpy(loaded.get_layer("head").bias))
    expected.load_state_dict(state)
    pixels = images(96)
    np.testing.assert_allclose(
        logits(normalise(pixels)), reference_output(expected, pixels), atol=1e-4, rtol=0
    )


def test_strict_failure_and_no_strict(tmp_path, capsys):
    state = reference_model("t2t_vit_7", 32).state_dict()
    state["aux_head.weight"] = torch.zeros(1000, 256)
    checkpoint = save(tmp_path / "extra.pth.tar", state)
    output = str(tmp_path / "out.weights.h5")
    command = ["convert", checkpoint, "--model", "t2t_vit_7", "--output", output]

    assert main(command) == 2
    assert "unexpected in the checkpoint (1): aux_head.weight" in capsys.readouterr().err
    assert main([*command, "--no-strict"]) == 0
    assert "not used:     aux_head.weight" in capsys.readouterr().out


def test_convert_to_a_keras_hub_preset(tmp_path, capsys):
    reference = reference_model("t2t_vit_t_14", 32)
    checkpoint = save(tmp_path / "81.7_T2T_ViTt_14.pth.tar", reference.state_dict())
    preset = str(tmp_path / "t2t_vit_t_14_preset")
    assert main(["convert", checkpoint, "--model", "t2t_vit_t_14", "--preset", preset]) == 0
    assert f"from_preset({preset!r})" in capsys.readouterr().out
    classifier = keras_hub.models.ImageClassifier.from_preset(preset)
    assert classifier.include_preprocessing and classifier.num_classes == 1000
    pixels = images(32)
    probabilities = classifier.predict(pixels, verbose=0)
    expected = reference_output(reference, pixels)
    np.testing.assert_allclose(probabilities, keras.ops.softmax(expected), atol=1e-5)
    # The CLI takes the preset wherever it takes a model.
    picture, quantised = tmp_path / "picture.png", np.uint8(pixels[:1])
    picture.write_bytes(tf.io.encode_png(quantised[0]).numpy())
    assert main(["predict", str(picture), "--weights", preset, "--top", "1"]) == 0
    [scores] = classifier.predict(quantised.astype("float32"), verbose=0)
    assert f"{scores.max():.4f}" in capsys.readouterr().out
    assert main(["convert", checkpoint, "--model", "t2t_vit_t_14", "--preset", preset]) == 2
    assert "exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one destination, not two
        main(["convert", checkpoint, "--model", "t2t_vit_t_14", "--preset", preset, "--output", "o.keras"])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--output", "out.h5"], "must end with .weights.h5 or .keras"),
        (["--output", "out.keras", "--image-size", "100"], "multiples of 16"),
    ],
)
def test_bad_arguments_are_explained(tmp_path, capsys, arguments, message):
    checkpoint = save(tmp_path / "c.pth.tar", reference_model("t2t_vit_7", 32).state_dict())
    assert main(["convert", checkpoint, "--model", "t2t_vit_7", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_missing_checkpoint_and_unknown_model(tmp_path, capsys):
    missing = str(tmp_path / "missing.pth.tar")
    assert main(["convert", missing, "--model", "t2t_vit_7", "--output", "o.keras"]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert", missing, "--model", "t2t_vit_99", "--output", "o.keras"])
