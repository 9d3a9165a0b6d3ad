"""Callbacks of the training run: exact-step backup and resume, validation and best checkpoint on
the EMA weights, and the learning rate in the logs."""

import json
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_t2t.ema import ema_weights


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` that resumes a killed run at the very step it reached.

    Keras 3.15's callback restores the weights and the optimizer state, but:
    - it restarts the interrupted epoch at its first batch (the "batch" it records is never read
      back), so a run killed k steps into an epoch trains k steps more than one that was not;
    - it does not save the layers' random-seed states, so dropout and drop path draw other masks
      after a restart;
    - with a step frequency it saves nothing at the end of an epoch.

    This subclass saves at each epoch end and, with `save_every_steps`, every that many steps; next
    to the weights it records the number of steps done and the seed states. `restore()` loads them
    and returns the step, from which the caller resumes: the data stream skips the batches already
    consumed and the interrupted epoch runs only its remaining steps (see `keras_t2t.training.train`).
    The backup is kept at the end of `fit` (`delete_checkpoint=False`): the caller removes it with
    `delete()` once the whole run has finished.

    Args:
        backup_dir: folder of the backup, used by nothing else.
        save_every_steps: also save every this many steps; None saves at epoch ends only.
    """

    STATE_FILENAME = "resume_state.json"

    def __init__(self, backup_dir: str, save_every_steps: int | None = None):
        if save_every_steps is not None and save_every_steps < 1:
            raise ValueError(
                f"save_every_steps must be a positive number of steps or None; got {save_every_steps}."
            )
        super().__init__(backup_dir, save_freq=save_every_steps or "epoch", delete_checkpoint=False)
        self._state_path = os.path.join(backup_dir, self.STATE_FILENAME)
        self.step = 0
        self._epoch_start_step = 0

    def restore(self) -> int:
        """Loads the latest backup into the model (weights, optimizer, seed states) if there is one.

        Returns:
            The number of training steps the backup had done; 0 without a backup.
        """
        if not (os.path.exists(self._weights_path) and os.path.exists(self._state_path)):
            self.step = 0
            return 0
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self._weights_path)
        with open(self._state_path) as f:
            state = json.load(f)
        seed_states = _seed_states(self.model)
        if len(seed_states) != len(state["seed_states"]):
            raise ValueError(
                f"The backup in {self.backup_dir} was written by a model with {len(state['seed_states'])} "
                f"random-seed states; this one has {len(seed_states)}. Resume with the recipe that wrote "
                "it, or delete the folder to start over."
            )
        for variable, value in zip(seed_states, state["seed_states"], strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        self.step = int(state["step"])
        return self.step

    def delete(self) -> None:
        """Removes the backup folder."""
        if os.path.exists(self.backup_dir):
            tf.io.gfile.rmtree(self.backup_dir)

    def on_train_begin(self, logs=None):
        # `restore` runs before `fit`, since the data stream depends on the step it returns.
        pass

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start_step = self.step

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the index of the epoch's last step done (several with steps_per_execution).
        self.step = self._epoch_start_step + batch + 1
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":
            self._save_model()
            self._batches_seen_since_last_saving = 0

    def _save_model(self):
        super()._save_model()
        state = {
            "step": self.step,
            "seed_states": [np.asarray(v.numpy()).tolist() for v in _seed_states(self.model)],
        }
        # Written whole then renamed, so that a kill mid-write leaves the previous state.
        staging_path = self._state_path + ".incomplete"
        with open(staging_path, "w") as f:
            json.dump(state, f)
        os.replace(staging_path, self._state_path)


def _seed_states(model: keras.Model) -> list[keras.Variable]:
    """The states of the model's random-seed generators (dropout, drop path), in a fixed order:
    the model's variables that are not weights."""
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def evaluate_ema(model: keras.Model, dataset, steps: int | None = None) -> dict[str, float]:
    """`model.evaluate` on the EMA weights when the optimizer keeps them (see `ema_weights`).

    Args:
        model: a compiled model.
        dataset: what `model.evaluate` takes: a (distributed) dataset of `(inputs, targets)`.
        steps: batches to evaluate; None runs the whole dataset.

    Returns:
        The loss and the compiled metrics by name.
    """
    with ema_weights(model), warnings.catch_warnings():
        # Keras warns that training is interrupted whenever a dataset of unknown length (the
        # pipelines that skip corrupt images) ends, which is how an evaluation ends.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        results = model.evaluate(dataset, steps=steps, verbose=0, return_dict=True)
    return {name: float(value) for name, value in results.items()}


class EmaValidation(keras.callbacks.Callback):
    """Evaluates the model at each epoch end, on the EMA weights when its optimizer keeps them, and
    adds the results to the epoch's logs as `val_<metric>`.

    Keras' own validation (`fit(validation_data=...)`) runs the raw weights; the recipe evaluates the
    average. Callbacks after this one in `fit`'s list (checkpoints, CSV log, TensorBoard, progress
    bar, history) see the `val_` entries.

    Args:
        dataset: the validation data, as `model.evaluate` takes it.
        steps: batches to evaluate; None runs the whole dataset.
    """

    def __init__(self, dataset, steps: int | None = None):
        super().__init__()
        self.dataset = dataset
        self.steps = steps

    def on_epoch_end(self, epoch, logs=None):
        results = evaluate_ema(self.model, self.dataset, self.steps)
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in results.items()})


class EmaModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """`keras.callbacks.ModelCheckpoint` that saves the EMA weights when the optimizer keeps them
    (the model's own weights otherwise). Takes `ModelCheckpoint`'s arguments."""

    def _save_model(self, epoch, batch, logs):
        # The method that both triggers (epoch end, every `save_freq` steps) call: the weights are
        # swapped once per possible save, not on every step.
        with ema_weights(self.model):
            super()._save_model(epoch, batch, logs)


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate to each epoch's logs as "learning_rate"."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
