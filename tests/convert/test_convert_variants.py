"""The architecture-study variants are refused by the converter with a clear error (not yet supported)."""

import pytest

from keras_t2t import create_model
from keras_t2t.convert import load_torch_checkpoint

TINY = dict(input_shape=(32, 32, 3), embed_dim=32, num_heads=2, token_dim=8, classes=5)


@pytest.mark.parametrize(
    "name, options",
    [
        ("vit_small_patch16_224", dict(depth=1)),
        ("t2t_vit_14_se", dict(depth=1)),
        ("t2t_vit_16_ghost", dict(depth=1)),
        ("t2t_vit_dense", dict(depth=2, dense_blocks=(1, 1), growth_rate=16)),
    ],
)
def test_study_variants_are_refused_with_a_clear_error(name, options):
    model = create_model(name, **TINY, **options)
    with pytest.raises(ValueError, match="architecture-study variants"):
        load_torch_checkpoint(model, {})
