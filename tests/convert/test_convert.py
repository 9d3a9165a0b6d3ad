"""Official-checkpoint conversion, checked against a PyTorch reference of the official math.

Each test saves a randomly initialised `torch_reference.T2TViT` in an official checkpoint layout,
converts it, and compares what the Keras model computes with what the reference computes.
"""

import argparse
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keras_t2t import T2TViTBackbone, create_model  # noqa: E402
from keras_t2t.convert import (  # noqa: E402
    convert_checkpoint,
    load_torch_checkpoint,
    read_checkpoint,
    resize_position_embedding,
)
from keras_t2t.models import VARIANTS  # noqa: E402
from keras_t2t.training.recipe import Recipe  # noqa: E402
from tests.convert import torch_reference  # noqa: E402
from tests.convert.checkpoints import (  # noqa: E402
    TINY,
    images,
    normalise,
    reference_model,
    reference_output,
    save,
    tiny_keras_model,
    tiny_reference,
)


@pytest.mark.parametrize("name, size", [("t2t_vit_7", 224), ("t2t_vit_t_14", 224), ("t2t_vit_14", 384)])
def test_builder_loads_official_checkpoint_with_logit_parity(tmp_path, name, size):
    reference = reference_model(name, size)
    checkpoint = save(tmp_path / f"{name}.pth.tar", reference.state_dict())

    model = create_model(name, weights=checkpoint, input_shape=(size, size, 3), classifier_activation=None)

    pixels = images(size)
    np.testing.assert_allclose(model(pixels), reference_output(reference, pixels), atol=1e-4, rtol=0)


def test_transfer_new_head_and_interpolated_position_embedding(tmp_path):
    source = reference_model("t2t_vit_7", 224)
    checkpoint = save(tmp_path / "t2t_vit_7.pth.tar", source.state_dict())

    model = create_model(
        "t2t_vit_7",
        weights=checkpoint,
        input_shape=(288, 288, 3),
        classes=10,
        classifier_activation=None,
    )

    # The official transfer recipe, in torch: checkpoint weights, position grid resized 14 -> 18
    # bicubically with the class token kept, and the new head (copied from Keras: it is random).
    target = reference_model("t2t_vit_7", 288, num_classes=10)
    state = source.state_dict()
    state["pos_embed"] = torch_reference.resize_pos_embed(state["pos_embed"], (18, 18))
    head = model.get_layer("head")
    state["head.weight"] = torch.from_numpy(keras.ops.convert_to_numpy(head.kernel).T.copy())
    state["head.bias"] = torch.from_numpy(keras.ops.convert_to_numpy(head.bias))
    target.load_state_dict(state)

    pixels = images(288)
    np.testing.assert_allclose(model(pixels), reference_output(target, pixels), atol=1e-4, rtol=0)


def test_new_head_is_freshly_initialised_and_reported(tmp_path):
    reference = reference_model("t2t_vit_7", 32, num_classes=1000, **TINY)
    checkpoint = save(tmp_path / "imagenet.pth", reference.state_dict())
    model = tiny_keras_model(qk_scale=VARIANTS["t2t_vit_7"].checkpoint_qk_scale)
    initial_head = keras.ops.convert_to_numpy(model.get_layer("head").kernel)

    report = load_torch_checkpoint(model, checkpoint)

    assert report.skipped == ["head.weight", "head.bias"]
    assert not (report.missing or report.unexpected or report.mismatched)
    np.testing.assert_array_equal(model.get_layer("head").kernel, initial_head)


@pytest.mark.parametrize("grid", [(18, 18), (24, 24), (7, 7), (14, 20)])
def test_resize_position_embedding_matches_torch_bicubic(grid):
    embedding = np.random.default_rng(0).normal(size=(1, 1 + 14 * 14, 8)).astype("float32")

    resized = resize_position_embedding(embedding, grid)

    expected = torch_reference.resize_pos_embed(torch.from_numpy(embedding), grid).numpy()
    assert resized.shape == (1, 1 + grid[0] * grid[1], 8)
    np.testing.assert_array_equal(resized[:, :1], embedding[:, :1])
    np.testing.assert_allclose(resized, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "shape, message", [((1, 1 + 12, 8), "square token grid"), ((1 + 16, 8), "shape \\(1, 1 \\+ tokens")]
)
def test_resize_position_embedding_rejects_what_it_cannot_resize(shape, message):
    with pytest.raises(ValueError, match=message):
        resize_position_embedding(np.zeros(shape, "float32"), (4, 4))


def test_convert_checkpoint_explains_what_it_cannot_convert(tmp_path):
    output = tmp_path / "out.keras"
    with pytest.raises(ValueError, match="Unknown model 't2t_vit_99'"):
        convert_checkpoint(tmp_path / "any.pth", output, "t2t_vit_99")
    no_grid = save(tmp_path / "no_grid.pth", {"pos_embed": torch.zeros(1, 1 + 12, 8)}, "plain")
    with pytest.raises(ValueError, match="not a square grid"):
        convert_checkpoint(no_grid, output, "t2t_vit_7")
    no_table = save(tmp_path / "no_table.pth", {"cls_token": torch.zeros(1, 1, 8)}, "plain")
    with pytest.raises(ValueError, match="no 'pos_embed' entry"):
        convert_checkpoint(no_table, output, "t2t_vit_7")
    assert not output.exists()


def test_backbone_and_headless_models_load_and_match_reference_features(tmp_path):
    reference = tiny_reference()
    checkpoint = save(tmp_path / "tiny.pth", reference.state_dict())
    pixels = images(32)
    expected = reference_output(reference, pixels, features=True)

    headless = tiny_keras_model(include_top=False, pooling="token", weights=checkpoint)
    backbone = T2TViTBackbone(
        **VARIANTS["t2t_vit_7"].backbone_kwargs() | TINY,
        image_shape=(32, 32, 3),
        qk_scale=VARIANTS["t2t_vit_7"].checkpoint_qk_scale,
    )
    report = load_torch_checkpoint(backbone, checkpoint)

    np.testing.assert_allclose(headless(pixels), expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(backbone(normalise(pixels))["pooled_output"], expected, atol=1e-5, rtol=0)
    assert report.skipped == ["head.weight", "head.bias"]


def test_qk_scale_defaults_to_official_and_can_be_overridden(tmp_path):
    official = tiny_reference()
    usual = tiny_reference(qk_scale=None)
    pixels = images(32)

    by_default = tiny_keras_model(
        weights=save(tmp_path / "a.pth", official.state_dict()), classifier_activation=None
    )
    overridden = tiny_keras_model(
        weights=save(tmp_path / "b.pth", usual.state_dict()),
        qk_scale=(TINY["embed_dim"] // TINY["num_heads"]) ** -0.5,
        classifier_activation=None,
    )

    np.testing.assert_allclose(by_default(pixels), reference_output(official, pixels), atol=1e-5)
    np.testing.assert_allclose(overridden(pixels), reference_output(usual, pixels), atol=1e-5)


# --- checkpoint layouts -------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["plain", "module_prefix", "state_dict", "state_dict_ema"])
def test_read_checkpoint_layouts(tmp_path, layout):
    state = {"cls_token": torch.randn(1, 1, 4), "blocks.0.norm1.weight": torch.randn(4)}

    arrays = read_checkpoint(save(tmp_path / "c.pth.tar", state, layout))

    assert sorted(arrays) == sorted(state)
    for key, value in state.items():
        np.testing.assert_array_equal(arrays[key], value.numpy())


def test_read_checkpoint_prefers_ema_and_can_read_raw_weights(tmp_path):
    raw, ema = {"norm.weight": torch.zeros(3)}, {"module.norm.weight": torch.ones(3)}
    path = tmp_path / "train.pth.tar"
    # A training checkpoint of the official script: optimizer state and the run's argparse args.
    optimizer = {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0]}]}
    torch.save(
        {
            "epoch": 309,
            "state_dict": raw,
            "state_dict_ema": ema,
            "optimizer": optimizer,
            "args": argparse.Namespace(model="t2t_vit_14", lr=5e-4),
        },
        path,
    )

    np.testing.assert_array_equal(read_checkpoint(path)["norm.weight"], np.ones(3))
    np.testing.assert_array_equal(read_checkpoint(path, use_ema=False)["norm.weight"], np.zeros(3))


def test_read_checkpoint_reads_half_precision_as_float32(tmp_path):
    path = save(tmp_path / "half.pth", {"norm.weight": torch.tensor([0.5, 2.0]).half()}, "plain")

    array = read_checkpoint(path)["norm.weight"]

    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, [0.5, 2.0])


def test_use_ema_false_on_an_ema_only_checkpoint_is_an_error(tmp_path):
    path = save(tmp_path / "ema.pth.tar", {"norm.weight": torch.ones(3)}, "state_dict_ema")
    with pytest.raises(ValueError, match="only EMA weights"):
        read_checkpoint(path, use_ema=False)


# --- files that are not checkpoints -------------------------------------------------------------


class NotAllowed:
    """Any class: weights-only loading must refuse to unpickle it."""


def _write(path, content):
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    "make_file, message",
    [
        (lambda p: _write(p, b"<html>404 Not Found</html>"), "Could not read"),
        (lambda p: _write(p, b""), "Could not read"),
        (lambda p: torch.save(NotAllowed(), p) or str(p), "Could not read"),
        (lambda p: torch.save(torch.ones(3), p) or str(p), "not a state dict"),
        (lambda p: torch.save({}, p) or str(p), "not a state dict"),
        (lambda p: torch.save({"model": {"a": torch.ones(1)}}, p) or str(p), r"\['model'\]"),
        (lambda p: torch.save({"a": torch.ones(1), "b": 3}, p) or str(p), "'b' is a int"),
    ],
    ids=["html", "empty", "pickled_object", "tensor", "empty_dict", "unknown_nesting", "int_entry"],
)
def test_files_that_are_not_checkpoints_raise_clear_errors(tmp_path, make_file, message):
    path = make_file(tmp_path / "bad.pth.tar")
    with pytest.raises(ValueError, match=message):
        read_checkpoint(path)


def test_truncated_checkpoint_raises_and_leaves_the_model_untouched(tmp_path):
    complete = save(tmp_path / "full.pth", tiny_reference().state_dict())
    data = Path(complete).read_bytes()
    truncated = _write(tmp_path / "truncated.pth", data[: len(data) // 2])
    model = tiny_keras_model()
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]

    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_torch_checkpoint(model, truncated)

    for weight, value in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(weight, value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        read_checkpoint(tmp_path / "nowhere.pth")
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        tiny_keras_model(weights=str(tmp_path / "nowhere.pth"))


def test_missing_torch_names_the_extra(tmp_path, monkeypatch):
    path = save(tmp_path / "c.pth", {"norm.weight": torch.ones(3)}, "plain")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"keras_t2t\[convert\]"):
        read_checkpoint(path)


# --- checkpoints that do not fit the model ------------------------------------------------------


def assert_unchanged(model, before):
    for weight, value in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(weight, value)


@pytest.mark.parametrize(
    "make_state_dict, messages",
    [
        (
            # Another model altogether.
            lambda: {"conv1.weight": torch.ones(8, 3, 7, 7), "fc.weight": torch.ones(1000, 8)},
            ["missing in the checkpoint (", "cls_token", "unexpected in the checkpoint (2)", "conv1"],
        ),
        (
            # The transformer T2T variant into a performer model.
            lambda: tiny_reference(tokens_type="transformer").state_dict(),
            ["tokens_to_token.attention1.kqv.weight", "tokens_to_token.attention1.attn.qkv.weight"],
        ),
        (
            # One block more than the model has.
            lambda: tiny_reference(depth=2).state_dict(),
            ["unexpected in the checkpoint (11)", "blocks.1.attn.qkv.weight"],
        ),
        (
            # A wider variant.
            lambda: tiny_reference(embed_dim=48).state_dict(),
            ["shape mismatches", "cls_token: checkpoint (1, 1, 48) vs model (1, 1, 32)"],
        ),
    ],
    ids=["resnet_like", "other_tokens_type", "deeper", "wider"],
)
def test_checkpoint_of_another_model_is_refused_whole(tmp_path, make_state_dict, messages):
    path = save(tmp_path / "other.pth.tar", make_state_dict())
    model = tiny_keras_model()
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]

    with pytest.raises(ValueError, match="nothing was loaded") as error:
        load_torch_checkpoint(model, path)

    for message in messages:
        assert message in str(error.value)
    assert_unchanged(model, before)


def test_non_strict_load_fills_what_fits_and_reports_the_rest(tmp_path):
    reference = tiny_reference(depth=2)
    state = reference.state_dict()
    del state["norm.weight"]
    model = tiny_keras_model()
    before_norm = keras.ops.convert_to_numpy(model.get_layer("backbone").get_layer("norm").gamma)

    report = load_torch_checkpoint(model, save(tmp_path / "c.pth", state), strict=False)

    assert report.missing == ["norm.weight"]
    assert report.unexpected == [key for key in state if key.startswith("blocks.1.")]
    assert report.mismatched == [] and report.skipped == []
    backbone = model.get_layer("backbone")
    np.testing.assert_array_equal(backbone.get_layer("norm").gamma, before_norm)
    np.testing.assert_array_equal(
        backbone.get_layer("block_0").attn.qkv.kernel, state["blocks.0.attn.qkv.weight"].numpy().T
    )


def test_models_without_official_checkpoints_are_refused():
    conv_model = tiny_keras_model(tokens_type="convolution")
    with pytest.raises(ValueError, match="tokens_type is 'convolution'"):
        load_torch_checkpoint(conv_model, {})
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="T2TViTBackbone"):
        load_torch_checkpoint(other, {})


def test_reference_trains_with_the_regularisation_of_the_default_keras_model():
    """benchmarks/pytorch_reference.py times the reference with the recipe's stochastic depth against
    a default keras_t2t model: both regularise alike, block by block."""
    backbone = create_model("t2t_vit_7", input_shape=(32, 32, 3), classes=10).get_layer("backbone")
    reference = torch_reference.T2TViT(
        image_size=(32, 32), drop_path_rate=Recipe().drop_path_rate, **VARIANTS["t2t_vit_7"].backbone_kwargs()
    )

    assert [block.drop_path.rate for block in reference.blocks] == pytest.approx(
        [block.drop_path for block in backbone.transformer_blocks]
    )
    for name in ("attention1", "attention2"):
        keras_layer = getattr(backbone.tokens_to_token, name)
        torch_layer = getattr(reference.tokens_to_token, name)
        assert torch_layer.attention_dropout.p == keras_layer.attention_dropout.rate == 0.1
        assert torch_layer.mlp[-1].p == keras_layer.mlp_dropout.rate == 0.1


def test_reference_drop_path_zeroes_whole_samples_in_training_only():
    drop_path = torch_reference.DropPath(0.25)
    x = torch.ones(400, 3, 2)
    per_sample = drop_path(x).reshape(400, -1).numpy()
    kept, dropped = np.all(per_sample == 1 / 0.75, axis=1), np.all(per_sample == 0.0, axis=1)
    assert np.all(kept | dropped)
    assert 0.15 < dropped.mean() < 0.35
    assert torch.equal(drop_path.eval()(x), x)
