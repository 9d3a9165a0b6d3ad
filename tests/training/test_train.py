import argparse
import math
import os
import re

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import keras_t2t
from keras_t2t import cli, data
from keras_t2t.data import Augmentation
from keras_t2t.ema import ema_weights
from keras_t2t.training import (
    Recipe,
    add_recipe_arguments,
    build_model,
    evaluate,
    recipe_from_arguments,
    train,
)
from tests.training.conftest import tiny_recipe

# Augmentation, dropout, drop path and EMA all on: a resumed run must replay each of them.
RESUMABLE = dict(
    epochs=2,
    cooldown_epochs=1,
    ema_decay=0.9,
    drop_path_rate=0.1,
    backup_every_steps=3,
    export=True,
    augmentation=Augmentation(crop_scale=(0.5, 1.0), random_erasing=0.5, randaugment_num_ops=1),
)
HISTORY_KEYS = {"loss", "top1", "top5", "val_loss", "val_top1", "val_top5", "learning_rate"}


@pytest.fixture(scope="module")
def cli_run(textured_data_dir, tmp_path_factory):
    """`keras-t2t train --config recipe.yaml --output-dir DIR --seed 7`: 3 epochs of 4 steps."""
    root = tmp_path_factory.mktemp("cli_train")
    config = tiny_recipe(textured_data_dir, output_dir="ignored", **RESUMABLE).save(str(root / "recipe.yaml"))
    run_dir = str(root / "run")
    assert cli.main(["train", "--config", config, "--output-dir", run_dir, "--seed", "7"]) == 0
    return run_dir


def test_cli_train_writes_the_run_folder(cli_run):
    recipe = Recipe.load(os.path.join(cli_run, "recipe.yaml"))
    assert (recipe.seed, recipe.output_dir, recipe.ema_decay, recipe.batch_size) == (7, cli_run, 0.9, 8)
    for name in ("log.csv", "best.keras", "last.keras", "curves.png", "tensorboard"):
        assert os.path.exists(os.path.join(cli_run, name)), name
    assert os.path.exists(os.path.join(cli_run, "serving", "t2t_vit_7", "1", "saved_model.pb"))
    assert not os.path.exists(os.path.join(cli_run, "backup"))  # removed once the run is complete
    # The files written during fit get the classifier's preprocessor back; the best is a preset too.
    best = keras_t2t.load_model(os.path.join(cli_run, "best.keras"))
    assert isinstance(best.preprocessor, keras_t2t.T2TViTImageClassifierPreprocessor)
    preset = keras_hub.models.ImageClassifier.from_preset(os.path.join(cli_run, "preset"))
    images = np.random.default_rng(0).uniform(0, 255, (2, 40, 40, 3)).astype("float32")
    np.testing.assert_array_equal(preset.predict(images, verbose=0), best.predict(images, verbose=0))
    with open(os.path.join(cli_run, "log.csv")) as f:
        header, *rows = f.read().splitlines()
    assert set(header.split(",")) == HISTORY_KEYS | {"epoch"}
    assert len(rows) == 3


class KillAfter(keras.callbacks.Callback):
    """Stands for a process killed after `steps` steps of its run."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps, self.done = steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.steps:
            raise KeyboardInterrupt("killed")


def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_weights(cli_run, tmp_path):
    recipe = Recipe.load(os.path.join(cli_run, "recipe.yaml")).replace(output_dir=str(tmp_path), export=False)
    # 4 steps an epoch, backups every 3 steps and at epoch ends: step 8 is killed before the
    # backup at the end of epoch 2, so the run resumes from the backup of step 7, mid-epoch.
    with pytest.raises(KeyboardInterrupt):
        train(recipe, callbacks=[KillAfter(8)])
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 2  # header and epoch 1
    resumed = train(recipe)

    uninterrupted = keras.saving.load_model(os.path.join(cli_run, "last.keras"))
    resumed_last = keras.saving.load_model(resumed.last_model)
    assert len(resumed_last.optimizer.variables) > len(resumed_last.weights)  # Adam moments and EMA
    for expected, actual in (
        (uninterrupted.weights, resumed_last.weights),
        (uninterrupted.optimizer.variables, resumed_last.optimizer.variables),
    ):
        for a, b in zip(expected, actual, strict=True):
            np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)
    reference = _history(cli_run)
    for name in ("val_loss", "val_top1", "learning_rate"):
        np.testing.assert_array_equal(resumed.history[name], reference[name], err_msg=name)


def _history(run_dir):
    from keras_t2t.training import read_history

    return read_history(os.path.join(run_dir, "log.csv"))


def _eval_arrays(source: str, size: int, crop_pct: float = 1.0, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    batches = list(
        data.eval_dataset(source, image_size=(size, size), batch_size=16, crop_pct=crop_pct, **kwargs)
    )
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def _top_k(probabilities: np.ndarray, labels: np.ndarray, k: int) -> float:
    best = np.argsort(-probabilities, axis=1)[:, :k]
    return float(np.mean([label in row for label, row in zip(labels, best, strict=True)]))


def test_cli_evaluate_prints_the_accuracy_of_the_best_model(cli_run, textured_data_dir, capsys):
    argv = ["evaluate", "--weights", os.path.join(cli_run, "best.keras"), "--data", "fashion_mnist_idx"]
    assert cli.main(argv + ["--data-dir", textured_data_dir, "--crop-pct", "1.0", "--batch-size", "16"]) == 0
    printed = capsys.readouterr().out
    top1, top5 = (float(re.search(rf"top-{k}:\s+([\d.]+)%", printed).group(1)) for k in (1, 5))

    model = keras.saving.load_model(os.path.join(cli_run, "best.keras"))  # holds the EMA weights
    images, labels = _eval_arrays("fashion_mnist_idx", 28, data_dir=textured_data_dir)
    probabilities = model.predict(images, verbose=0)
    assert top1 == pytest.approx(100 * _top_k(probabilities, labels, 1), abs=0.01)
    assert top5 == pytest.approx(100 * _top_k(probabilities, labels, 5), abs=0.01)
    assert max(_history(cli_run)["val_top1"]) == pytest.approx(top1 / 100, abs=1e-4)


def test_cli_evaluate_in_bfloat16_measures_the_bfloat16_copy(cli_run, textured_data_dir, capsys):
    argv = ["evaluate", "--weights", os.path.join(cli_run, "best.keras"), "--data", "fashion_mnist_idx"]
    flags = ["--data-dir", textured_data_dir, "--crop-pct", "1.0", "--precision", "bfloat16"]
    assert cli.main(argv + flags) == 0
    printed = capsys.readouterr().out
    top1, loss = (float(re.search(rf"{name}:\s+([\d.]+)", printed).group(1)) for name in ("top-1", "loss"))

    model = keras.saving.load_model(os.path.join(cli_run, "best.keras"))
    images, labels = _eval_arrays("fashion_mnist_idx", 28, data_dir=textured_data_dir)
    with ema_weights(model):
        probabilities = keras_t2t.with_dtype(model, "bfloat16").predict(images, verbose=0)
        float32 = model.predict(images, verbose=0)
    assert top1 == pytest.approx(100 * _top_k(probabilities, labels, 1), abs=0.01)
    cross_entropy = -np.mean(np.log(probabilities[np.arange(len(labels)), labels]))
    assert loss == pytest.approx(cross_entropy, abs=2e-4)
    # Another model than the float32 one, and close to it (the tiny model is near uniform).
    assert 1e-5 < np.abs(probabilities - float32).max() < 0.01


def test_evaluate_takes_a_model_that_was_never_compiled():
    model = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), classes=3, depth=1)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (6, 32, 32, 3)).astype("float32")
    labels = np.array([0, 1, 2, 2, 1, 0])
    results = evaluate(model, tf.data.Dataset.from_tensor_slices((images, labels)).batch(4))
    probabilities = model.predict(images, verbose=0)
    assert results["top1"] == pytest.approx(_top_k(probabilities, labels, 1))
    cross_entropy = -np.mean(np.log(probabilities[np.arange(6), labels]))
    assert results["loss"] == pytest.approx(cross_entropy, rel=1e-4)


def test_cli_evaluate_takes_the_runs_preset_as_it_takes_the_best_model(cli_run, textured_data_dir, capsys):
    flags = ["--data", "fashion_mnist_idx", "--data-dir", textured_data_dir, "--crop-pct", "1.0"]
    printed = []
    for weights in ("best.keras", "preset"):
        assert cli.main(["evaluate", "--weights", os.path.join(cli_run, weights), *flags]) == 0
        printed.append(re.search(r"top-1:\s+([\d.]+)%", capsys.readouterr().out).group(1))
    assert printed[0] == printed[1]


def test_fit_and_evaluate_on_imagenet2012_from_the_manual_download(tiny_imagenet, tmp_path):
    data_dir, manual_dir = tiny_imagenet.data_dir, tiny_imagenet.manual_dir
    recipe = tiny_recipe(
        data_dir,
        str(tmp_path / "run"),
        data="imagenet2012",
        manual_dir=manual_dir,
        image_size=32,
        epochs=1,
        warmup_epochs=0,
        steps_per_epoch=2,
        batch_size=4,
        eval_batch_size=2,
        ema_decay=0.5,
    )
    result = train(recipe)
    assert result.model.output_shape == (None, 1000)
    assert set(result.history) >= HISTORY_KEYS

    dataset = data.eval_dataset("imagenet2012", image_size=(32, 32), batch_size=2, data_dir=data_dir)
    results = evaluate(result.model, dataset)
    images, labels = _eval_arrays("imagenet2012", 32, data_dir=data_dir, crop_pct=0.9)
    probabilities = result.model.predict(images, verbose=0)
    assert results["top1"] == pytest.approx(_top_k(probabilities, labels, 1))
    assert results["top5"] == pytest.approx(_top_k(probabilities, labels, 5))
    assert results["top1"] == pytest.approx(result.evaluation["top1"])


def test_mixed_float16_training_of_a_performer_model_has_finite_losses(textured_data_dir, tmp_path):
    losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(logs["loss"])
    )
    recipe = tiny_recipe(textured_data_dir, str(tmp_path), precision="mixed_float16", epochs=2)
    result = train(recipe, callbacks=[record])
    assert isinstance(result.model.optimizer, keras.optimizers.LossScaleOptimizer)
    performer = result.model.get_layer("backbone").tokens_to_token.attention1
    assert performer.compute_dtype == "float16"
    assert len(losses) == 8 and all(math.isfinite(loss) for loss in losses)
    assert all(math.isfinite(value) for value in result.history["val_loss"])
    assert keras.config.dtype_policy().name == "float32"  # the global policy is put back


@pytest.mark.skipif(
    not os.path.exists(os.path.join(data.FASHION_MNIST_DIR, "t10k-labels-idx1-ubyte.gz")),
    reason=f"Debian's Fashion-MNIST is not installed in {data.FASHION_MNIST_DIR}",
)
def test_demo_runs_end_to_end_on_a_few_fashion_mnist_batches(tmp_path, capsys):
    argv = ["demo", "--output-dir", str(tmp_path), "--epochs", "1", "--warmup-epochs", "0"]
    argv += ["--steps-per-epoch", "2", "--batch-size", "32", "--eval-steps", "1", "--eval-batch-size", "200"]
    assert cli.main(argv + ["--no-progress-bar"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"test:\s+top-1 [\d.]+%, top-5 [\d.]+% \(1 test batches\)", printed)
    for name in (
        "best.keras",
        "last.keras",
        "curves.png",
        "log.csv",
        os.path.join("serving", "t2t_vit_7", "1"),
    ):
        path = os.path.join(tmp_path, name)
        assert os.path.exists(path), name
        assert path in printed, name


def test_the_attention_chunk_flag_reaches_the_transformer_t2t_layers():
    args = argparse.ArgumentParser()
    add_recipe_arguments(args)
    recipe = recipe_from_arguments(
        args.parse_args(
            ["--model", "t2t_vit_t_14", "--image-size", "32", "--depth", "1", "--attention-chunk-size", "16"]
        )
    )
    t2t = build_model(recipe, num_classes=3).get_layer("backbone").tokens_to_token
    assert t2t.attention1.attn.query_chunk_size == t2t.attention2.attn.query_chunk_size == 16


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(data="{tmp}/no/such/folder"), "no/such/folder"),
        (dict(image_size=30), "multiple"),
        (dict(batch_size=1000, steps_per_epoch=None), "larger than the 64 training examples"),
    ],
)
def test_a_run_that_cannot_start_leaves_no_folder(textured_data_dir, tmp_path, overrides, message):
    overrides = {
        key: value.format(tmp=tmp_path) if isinstance(value, str) else value
        for key, value in overrides.items()
    }
    output_dir = tmp_path / "run"
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        train(tiny_recipe(textured_data_dir, str(output_dir), **overrides))
    assert not output_dir.exists()


def test_train_help_points_small_data_to_the_demo_recipe_and_finetuning(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "keras-t2t demo --data FOLDER" in help_text
    assert "examples/finetune.py" in help_text
