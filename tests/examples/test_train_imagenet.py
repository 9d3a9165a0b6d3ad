import os
import re

import yaml

from tests.visualize.test_visualize import assert_picture


def test_tiny_run_of_the_full_recipe_prints_it_trains_and_draws_its_curves(example, tmp_path, capsys):
    result = example("train_imagenet").main(["--tiny", "--output-dir", str(tmp_path / "run")])
    printed = capsys.readouterr().out
    recipe = yaml.safe_load(printed.split("\n\n", 1)[0])  # the resolved recipe comes first
    assert recipe["data"] == str(tmp_path / "run" / "images")
    assert recipe["weight_decay"] == 0.03  # the paper's value for T2T-ViT-7, resolved
    assert recipe["image_size"] == 32 and recipe["augmentation"]["mixup_alpha"] == 0.8
    assert sorted(os.listdir(tmp_path / "run" / "images" / "validation")) == ["blue", "green", "red"]

    assert len(result.history["loss"]) == 2 and len(result.history["val_top1"]) == 2
    assert_picture(os.path.join(result.run_dir, "curves.png"), (3 * 400, 300))
    assert re.search(rf"run folder:\s+{re.escape(result.run_dir)}\n", printed)
