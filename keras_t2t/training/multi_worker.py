"""Keras 3's `fit` under `MultiWorkerMirroredStrategy`, made to work.

Keras 3.15's TensorFlow trainer fails on a collective (multi-worker) strategy in two places
(tensorflow/tensorflow#72388):

- before the first step it reduces a whole input batch with `strategy.reduce`, which the collective
  strategy cannot do for a structure of per-replica values ("Attempt to convert a value
  (PerReplica...)"); only the batch's shapes and dtypes are needed there;
- after each step it averages the scalar logs with `strategy.reduce("MEAN", v, axis=0)`, which
  fails on a scalar ("Invalid reduction dimension 0 for input with 0 dimensions").

`multi_worker_fit_fixes(strategy)` replaces those two pieces for the duration of a `fit`, and only
for a multi-worker strategy; with any other strategy it changes nothing.
"""

import contextlib

import tensorflow as tf
from keras.src.backend.tensorflow import trainer as tf_trainer


def _is_per_replica(value) -> bool:
    return isinstance(value, tf.distribute.DistributedValues)


def _reduce_per_replica(original):
    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean"):
            return tf.nest.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None) if _is_per_replica(v) else v, values
            )
        return original(values, strategy, reduction)

    return reduce_per_replica


def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    def first_replica(value):
        if not _is_per_replica(value):
            return value
        return self.distribute_strategy.experimental_local_results(value)[0]

    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = tf.nest.map_structure(first_replica, next(batches))
            break
    with self.distribute_strategy.scope():
        self._symbolic_build(data_batch=data_batch)


@contextlib.contextmanager
def multi_worker_fit_fixes(strategy: tf.distribute.Strategy):
    """Within the block, `fit` works under `strategy` if it is a `MultiWorkerMirroredStrategy`."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    original_reduce = tf_trainer.reduce_per_replica
    original_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
    tf_trainer.reduce_per_replica = _reduce_per_replica(original_reduce)
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original_reduce
        tf_trainer.TensorFlowTrainer._maybe_symbolic_build = original_build
