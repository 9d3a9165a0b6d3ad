"""Keras layers of T2T-ViT, each serializable and usable on its own."""

from keras_t2t.layers.attention import MultiHeadSelfAttention
from keras_t2t.layers.class_token import ClassToken
from keras_t2t.layers.dense_block import DenseTransformerBlock
from keras_t2t.layers.drop_path import DropPath
from keras_t2t.layers.ghost_attention import GhostAttention
from keras_t2t.layers.ghost_block import GhostBlock
from keras_t2t.layers.ghost_mlp import GhostMlp
from keras_t2t.layers.mlp import Mlp
from keras_t2t.layers.patch_embedding import PatchEmbedding
from keras_t2t.layers.position_embedding import SinusoidalPositionEmbedding, sinusoid_table
from keras_t2t.layers.se_attention import SqueezeExcitationAttention
from keras_t2t.layers.se_block import SqueezeExcitationBlock
from keras_t2t.layers.soft_split import SoftSplit
from keras_t2t.layers.squeeze_excitation import SqueezeExcitation
from keras_t2t.layers.t2t_module import T2TModule
from keras_t2t.layers.token_performer import TokenPerformer
from keras_t2t.layers.token_transformer import TokenTransformer
from keras_t2t.layers.transformer_block import TransformerBlock
from keras_t2t.layers.transition import Transition
from keras_t2t.layers.utils import FusedDropout, TokenDense, TokenLayerNormalization

__all__ = [
    "ClassToken",
    "DenseTransformerBlock",
    "DropPath",
    "FusedDropout",
    "GhostAttention",
    "GhostBlock",
    "GhostMlp",
    "Mlp",
    "MultiHeadSelfAttention",
    "PatchEmbedding",
    "SinusoidalPositionEmbedding",
    "SoftSplit",
    "SqueezeExcitation",
    "SqueezeExcitationAttention",
    "SqueezeExcitationBlock",
    "T2TModule",
    "TokenDense",
    "TokenLayerNormalization",
    "TokenPerformer",
    "TokenTransformer",
    "TransformerBlock",
    "Transition",
    "sinusoid_table",
]
