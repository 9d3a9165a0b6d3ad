import argparse
import dataclasses

import pytest

from keras_t2t.data import Augmentation
from keras_t2t.training import Recipe, add_recipe_arguments, demo_recipe, recipe_from_arguments


def parse(argv: list[str], base: Recipe | None = None) -> Recipe:
    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    return recipe_from_arguments(parser.parse_args(argv), base=base)


def test_defaults_are_the_papers():
    recipe = Recipe()
    assert (recipe.epochs, recipe.warmup_epochs, recipe.cooldown_epochs, recipe.total_epochs) == (
        300,
        10,
        10,
        310,
    )
    assert (recipe.base_lr, recipe.lr_base_batch, recipe.warmup_lr, recipe.min_lr) == (5e-4, 512, 1e-6, 1e-5)
    assert (recipe.drop_path_rate, recipe.ema_decay, recipe.seed) == (0.1, 0.99996, 42)
    assert recipe.augmentation == Augmentation()
    assert recipe.resolved_image_size() == 224


@pytest.mark.parametrize(
    "model, expected",
    [("t2t_vit_7", 0.03), ("t2t_vit_12", 0.03), ("t2t_vit_14", 0.05), ("t2t_vit_t_24", 0.065)],
)
def test_weight_decay_defaults_to_the_models(model, expected):
    assert Recipe(model=model).resolved_weight_decay() == expected
    assert Recipe(model=model, weight_decay=0.1).resolved_weight_decay() == 0.1


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_file_round_trip(tmp_path, suffix):
    recipe = demo_recipe().replace(weight_decay=None, clip_norm=1.5, mixup_alpha=0.2, crop_scale=(0.5, 0.9))
    path = recipe.save(str(tmp_path / f"recipe{suffix}"))
    assert Recipe.load(path) == recipe


def test_a_file_may_hold_a_few_settings(tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text("model: t2t_vit_7\naugmentation:\n  mixup_alpha: 0.0\n")
    recipe = Recipe.load(str(path))
    assert recipe == Recipe(model="t2t_vit_7", augmentation=Augmentation(mixup_alpha=0.0))


@pytest.mark.parametrize(
    "text, message",
    [("batchsize: 3\n", "Unknown recipe settings: batchsize"), ("augmentation:\n  mixup: 1\n", "mixup")],
)
def test_unknown_settings_in_a_file_are_named(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        Recipe.load(str(path))


def test_flags_override_the_file(tmp_path):
    path = Recipe(model="t2t_vit_7", epochs=20, batch_size=32, ema_decay=0.9).save(str(tmp_path / "r.yaml"))
    recipe = parse(
        ["--config", path, "--epochs", "15", "--ema-decay", "none", "--mixup-alpha", "0", "--no-export"]
        + ["--crop-scale", "0.3", "1.0", "--precision", "mixed_bfloat16"]
    )
    expected = dataclasses.replace(
        Recipe(model="t2t_vit_7", batch_size=32),
        epochs=15,
        ema_decay=None,
        export=False,
        precision="mixed_bfloat16",
        augmentation=Augmentation(mixup_alpha=0.0, crop_scale=(0.3, 1.0)),
    )
    assert recipe == expected


def test_flags_override_a_base_recipe():
    recipe = parse(["--epochs", "2", "--batch-size", "16"], base=demo_recipe())
    assert recipe == demo_recipe().replace(epochs=2, batch_size=16)


def test_without_flags_the_recipe_is_the_default():
    assert parse([]) == Recipe()


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(model="t2t_vit_99"), "Unknown model"),
        (dict(precision="float16"), "precision"),
        (dict(epochs=10, warmup_epochs=10), "warmup_epochs"),
        (dict(ema_decay=1.0), "ema_decay"),
        (dict(steps_per_epoch=0), "steps_per_epoch"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**settings)


def test_a_bad_flag_value_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit):
        parse(["--precision", "fp8"])
    assert "invalid choice" in capsys.readouterr().err
