"""Training T2T-ViT with the paper's recipe: AdamW, warm-up and cosine schedule, EMA of the weights,
`tf.distribute` strategies, mixed precision and exact-step resume."""

from keras_t2t.ema import ema_optimizer, ema_weights
from keras_t2t.training.callbacks import (
    EmaModelCheckpoint,
    EmaValidation,
    LearningRateLogger,
    ResumableBackup,
)
from keras_t2t.training.demo import run_demo
from keras_t2t.training.optimizer import (
    build_optimizer,
    learning_rate_schedule,
    scaled_learning_rate,
    weight_decay_exclusions,
)
from keras_t2t.training.recipe import Recipe, add_recipe_arguments, demo_recipe, recipe_from_arguments
from keras_t2t.training.strategy import is_chief, select_strategy, worker_dir
from keras_t2t.training.train import (
    TrainResult,
    build_model,
    compile_classifier,
    evaluate,
    read_history,
    run_report,
    train,
)

__all__ = [
    "Recipe",
    "TrainResult",
    "add_recipe_arguments",
    "build_model",
    "compile_classifier",
    "demo_recipe",
    "evaluate",
    "read_history",
    "recipe_from_arguments",
    "run_demo",
    "run_report",
    "train",
    "EmaModelCheckpoint",
    "EmaValidation",
    "LearningRateLogger",
    "ResumableBackup",
    "build_optimizer",
    "ema_optimizer",
    "ema_weights",
    "is_chief",
    "learning_rate_schedule",
    "scaled_learning_rate",
    "select_strategy",
    "weight_decay_exclusions",
    "worker_dir",
]
