"""Keras layers of T2T-ViT, each serializable and usable on its own."""

from keras_t2t.layers.attention import MultiHeadSelfAttention
from keras_t2t.layers.class_token import ClassToken
from keras_t2t.layers.drop_path import DropPath
from keras_t2t.layers.mlp import Mlp
from keras_t2t.layers.position_embedding import SinusoidalPositionEmbedding, sinusoid_table
from keras_t2t.layers.soft_split import SoftSplit
from keras_t2t.layers.t2t_module import T2TModule
from keras_t2t.layers.token_performer import TokenPerformer
from keras_t2t.layers.token_transformer import TokenTransformer
from keras_t2t.layers.transformer_block import TransformerBlock

__all__ = [
    "ClassToken",
    "DropPath",
    "Mlp",
    "MultiHeadSelfAttention",
    "SinusoidalPositionEmbedding",
    "SoftSplit",
    "T2TModule",
    "TokenPerformer",
    "TokenTransformer",
    "TransformerBlock",
    "sinusoid_table",
]
