"""T2TViTBackbone as a keras-hub Backbone: presets through keras-hub's machinery, and LoRA."""

import keras
import keras_hub
import numpy as np

import keras_t2t

TINY = dict(input_shape=(32, 32, 3), depth=2, embed_dim=32, num_heads=2, token_dim=8)


def _images(batch: int = 4) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (batch, 32, 32, 3)).astype("float32")


def test_the_backbone_round_trips_through_a_keras_hub_preset(tmp_path):
    backbone = keras_t2t.T2TViTBackbone(
        embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, image_shape=(32, 32, 3), token_dim=8
    )
    assert isinstance(backbone, keras_hub.models.Backbone)
    backbone.save_to_preset(str(tmp_path / "preset"))
    loaded = keras_hub.models.Backbone.from_preset(str(tmp_path / "preset"))
    assert type(loaded) is keras_t2t.T2TViTBackbone
    images = keras_t2t.preprocess_input(_images())
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(loaded(images)[key]), keras.ops.convert_to_numpy(backbone(images)[key])
        )


def test_lora_trains_only_the_low_rank_factors_and_merges_into_the_same_logits(tmp_path):
    model = keras_t2t.create_model("t2t_vit_7", classes=3, classifier_activation=None, **TINY)
    backbone = model.backbone
    backbone.enable_lora(4)
    trainable = {weight.path for weight in backbone.trainable_weights}
    assert trainable and all(
        path.rsplit("/", 1)[1] in {"lora_kernel_a", "lora_kernel_b"} for path in trainable
    )
    adapted = {path.rsplit("/", 2)[1] for path in trainable}
    assert adapted == {"qkv", "kqv", "proj", "fc1", "fc2"}

    frozen = {
        weight.path: keras.ops.convert_to_numpy(weight)
        for weight in backbone.weights
        if weight.path not in trainable
    }
    images, labels = _images(8), np.eye(3)[np.arange(8) % 3]
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(images, labels, epochs=2, batch_size=4, verbose=0)
    for weight in backbone.weights:
        if weight.path in frozen:
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(weight), frozen[weight.path], err_msg=weight.path
            )
    assert any(
        not np.allclose(keras.ops.convert_to_numpy(w), 0)
        for w in backbone.trainable_weights
        if w.path.endswith("lora_kernel_b")
    )

    # Keras saves a LoRA layer's kernel merged: loaded into a model without LoRA, same logits.
    model.save_weights(tmp_path / "merged.weights.h5")
    merged = keras_t2t.create_model(
        "t2t_vit_7",
        classes=3,
        classifier_activation=None,
        weights=str(tmp_path / "merged.weights.h5"),
        **TINY,
    )
    assert not any("lora" in weight.path for weight in merged.weights)
    np.testing.assert_allclose(merged.predict_on_batch(images), model.predict_on_batch(images), atol=1e-5)
