"""Which `tf.distribute` strategy a training run uses."""

import json
import os

import tensorflow as tf


def select_strategy(tpu: str | None = None) -> tf.distribute.Strategy:
    """The strategy for the machines this process sees.

    - `tpu` given (a TPU name or `grpc://` address, "local" for a TPU VM): `TPUStrategy`;
    - `TF_CONFIG` naming a cluster of workers: `MultiWorkerMirroredStrategy` (each worker runs the
      same command with its own `TF_CONFIG`);
    - several GPUs visible: `MirroredStrategy` over them;
    - otherwise the default strategy (one device).

    Call it before TensorFlow touches a device: the multi-worker and TPU strategies configure the
    runtime and fail once it is initialised.
    """
    if tpu:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if _cluster_workers() > 0:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _cluster_workers() -> int:
    """The number of workers and chiefs in `TF_CONFIG`'s cluster (0 without TF_CONFIG)."""
    config = os.environ.get("TF_CONFIG")
    if not config:
        return 0
    try:
        cluster = json.loads(config).get("cluster", {})
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {config!r}") from error
    return sum(len(cluster.get(task, [])) for task in ("chief", "worker"))


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process is the one that owns the run's folder: always, except on the non-chief
    workers of a multi-worker run (worker 0 is the chief when the cluster names no chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in ("chief", None):
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def worker_dir(strategy: tf.distribute.Strategy, run_dir: str) -> str:
    """The folder this process writes to: `run_dir` on the chief, `run_dir/workers/<task>_<id>` on
    the other workers of a multi-worker run, whose checkpoints and backups (identical to the
    chief's: training is synchronous) would otherwise overwrite the chief's."""
    if is_chief(strategy):
        return run_dir
    resolver = strategy.cluster_resolver
    return os.path.join(run_dir, "workers", f"{resolver.task_type}_{resolver.task_id}")
