"""Conversion of the architecture-study variants (ViT, SE, Ghost, dense blocks), checked against the
PyTorch reference saved in their official state-dict layouts."""

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keras_t2t import create_model  # noqa: E402
from keras_t2t.convert import LoadReport, convert_checkpoint, load_torch_checkpoint  # noqa: E402
from keras_t2t.models import VARIANTS  # noqa: E402
from tests.convert import torch_reference  # noqa: E402
from tests.convert.checkpoints import images, reference_model, reference_output, save  # noqa: E402

# Small enough to be fast, wide enough to keep each variant's real shapes (SE's 384 / 16 squeeze,
# Ghost's 192-wide halves, the dense blocks' growth and transitions).
PARITY_CASES = [
    ("t2t_vit_14_se", dict(depth=2)),
    ("t2t_vit_dense", dict(depth=3, dense_blocks=(1, 1, 1))),
    ("t2t_vit_16_ghost", dict(depth=2)),
    ("vit_small_patch16_224", dict(depth=2)),
    ("vit_se", dict(depth=1, embed_dim=64)),
    ("vit_ghost", dict(depth=1, embed_dim=64)),
]

TINY = dict(embed_dim=32, depth=1, num_heads=2, token_dim=16)


@pytest.mark.parametrize("name, options", PARITY_CASES, ids=[name for name, _ in PARITY_CASES])
def test_builder_loads_study_checkpoint_with_logit_parity(tmp_path, name, options):
    reference = reference_model(name, 32, **options)
    checkpoint = save(tmp_path / f"{name}.pth.tar", reference.state_dict())

    model = create_model(
        name, weights=checkpoint, input_shape=(32, 32, 3), classifier_activation=None, **options
    )

    assert model.get_layer("backbone").qk_scale == VARIANTS[name].checkpoint_qk_scale
    pixels = images(32, batch=2)
    np.testing.assert_allclose(model(pixels), reference_output(reference, pixels), atol=1e-4, rtol=0)


def test_convert_the_full_official_dense_layout(tmp_path):
    # Groups (3, 6, 6, 4) and three transitions in one `blocks` sequence, 584 channels at the end;
    # the official builder keeps head_dim ** -0.5, so the default scale is None.
    reference = reference_model("t2t_vit_dense", 32)
    checkpoint = save(tmp_path / "t2t_vit_dense.pth.tar", reference.state_dict())

    model, report = convert_checkpoint(checkpoint, tmp_path / "t2t_vit_dense.weights.h5", "t2t_vit_dense")

    assert report == LoadReport()
    assert model.get_layer("backbone").qk_scale is None
    assert model.get_layer("head").kernel.shape == (584, 1000)
    logits = keras.Model(model.input, model.get_layer("head").output)
    pixels = images(32)
    np.testing.assert_allclose(logits(pixels), reference_output(reference, pixels), atol=1e-4, rtol=0)


def test_vit_learned_position_embedding_is_resized_for_another_input_size(tmp_path):
    source = reference_model("vit_small_patch16_224", 32, **TINY)
    checkpoint = save(tmp_path / "vit.pth.tar", source.state_dict())

    model = create_model(
        "vit_small_patch16_224",
        weights=checkpoint,
        input_shape=(64, 64, 3),
        classifier_activation=None,
        **TINY,
    )

    # The official transfer recipe in torch: the 2 x 2 patch grid resized to 4 x 4 bicubically.
    target = reference_model("vit_small_patch16_224", 64, **TINY)
    state = source.state_dict()
    state["pos_embed"] = torch_reference.resize_pos_embed(state["pos_embed"], (4, 4))
    target.load_state_dict(state)
    pixels = images(64)
    np.testing.assert_allclose(model(pixels), reference_output(target, pixels), atol=1e-4, rtol=0)


def test_vit_patch_weight_flattened_by_older_checkpoints_is_read_too(tmp_path):
    reference = reference_model("vit_small_patch16_224", 32, **TINY)
    state = reference.state_dict()
    state["patch_embed.proj.weight"] = state["patch_embed.proj.weight"].flatten(1)  # (32, 3 * 16 * 16)

    model = create_model(
        "vit_small_patch16_224",
        weights=save(tmp_path / "flat.pth", state),
        input_shape=(32, 32, 3),
        classifier_activation=None,
        **TINY,
    )

    pixels = images(32)
    np.testing.assert_allclose(model(pixels), reference_output(reference, pixels), atol=1e-4, rtol=0)
    state["patch_embed.proj.weight"] = torch.zeros(32, 3 * 8 * 8)
    with pytest.raises(ValueError, match=r"checkpoint \(32, 192\) vs model \(32, 3, 16, 16\)"):
        load_torch_checkpoint(model, save(tmp_path / "8x8.pth", state))


@pytest.mark.parametrize(
    "checkpoint_of, into, messages",
    [
        (
            ("t2t_vit_14_se", {}),
            "t2t_vit_14",
            ["unexpected in the checkpoint (2)", "blocks.0.attn.se_layer.fc.0.weight", "of: t2t_vit_14_se."],
        ),
        (
            ("t2t_vit_14", {}),
            "t2t_vit_14_se",
            ["missing in the checkpoint (2)", "blocks.0.attn.se_layer.fc.2.weight", "t2t_vit_7, t2t_vit_10"],
        ),
        (
            ("t2t_vit_16_ghost", {}),
            "t2t_vit_14",
            ["blocks.0.attn.qkv.weight", "blocks.0.attn.cheap_operation_q.weight", "of: t2t_vit_16_ghost."],
        ),
        (
            ("vit_small_patch16_224", {}),
            "t2t_vit_14",
            [
                "missing in the checkpoint (28)",
                "unexpected in the checkpoint (2): patch_embed.proj.weight",
                "vit_small_patch16_224, vit_dn",
            ],
        ),
        (
            ("t2t_vit_dense", dict(depth=2, dense_blocks=(1, 1), growth_rate=16)),
            "t2t_vit_dense",
            ["shape mismatches", "blocks.0.dense_linear.weight: checkpoint (16, 32) vs model (8, 32)"],
        ),
    ],
    ids=["se_into_plain", "plain_into_se", "ghost_into_plain", "vit_into_t2t", "other_growth_rate"],
)
def test_checkpoint_of_another_family_is_refused_and_named(tmp_path, checkpoint_of, into, messages):
    name, options = checkpoint_of
    path = save(tmp_path / "other.pth.tar", reference_model(name, 32, **TINY | options).state_dict())
    dense_options = dict(depth=2, dense_blocks=(1, 1), growth_rate=8) if into == "t2t_vit_dense" else {}
    model = create_model(into, input_shape=(32, 32, 3), **TINY | dense_options)
    before = [keras.ops.convert_to_numpy(weight) for weight in model.weights]

    with pytest.raises(ValueError, match="nothing was loaded") as error:
        load_torch_checkpoint(model, path)

    for message in messages:
        assert message in str(error.value)
    for weight, value in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(weight, value)
