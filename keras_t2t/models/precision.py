"""Models whose weights are stored in the dtype they compute in, for inference."""

import keras

from keras_t2t.models.backbone import T2TViTBackbone
from keras_t2t.models.image_classifier import T2TViTImageClassifier


def with_dtype(model: keras.Model, dtype: str | keras.DTypePolicy = "bfloat16") -> keras.Model:
    """A copy of `model` whose layers with weights store them in, and compute in, `dtype`.

    Under a mixed policy (`mixed_bfloat16`) Keras keeps float32 variables and casts each of them
    to bfloat16 every step: at batch 1 these casts are a sixth of a T2T-ViT-14 step on CPU.
    Weights stored in bfloat16 are cast once, here. The matmuls see the same bfloat16 values as
    under `mixed_bfloat16`, and the parts that run in float32 under a mixed policy (layer-norm
    statistics, softmax, the performer's random features) still do. Weight-less layers keep their
    policy, so the input normalisation stays float32 and the classifier still returns float32.
    Fixed float32 tables (the position embedding, the performers' random matrices) stay float32.

    On TensorFlow with oneDNN, a process that only runs inference can also set TensorFlow's
    `TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1` before its first prediction: the matmul kernels then
    reorder each weight once into the layout AMX's bfloat16 kernels read and keep it. They never
    see later changes to the weights, so the setting is wrong in a process that trains or loads
    new weights into a model it has already run.

    Args:
        model: a `T2TViTImageClassifier`, a `T2TViTBackbone`, or a functional model of serializable
            layers (the builders' feature extractors).
        dtype: the dtype policy of the copy's weighted layers, e.g. "bfloat16" or "float32".

    Returns:
        A new model with the same architecture and name, holding `model`'s weights cast to `dtype`;
        for inference (not training: bfloat16 weights lose the small updates an optimizer makes).
    """
    policy = keras.DTypePolicy(dtype) if isinstance(dtype, str) else dtype

    def clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if layer.weights:
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    if isinstance(model, T2TViTImageClassifier):
        # clone_model would return a plain functional model; the class is rebuilt from its config.
        config = {**model.get_config(), "backbone": clone_layer(model.backbone), "head_dtype": policy}
        copy = T2TViTImageClassifier.from_config(config)
    elif isinstance(model, T2TViTBackbone):
        copy = clone_layer(model)
    else:
        copy = keras.models.clone_model(model, clone_function=clone_layer)
    copy.set_weights(model.get_weights())
    return copy
