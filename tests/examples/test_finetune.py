import keras
import numpy as np
import pytest

from keras_t2t.convert import resize_position_embedding
from tests.visualize.test_visualize import assert_picture


def test_tiny_finetune_runs_end_to_end(example, tmp_path, capsys):
    result = example("finetune").main(["--tiny", "--epochs", "2", "--out", str(tmp_path)])
    assert result["model"].input_shape == (None, 48, 48, 3) and result["model"].output_shape == (None, 3)
    assert len(result["history"]["loss"]) == 2
    assert_picture(result["curves"], (2 * 400, 300 + 30))  # loss and accuracy panels, a title
    saved = keras.saving.load_model(tmp_path / "finetuned.keras")
    images = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 3)).astype("float32")
    np.testing.assert_allclose(
        saved.predict(images, verbose=0), result["model"].predict(images, verbose=0), atol=1e-6
    )
    assert "test top-1:" in capsys.readouterr().out


def test_transfer_from_a_keras_run_copies_the_backbone_and_resizes_the_position_table(example, tmp_path):
    finetune = example("finetune")
    source = keras.saving.load_model(finetune.tiny_pretrained(str(tmp_path / "run.keras")))
    model = finetune.load_pretrained("t2t_vit_7", str(tmp_path / "run.keras"), 48, 3, **finetune.TINY_MODEL)
    source_backbone, backbone = source.get_layer("backbone"), model.get_layer("backbone")
    table = source_backbone.position_embedding.embedding
    for source_weight, weight in zip(source_backbone.weights, backbone.weights, strict=True):
        expected = np.asarray(source_weight)
        if source_weight is table:
            expected = resize_position_embedding(expected, (3, 3))  # 2x2 grid at 32 -> 3x3 at 48
            assert expected.shape == (1, 10, 32)
        np.testing.assert_array_equal(np.asarray(weight), expected)
    assert model.get_layer("head").kernel.shape == (32, 3)

    with pytest.raises(ValueError, match="not a t2t_vit_7 backbone"):
        finetune.load_pretrained(
            "t2t_vit_7", str(tmp_path / "run.keras"), 48, 3, **finetune.TINY_MODEL | {"depth": 1}
        )
