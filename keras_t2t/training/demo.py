"""`keras-t2t demo`: train, evaluate and export a small T2T-ViT on Fashion-MNIST in minutes."""

import time

from keras_t2t.training.recipe import Recipe, demo_recipe
from keras_t2t.training.train import TrainResult, run_report, train


def run_demo(recipe: Recipe | None = None) -> TrainResult:
    """Runs `recipe` (default `demo_recipe()`) and prints the test accuracy, the time it took and
    where the files went."""
    recipe = recipe or demo_recipe()
    wall, cpu = time.perf_counter(), time.process_time()
    result = train(recipe)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    evaluated = "the whole test split" if recipe.eval_steps is None else f"{recipe.eval_steps} test batches"
    print()
    print(f"model:        {recipe.model}, {result.model.count_params():,} parameters")
    print(f"time:         {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU")
    print(run_report(result, "test", evaluated))
    return result
