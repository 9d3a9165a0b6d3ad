import keras
import numpy as np
import pytest

import keras_t2t
from keras_t2t.complexity import count_params
from keras_t2t.layers import DenseTransformerBlock, Transition

# Two groups of one block each: width 32 -> 48, transition to 24 -> 40.
TINY = dict(input_shape=(32, 32, 3), depth=2, dense_blocks=(1, 1), growth_rate=16, embed_dim=32, classes=5)


def test_parameter_count_equals_the_official_release():
    model = keras_t2t.T2TViT_Dense()
    assert count_params(model) == (23_647_062, 23_617_750)  # the reference table
    assert model.get_layer("head").kernel.shape == (584, 1000)


def test_official_layout_of_blocks_and_transitions():
    backbone = keras_t2t.create_model("t2t_vit_dense", include_top=False).get_layer("backbone")
    layers = backbone.transformer_blocks
    assert [layer.name for layer in layers] == [f"block_{i}" for i in range(22)]
    transitions = {i: layer.units for i, layer in enumerate(layers) if isinstance(layer, Transition)}
    # groups of 3, 6, 6, 4 blocks adding 64 channels each, widths halved in between (from 128):
    # 128 + 3*64 = 320 -> 160, 160 + 6*64 = 544 -> 272, 272 + 6*64 = 656 -> 328, 328 + 4*64 = 584
    assert transitions == {3: 160, 10: 272, 17: 328}
    blocks = [layer for layer in layers if isinstance(layer, DenseTransformerBlock)]
    assert [block.attn.qkv.kernel.shape[0] for block in blocks[:4]] == [128, 192, 256, 160]
    assert backbone.output["pooled_output"].shape == (None, 584)


def test_stochastic_depth_rises_over_the_blocks_only():
    backbone = keras_t2t.create_model(
        "t2t_vit_dense", drop_path_rate=0.3, **{**TINY, "dense_blocks": (2, 2), "depth": 4}
    ).get_layer("backbone")
    blocks = [layer for layer in backbone.transformer_blocks if isinstance(layer, DenseTransformerBlock)]
    rates = [block.drop_path for block in blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_tiny_model_widths_and_official_weight_names():
    model = keras_t2t.create_model("t2t_vit_dense", num_heads=2, **TINY)
    backbone = model.get_layer("backbone")
    assert backbone.output["sequence_output"].shape == (None, 1 + 4, 40)
    new_layers = ("block_0/dense_linear/", "block_1/")
    shapes = {w.path: tuple(w.shape) for w in backbone.weights if w.path.startswith(new_layers)}
    # official blocks.0.dense_linear and blocks.1.linear (the transition), Linear weights transposed
    assert shapes == {
        "block_0/dense_linear/kernel": (32, 16),
        "block_0/dense_linear/bias": (16,),
        "block_1/linear/kernel": (48, 24),
        "block_1/linear/bias": (24,),
    }


def test_keras_save_load_round_trip(tmp_path):
    model = keras_t2t.create_model("t2t_vit_dense", num_heads=2, **TINY)
    model.save(tmp_path / "dense.keras")
    restored = keras.saving.load_model(tmp_path / "dense.keras")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(images)), keras.ops.convert_to_numpy(restored(images))
    )


def test_heads_must_divide_every_width():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        keras_t2t.create_model("t2t_vit_dense", num_heads=5, **TINY)
