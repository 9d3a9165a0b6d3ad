import keras

from keras_t2t.layers.ghost_attention import GhostAttention
from keras_t2t.layers.ghost_mlp import GhostMlp
from keras_t2t.layers.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="keras_t2t")
class GhostBlock(TransformerBlock):
    """The block of T2T-ViT-Ghost and ViT-Ghost: a `TransformerBlock` with `GhostAttention` and
    `GhostMlp`. Same arguments and shapes as `TransformerBlock`; `dim * mlp_ratio` must be a multiple
    of `dim`, and `dim` even.
    """

    attention_class = GhostAttention
    mlp_class = GhostMlp
