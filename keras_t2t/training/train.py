"""The training entry point: `train(recipe)` builds, fits, checkpoints and exports a T2T-ViT."""

import contextlib
import csv
import dataclasses
import os
import shutil
from collections.abc import Iterator

import keras
import tensorflow as tf

from keras_t2t import data, export
from keras_t2t.models import create_model, load_model
from keras_t2t.models.variants import SMALL_IMAGE_SOFT_SPLITS
from keras_t2t.training.callbacks import (
    EmaModelCheckpoint,
    EmaValidation,
    LearningRateLogger,
    ResumableBackup,
    evaluate_ema,
)
from keras_t2t.training.multi_worker import multi_worker_fit_fixes
from keras_t2t.training.optimizer import build_optimizer, learning_rate_schedule, scaled_learning_rate
from keras_t2t.training.recipe import Recipe
from keras_t2t.training.strategy import is_chief, select_strategy, worker_dir

RECIPE_FILENAME = "recipe.yaml"
LOG_FILENAME = "log.csv"
BEST_FILENAME = "best.keras"
LAST_FILENAME = "last.keras"
CURVES_FILENAME = "curves.png"
PRESET_DIRNAME = "preset"
BACKUP_DIRNAME = "backup"
TENSORBOARD_DIRNAME = "tensorboard"
SERVING_DIRNAME = "serving"
ARCHITECTURE_OVERRIDES = (
    "embed_dim",
    "depth",
    "num_heads",
    "mlp_ratio",
    "token_dim",
    "attention_chunk_size",
)


@dataclasses.dataclass
class TrainResult:
    """What `train` made.

    Attributes:
        history: per epoch, "loss", "top1", "top5", "val_loss", "val_top1", "val_top5" and
            "learning_rate" (every epoch of the run, those before a resume included).
        model: the trained model, holding the EMA weights when the recipe keeps an average.
        run_dir: the folder of this process's files.
        evaluation: "loss", "top1", "top5" of the last epoch's evaluation (EMA weights).
        best_model: the `.keras` file of the epoch with the best validation top-1 (EMA weights).
        last_model: the `.keras` file of the last epoch, optimizer state (and its EMA) included.
        preset_dir: the best model as a keras-hub preset directory, to upload or to load with
            `keras_hub.models.ImageClassifier.from_preset`.
        export_dir: the TF Serving version folder, or None without export.
    """

    history: dict[str, list[float]]
    model: keras.Model
    run_dir: str
    evaluation: dict[str, float]
    best_model: str
    last_model: str
    preset_dir: str
    export_dir: str | None


def run_report(result: TrainResult, split: str = "validation", note: str | None = None) -> str:
    """What a finished run reached and where its files went, one `name: value` line each.

    Args:
        result: what `train` returned.
        split: what the last evaluation ran on, the name of its line ("validation", "test").
        note: said after the accuracy in brackets, e.g. "the whole test split".
    """
    accuracy = f"top-1 {100 * result.evaluation['top1']:.2f}%, top-5 {100 * result.evaluation['top5']:.2f}%"
    rows = [
        (split, accuracy if note is None else f"{accuracy} ({note})"),
        ("run folder", result.run_dir),
        ("best model", result.best_model),
        ("last model", result.last_model),
        ("curves", os.path.join(result.run_dir, CURVES_FILENAME)),
        ("log", f"{os.path.join(result.run_dir, LOG_FILENAME)} (TensorBoard: {TENSORBOARD_DIRNAME}/)"),
    ]
    if result.export_dir:
        rows.append(("serving", result.export_dir))
    return "\n".join(f"{name + ':':<14}{value}" for name, value in rows)


def build_model(recipe: Recipe, num_classes: int) -> keras.Model:
    """The recipe's classifier (softmax outputs) for `num_classes` classes."""
    overrides = {
        name: getattr(recipe, name) for name in ARCHITECTURE_OVERRIDES if getattr(recipe, name) is not None
    }
    if recipe.small_image:
        overrides.update(SMALL_IMAGE_SOFT_SPLITS)
    size = recipe.resolved_image_size()
    return create_model(
        recipe.model,
        input_shape=(size, size, 3),
        classes=num_classes,
        drop_rate=recipe.drop_rate,
        drop_path_rate=recipe.drop_path_rate,
        **overrides,
    )


def compile_classifier(model: keras.Model, optimizer, jit_compile: bool = False) -> None:
    """Cross-entropy on (soft) one-hot targets, top-1 and top-5 accuracy named "top1", "top5".

    The model outputs probabilities; Keras computes the cross-entropy from the softmax's logits.
    Under a mixed_float16 model policy Keras wraps the optimizer in a `LossScaleOptimizer`. With
    fewer than 5 classes "top5" counts the top `classes` (every sample): TensorFlow's `in_top_k`
    does so by itself, PyTorch's `topk` raises for a k past the number of classes.
    """
    classes = model.output_shape[-1]
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=[
            keras.metrics.TopKCategoricalAccuracy(k=1, name="top1"),
            keras.metrics.TopKCategoricalAccuracy(k=min(5, classes), name="top5"),
        ],
        jit_compile=jit_compile,
    )


def evaluate(model: keras.Model, dataset: tf.data.Dataset, steps: int | None = None) -> dict[str, float]:
    """Top-1, top-5 accuracy and cross-entropy of a classifier, on its EMA weights if it has them.

    Args:
        model: a classifier with softmax outputs `(batch, classes)`; its optimizer (and EMA) is
            kept, its loss and metrics are set to `compile_classifier`'s.
        dataset: `(images, labels)` batches with int labels `(batch,)`, as
            `keras_t2t.data.eval_dataset` makes them.
        steps: batches to evaluate; None runs the whole dataset.

    Returns:
        `{"loss": ..., "top1": ..., "top5": ...}`, accuracies as fractions.
    """
    classes = model.output_shape[-1]
    # A model that was never compiled (built from weights, or a `with_dtype` copy) has no optimizer.
    compile_classifier(model, getattr(model, "optimizer", None) or "adamw")
    return evaluate_ema(
        model, dataset.map(lambda images, labels: (images, tf.one_hot(labels, classes))), steps
    )


def train(
    recipe: Recipe,
    strategy: tf.distribute.Strategy | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> TrainResult:
    """Trains the recipe's model on its data, resuming the run in its folder if one was interrupted.

    The run's folder (`recipe.resolved_output_dir()`) receives `recipe.yaml`, `log.csv` (one row per
    epoch), `tensorboard/`, `best.keras` (best validation top-1, EMA weights), `last.keras`,
    `preset/` (the best model as a keras-hub preset), `curves.png`, and with `recipe.export` a TF
    Serving SavedModel in `serving/<model>/<version>/`.
    A backup in `backup/` (every `recipe.backup_every_steps` steps and every epoch) lets a killed run
    resume, on the same command, at the step it had reached, with the weights an uninterrupted
    run would have: the data stream skips the batches already trained on. It is removed at the end.

    Args:
        recipe: the settings.
        strategy: the distribution strategy; None picks one with `select_strategy(recipe.tpu)`.
            Model, optimizer and metrics are created in its scope; the global batch is
            `recipe.batch_size` times its replicas.
        callbacks: more callbacks for `fit`, run after the validation (they see its `val_` logs).
    """
    if strategy is None:
        strategy = select_strategy(recipe.tpu)
    keras.utils.set_random_seed(recipe.seed)
    if recipe.deterministic:
        tf.config.experimental.enable_op_determinism()

    info = data.dataset_info(recipe.data, data_dir=recipe.data_dir, manual_dir=recipe.manual_dir)
    global_batch = recipe.batch_size * strategy.num_replicas_in_sync
    steps_per_epoch = recipe.steps_per_epoch or info.num_train_examples // global_batch
    if steps_per_epoch < 1:
        raise ValueError(
            f"The global batch of {global_batch} is larger than the {info.num_train_examples} training "
            f"examples of {recipe.data!r}: lower batch_size or set steps_per_epoch."
        )
    model = _compiled_model(recipe, strategy, info.num_classes, steps_per_epoch, global_batch)
    # Only now that data, model and settings have been checked: a run that cannot start leaves
    # no folder behind.
    run_dir = worker_dir(strategy, recipe.resolved_output_dir())
    os.makedirs(run_dir, exist_ok=True)
    recipe.save(os.path.join(run_dir, RECIPE_FILENAME))

    backup = ResumableBackup(os.path.join(run_dir, BACKUP_DIRNAME), recipe.backup_every_steps)
    backup.set_model(model)
    step = backup.restore()
    log_path = os.path.join(run_dir, LOG_FILENAME)
    # The backup last: an epoch's log row is written before the backup that moves past the epoch.
    callbacks = [
        *_callbacks(recipe, run_dir, _eval_data(recipe, strategy, info.num_classes), resumed=step > 0),
        *(callbacks or []),
        backup,
    ]

    total_steps = recipe.total_epochs * steps_per_epoch
    while step < total_steps:
        epoch, done = divmod(step, steps_per_epoch)
        # An epoch that was interrupted runs its remaining steps in a fit of its own.
        end_epoch = epoch + 1 if done else recipe.total_epochs
        with multi_worker_fit_fixes(strategy), _preprocessor_detached(model):
            model.fit(
                _train_data(recipe, strategy, skip_steps=step),
                initial_epoch=epoch,
                epochs=end_epoch,
                steps_per_epoch=steps_per_epoch - done,
                callbacks=callbacks,
                shuffle=False,  # the stream is shuffled by the data pipeline
                verbose=1 if recipe.progress_bar else 0,
            )
        if model.stop_training:
            raise FloatingPointError(
                f"Training stopped at epoch {epoch + 1}: the loss became NaN or infinite. The last "
                f"backup is in {backup.backup_dir}; lower the learning rate or set clip_norm, and run "
                "again to resume from it."
            )
        step = end_epoch * steps_per_epoch
        if done:
            # `fit` ends by giving the model its EMA weights; training goes on from the raw ones.
            backup.restore()

    history = read_history(log_path)
    evaluation = {
        name[len("val_") :]: values[-1] for name, values in history.items() if name.startswith("val_")
    }
    export_dir = None
    if is_chief(strategy):
        _add_preprocessor(os.path.join(run_dir, LAST_FILENAME), model.preprocessor)
        best = _add_preprocessor(os.path.join(run_dir, BEST_FILENAME), model.preprocessor)
        _replace_preset(best, os.path.join(run_dir, PRESET_DIRNAME))
        export_dir = _export(recipe, model, info.class_names, run_dir) if recipe.export else None
        # Imported where it is used: keras_t2t.visualize brings in matplotlib.
        from keras_t2t.visualize import plot_history

        plot_history(history, os.path.join(run_dir, CURVES_FILENAME))
    backup.delete()
    return TrainResult(
        history=history,
        model=model,
        run_dir=run_dir,
        evaluation=evaluation,
        best_model=os.path.join(run_dir, BEST_FILENAME),
        last_model=os.path.join(run_dir, LAST_FILENAME),
        preset_dir=os.path.join(run_dir, PRESET_DIRNAME),
        export_dir=export_dir,
    )


@contextlib.contextmanager
def _preprocessor_detached(model: keras.Model) -> Iterator[None]:
    """Takes the classifier's preprocessor off for `fit`: keras-hub's tasks map it over the data
    of `fit` and `evaluate`, which they cannot do for a tf.distribute dataset (the classifier
    refuses one while it has a preprocessor), and the training stream's batches are the model's
    inputs already. The checkpoints written meanwhile lack it until `_add_preprocessor`."""
    preprocessor = model.preprocessor
    model.preprocessor = None
    try:
        yield
    finally:
        model.preprocessor = preprocessor


def _add_preprocessor(path: str, preprocessor) -> keras.Model:
    """Gives a `.keras` file saved during `fit` the model's preprocessor (see
    `_preprocessor_detached`); returns the model it holds."""
    saved = load_model(path)
    if preprocessor is not None:
        saved.preprocessor = preprocessor
        partial = f"{path.removesuffix('.keras')}.partial.keras"
        saved.save(partial)
        os.replace(partial, path)
    return saved


def _replace_preset(model: keras.Model, preset_dir: str) -> None:
    """Writes `model` as a keras-hub preset in `preset_dir`, replacing one a resumed run wrote."""
    partial = f"{preset_dir}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    model.save_to_preset(partial)
    shutil.rmtree(preset_dir, ignore_errors=True)
    os.replace(partial, preset_dir)


def _compiled_model(
    recipe: Recipe,
    strategy: tf.distribute.Strategy,
    num_classes: int,
    steps_per_epoch: int,
    global_batch: int,
) -> keras.Model:
    """Model, optimizer and metrics made in the strategy's scope, under the recipe's dtype policy."""
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(recipe.precision)
    try:
        with strategy.scope():
            model = build_model(recipe, num_classes)
            schedule = learning_rate_schedule(
                scaled_learning_rate(recipe.base_lr, global_batch, recipe.lr_base_batch),
                steps_per_epoch,
                recipe.epochs,
                warmup_epochs=recipe.warmup_epochs,
                warmup_lr=recipe.warmup_lr,
                min_lr=recipe.min_lr,
            )
            optimizer = build_optimizer(
                model, schedule, recipe.resolved_weight_decay(), recipe.ema_decay, recipe.clip_norm
            )
            compile_classifier(model, optimizer, jit_compile=recipe.jit_compile)
            optimizer.build(model.trainable_variables)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    return model


def _train_data(recipe: Recipe, strategy: tf.distribute.Strategy, skip_steps: int):
    """The distributed training stream, started `skip_steps` steps in."""

    def dataset(context: tf.distribute.InputContext) -> tf.data.Dataset:
        # Each step takes one batch per replica from every input pipeline.
        replicas_per_pipeline = context.num_replicas_in_sync // context.num_input_pipelines
        size = recipe.resolved_image_size()
        return data.train_dataset(
            recipe.data,
            image_size=(size, size),
            batch_size=recipe.batch_size,
            augmentation=recipe.augmentation,
            seed=recipe.seed,
            data_dir=recipe.data_dir,
            manual_dir=recipe.manual_dir,
            input_context=context,
            skip_batches=skip_steps * replicas_per_pipeline,
        )

    return strategy.distribute_datasets_from_function(dataset)


def _eval_data(recipe: Recipe, strategy: tf.distribute.Strategy, num_classes: int):
    """The distributed evaluation split, with one-hot labels (the loss's and metrics' format)."""

    def dataset(context: tf.distribute.InputContext) -> tf.data.Dataset:
        size = recipe.resolved_image_size()
        images_and_labels = data.eval_dataset(
            recipe.data,
            image_size=(size, size),
            batch_size=recipe.eval_batch_size or recipe.batch_size,
            crop_pct=recipe.crop_pct,
            interpolation=recipe.interpolation,
            data_dir=recipe.data_dir,
            manual_dir=recipe.manual_dir,
            input_context=context,
        )
        return images_and_labels.map(lambda images, labels: (images, tf.one_hot(labels, num_classes)))

    return strategy.distribute_datasets_from_function(dataset)


def _callbacks(recipe: Recipe, run_dir: str, eval_data, resumed: bool) -> list[keras.callbacks.Callback]:
    """The run's callbacks in order: the validation first, so that the others see its `val_` logs."""
    log_path = os.path.join(run_dir, LOG_FILENAME)
    previous_best = max(read_history(log_path).get("val_top1", []), default=None) if resumed else None
    callbacks = [
        LearningRateLogger(),
        EmaValidation(eval_data, steps=recipe.eval_steps),
        keras.callbacks.TerminateOnNaN(),
        EmaModelCheckpoint(
            os.path.join(run_dir, BEST_FILENAME),
            monitor="val_top1",
            mode="max",
            save_best_only=True,
            initial_value_threshold=previous_best,
        ),
        keras.callbacks.ModelCheckpoint(os.path.join(run_dir, LAST_FILENAME)),
        keras.callbacks.CSVLogger(log_path, append=resumed),
        keras.callbacks.TensorBoard(os.path.join(run_dir, TENSORBOARD_DIRNAME)),
        data.CorruptImageReport(),
    ]
    if recipe.progress_bar:
        callbacks.insert(2, keras.callbacks.ProgbarLogger())
    return callbacks


def read_history(log_path: str) -> dict[str, list[float]]:
    """The per-epoch metrics of a run's CSV log; an epoch logged twice (a run killed between its
    log row and its backup, then resumed) counts once, with its last row."""
    if not os.path.exists(log_path):
        return {}
    with open(log_path, newline="") as f:
        rows = {int(row["epoch"]): row for row in csv.DictReader(f)}
    history: dict[str, list[float]] = {}
    for epoch in sorted(rows):
        for name, value in rows[epoch].items():
            if name != "epoch":
                history.setdefault(name, []).append(float(value))
    return history


def _export(recipe: Recipe, model: keras.Model, class_names: list[str], run_dir: str) -> str:
    return export.saved_model(
        model,
        os.path.join(run_dir, SERVING_DIRNAME, recipe.model),
        class_names=class_names,
        crop_pct=recipe.crop_pct,
        interpolation=recipe.interpolation,
    )
