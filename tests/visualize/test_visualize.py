import keras
import numpy as np
import pytest
from PIL import Image

import keras_t2t
from keras_t2t import visualize
from tests import numpy_reference as ref

SMALL = dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, token_dim=16)
HEIGHT, WIDTH = 32, 48  # a 2 x 3 token grid: non-square on purpose


def striped_image(height=HEIGHT, width=WIDTH) -> np.ndarray:
    """Stripes, a checkerboard and a ramp: structure for every channel, in RGB 0..255."""
    rows, cols = np.mgrid[0:height, 0:width]
    red = (cols * 5) % 256
    green = ((rows // 4 + cols // 4) % 2) * 255
    blue = rows * 255 / (height - 1)
    return np.stack([red, green, blue], axis=-1).astype("float32")


@pytest.fixture(scope="module")
def classifier():
    return keras_t2t.create_model("t2t_vit_7", input_shape=(HEIGHT, WIDTH, 3), classes=4, **SMALL)


def assert_picture(path, size):
    """`path` is a valid PNG of `size` (width, height) with real content."""
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == size
        pixels = np.asarray(image.convert("RGB"), dtype="float32")
    assert pixels.std() > 20, "the picture is (nearly) blank"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100, "the picture has hardly any colours"


def test_attention_scores_are_the_softmax_of_each_blocks_own_queries_and_keys(classifier):
    images = np.stack([striped_image(), np.random.default_rng(0).uniform(0, 255, (HEIGHT, WIDTH, 3))])
    scores = visualize.attention_scores(classifier, images)

    # The blocks' inputs, by calling the backbone's layers one after the other.
    backbone = classifier.get_layer("backbone")
    normalised = (images / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    x = backbone.tokens_to_token(normalised.astype("float32"))
    x = np.asarray(backbone.position_embedding(backbone.class_token(x)))
    assert len(scores) == 2
    for block, block_scores in zip(backbone.transformer_blocks, scores, strict=True):
        q, k, _ = np.split(ref.dense(ref.norm(x, block.norm1), block.attn.qkv), 3, axis=-1)
        heads = [t.reshape(2, 7, 2, 16).transpose(0, 2, 1, 3) for t in (q, k)]
        expected = ref.softmax(heads[0] @ heads[1].transpose(0, 1, 3, 2) * 16**-0.5)
        assert block_scores.shape == (2, 2, 7, 7)
        np.testing.assert_allclose(block_scores, expected, atol=1e-5)
        np.testing.assert_allclose(block_scores.sum(-1), 1.0, atol=1e-5)
        x = np.asarray(block(x))


def test_attention_rollout_matches_a_product_of_residual_attention_matrices():
    rng = np.random.default_rng(0)
    scores = [ref.softmax(rng.normal(size=(2, 3, 5, 5))).astype("float32") for _ in range(3)]
    rollout = visualize.attention_rollout(scores)
    for sample in range(2):
        mixings = []
        for block_scores in scores:
            mixing = 0.5 * block_scores[sample].mean(0) + 0.5 * np.eye(5)  # rows of both sum to 1
            mixings.append(mixing)
        np.testing.assert_allclose(rollout[sample], np.linalg.multi_dot(mixings[::-1]), atol=1e-6)
    np.testing.assert_allclose(rollout.sum(-1), 1.0, atol=1e-6)


def test_rollout_of_one_uniform_block_by_hand():
    uniform = np.full((1, 2, 4, 4), 0.25, "float32")
    np.testing.assert_allclose(visualize.attention_rollout([uniform])[0], 0.5 * np.eye(4) + 0.125, atol=1e-7)
    with pytest.raises(ValueError, match="at least one block"):
        visualize.attention_rollout([])


def test_class_token_map_reads_the_class_tokens_row_in_row_major_grid_order():
    attention = np.zeros((7, 7))
    attention[0, 1:] = np.arange(1, 7)
    np.testing.assert_array_equal(visualize.class_token_map(attention, (2, 3)), [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="not a 3x3 grid"):
        visualize.class_token_map(attention, (3, 3))


@pytest.mark.parametrize(
    "tokens_type, stages",
    [
        ("performer", {"attention1": (8, 12, 16), "attention2": (4, 6, 16), "project": (2, 3, 32)}),
        ("convolution", {"conv0": (8, 12, 16), "conv1": (4, 6, 16), "project": (2, 3, 32)}),
        ("patch", {"patch_embed": (2, 3, 32)}),
    ],
)
def test_token_maps_are_the_tokenizers_stages_and_its_tokens_on_the_grid(tokens_type, stages):
    backbone = keras_t2t.T2TViTBackbone(image_shape=(HEIGHT, WIDTH, 3), tokens_type=tokens_type, **SMALL)
    images = keras_t2t.preprocess_input(striped_image()[None])
    maps = visualize.token_maps(backbone, images)
    assert {name: m.shape[1:] for name, m in maps.items()} == stages
    tokenizer = backbone.get_layer("patch_embed" if tokens_type == "patch" else "tokens_to_token")
    last = list(maps.values())[-1]
    np.testing.assert_allclose(last.reshape(1, 6, 32), np.asarray(tokenizer(images)), atol=1e-6)


def test_dense_stacks_give_the_attention_of_their_blocks_not_of_their_transitions():
    backbone = keras_t2t.T2TViTBackbone(
        image_shape=(HEIGHT, WIDTH, 3),
        block_type="dense",
        growth_rate=16,
        dense_blocks=(1, 1),
        **SMALL,
    )
    scores = visualize.attention_scores(backbone, keras_t2t.preprocess_input(striped_image()[None]))
    assert [s.shape for s in scores] == [(1, 2, 7, 7)] * 2


def test_visualize_writes_each_picture_at_its_size(classifier, tmp_path):
    vit = keras_t2t.create_model(
        "vit_small_patch16_224", input_shape=(HEIGHT, WIDTH, 3), classes=4, **SMALL | {"token_dim": 64}
    )
    written = visualize.visualize(classifier, striped_image(), str(tmp_path), block=-1, compare_with=vit)
    assert [p.rsplit("/", 1)[1] for p in written] == [
        "attention_block_1.png",
        "attention_rollout.png",
        "token_maps.png",
    ]
    panel_height = round(250 * HEIGHT / WIDTH)  # 167
    assert_picture(written[0], (4 * 250, 30 + panel_height + 30))  # image, mean, 2 heads
    assert_picture(written[1], (2 * 250, 30 + panel_height + 30))
    # 8 channels a row; rows of 120 * 2 / 3 pixels under a 30-pixel heading; 3 T2T stages + ViT.
    assert_picture(written[2], (8 * 120, 30 + 4 * (30 + 80)))


def test_convolution_tokens_and_the_first_block(tmp_path):
    model = keras_t2t.create_model(
        "t2t_vit_7", input_shape=(WIDTH, HEIGHT, 3), classes=4, tokens_type="convolution", **SMALL
    )
    written = visualize.visualize(model, striped_image(WIDTH, HEIGHT), str(tmp_path), block=0, channels=4)
    panel_height = round(250 * WIDTH / HEIGHT)  # 375
    assert_picture(written[0], (4 * 250, 30 + panel_height + 30))
    assert_picture(written[2], (4 * 120, 30 + 3 * (30 + 180)))


def test_bad_requests_name_what_is_wrong(classifier, tmp_path):
    with pytest.raises(ValueError, match=r"2 attention blocks, 0\.\.1 \(or -2\.\.-1"):
        visualize.visualize(classifier, striped_image(), str(tmp_path), block=2)
    with pytest.raises(ValueError, match=r"takes images shaped \(batch, 32, 48, 3\).*eval_transform"):
        visualize.visualize(classifier, striped_image(48, 32), str(tmp_path))
    no_blocks = keras_t2t.T2TViTBackbone(image_shape=(HEIGHT, WIDTH, 3), **SMALL | {"depth": 0})
    with pytest.raises(ValueError, match="no attention blocks"):
        visualize.visualize(no_blocks, striped_image(), str(tmp_path))
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="is not a keras_t2t model"):
        visualize.attention_scores(plain, np.zeros((1, 8, 8, 3)))


def test_plot_history_draws_the_training_runs_curves(tmp_path):
    epochs = np.arange(1, 6)
    history = {
        "loss": list(3.0 / epochs),
        "top1": list(0.1 * epochs),
        "top5": list(0.15 * epochs),
        "val_loss": list(3.2 / epochs),
        "val_top1": list(0.09 * epochs),
        "val_top5": list(0.14 * epochs),
        "learning_rate": list(1e-3 * np.minimum(epochs, 3) / 3),
    }
    path = str(tmp_path / "run" / "curves.png")
    assert visualize.plot_history(history, path) == path
    assert_picture(path, (3 * 400, 300))
    without_rate = {k: v for k, v in history.items() if k != "learning_rate"}
    assert_picture(visualize.plot_history(without_rate, path, title="run"), (2 * 400, 300 + 30))
    with pytest.raises(ValueError, match="history is empty"):
        visualize.plot_history({"loss": []}, path)


def test_history_keys_go_to_their_panels_and_none_is_left_out():
    panels = visualize._history_panels(
        [
            "loss",
            "val_loss",
            "accuracy",
            "val_top5",
            "lr",
            "corrupt_images",
            "val_sparse_categorical_accuracy",
        ]
    )
    assert panels == {
        "loss": ["loss", "val_loss"],
        "accuracy": ["accuracy", "val_top5", "val_sparse_categorical_accuracy"],
        "learning rate": ["lr"],
        "other": ["corrupt_images"],
    }
