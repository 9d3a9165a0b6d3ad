import keras

from keras_t2t.layers.se_attention import SqueezeExcitationAttention
from keras_t2t.layers.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="keras_t2t")
class SqueezeExcitationBlock(TransformerBlock):
    """The block of T2T-ViT-SE and ViT-SE: a `TransformerBlock` whose attention is
    `SqueezeExcitationAttention` (reduction 16). Same arguments and shapes as `TransformerBlock`.
    """

    attention_class = SqueezeExcitationAttention
