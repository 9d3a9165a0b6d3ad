"""`keras-t2t demo`: train, evaluate and export a small T2T-ViT on Fashion-MNIST in minutes."""

import time

from keras_t2t.training.recipe import Recipe, demo_recipe
from keras_t2t.training.train import TrainResult, train


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
    print(
        f"test:         top-1 {100 * result.evaluation['top1']:.2f}%, "
        f"top-5 {100 * result.evaluation['top5']:.2f}% ({evaluated})"
    )
    print(f"time:         {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU")
    print(f"run folder:   {result.run_dir}")
    print(f"best model:   {result.best_model}")
    print(f"last model:   {result.last_model}")
    if result.export_dir:
        print(f"serving:      {result.export_dir}")
    return result
