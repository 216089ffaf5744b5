"""Distribution strategies: one name in the config, a `tf.distribute.Strategy` out.

    None / "default"  one device (the default strategy)
    "mirrored"        every local GPU, or every logical CPU device when there is
                      no GPU (synchronous data parallelism on one machine)
    "multi_worker"    several machines (or processes), each described by the
                      `TF_CONFIG` environment variable
    "tpu"             a Cloud TPU, found by `TPUClusterResolver`

The model must be built, and compiled, inside `strategy.scope()`: Keras 3's
TensorFlow trainer captures the strategy when the model is created, and the
optimizer's and metrics' variables are created at compile time. `data.batch_size`
is the global batch: each of the N replicas gets `batch_size / N` examples of
every batch (docs/distributed.md).

`model.fit` fails under `MultiWorkerMirroredStrategy` in Keras 3.15.1
(keras-team/keras#20585); `fix_multi_worker_fit` works around it for the models
tfl compiles, on the Keras versions that need it.
"""

import logging
import os
import types

import keras
import tensorflow as tf

from tfl.config.train_config import STRATEGIES

logger = logging.getLogger("tfl")

# The newest Keras known to need `fix_multi_worker_fit`, checked by
# tests/train/test_distribute.py. The sentinel test there runs a plain `fit`
# under MultiWorkerMirroredStrategy and fails once Keras no longer needs the fix.
NEEDS_MULTI_WORKER_FIX_UP_TO = (3, 15, 1)


def resolve_strategy(strategy=None):
    """The `tf.distribute.Strategy` a name stands for.

    Create it at the start of the program: `MultiWorkerMirroredStrategy`
    must exist before TensorFlow runs its first operation, and logical CPU
    devices (`tf.config.set_logical_device_configuration`) must be configured
    before TensorFlow initialises its devices.

    Args:
        strategy: None or "default" (one device), "mirrored", "multi_worker",
            "tpu", or a `tf.distribute.Strategy`, returned as it is.

    Returns:
        A `tf.distribute.Strategy`.

    Examples:

    >>> strategy = resolve_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = build_model(config.model, class_names)
    ...     history = fit_stages(model, data, stages)
    """
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {strategy!r}. Known: {', '.join(STRATEGIES)} (or null for one device). "
            f"Received: strategy={strategy!r}"
        )
    if strategy == "mirrored":
        return _mirrored()
    if strategy == "multi_worker":
        return _multi_worker()
    return _tpu()


def _mirrored():
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) < 2:
        logger.warning(
            "strategy 'mirrored': no GPU and one CPU device, so training runs on one replica. "
            "Several logical CPU devices need tf.config.set_logical_device_configuration before TensorFlow starts."
        )
    return tf.distribute.MirroredStrategy(devices=[device.name for device in cpus])


def _multi_worker():
    if not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "strategy 'multi_worker' reads the cluster from the TF_CONFIG environment variable, which is not set. "
            'Set it on every worker, e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' (docs/distributed.md).'
        )
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        raise RuntimeError(
            f"strategy 'multi_worker' could not start: {error}. Create the strategy before TensorFlow runs "
            "anything else (first thing in the program; `tfl train --strategy multi_worker` does)."
        ) from error


def _tpu():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise RuntimeError(
            f"strategy 'tpu': no TPU found ({error}). Run on a Cloud TPU VM, or set TPU_NAME to the TPU's "
            "name; on other machines use 'mirrored' or null."
        ) from error
    return tf.distribute.TPUStrategy(resolver)


def check_scope(model):
    """Raises when `model` was built under a strategy whose scope is not entered.

    The optimizers `fit_stages` creates, and the head model of a cached-feature
    stage, must be created in the scope the model was built in.
    """
    built_under = getattr(model, "_distribute_strategy", None)
    if built_under is not None and built_under is not tf.distribute.get_strategy():
        raise ValueError(
            f"The model was built under {type(built_under).__name__}, but its scope is not entered. "
            "Train it inside the same scope: `with strategy.scope(): fit_stages(model, data, stages)`."
        )


def replica_batch_size(batch_size, strategy):
    """Each replica's share of a global batch of `batch_size`, warning when
    the batch does not split evenly.

    `tf.distribute` splits every global batch across the replicas. With an
    uneven split (e.g. 15 on 2 replicas: 8 and 7) each replica's mean loss
    counts equally, so examples on the smaller replica weigh a little more
    than in one-device training.
    """
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        logger.warning(
            "data.batch_size %d does not split evenly across %d replicas: replicas get %d or %d examples, and "
            "the gradient weighs them unevenly. Use a multiple of %d.",
            batch_size,
            replicas,
            batch_size // replicas + 1,
            batch_size // replicas,
            replicas,
        )
    return batch_size // replicas


def needs_multi_worker_fix(model, version=None):
    """Whether `model.fit` needs `fix_multi_worker_fit`: a model built under
    `MultiWorkerMirroredStrategy`, on a Keras version known to need it."""
    version = version or keras.__version__
    numbers = tuple(int(part) for part in version.split("+")[0].split(".")[:3] if part.isdigit())
    strategy = getattr(model, "_distribute_strategy", None)
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and numbers <= NEEDS_MULTI_WORKER_FIX_UP_TO


def fix_multi_worker_fit(model):
    """Makes `fit`, `evaluate` and `predict` of `model` work under
    `MultiWorkerMirroredStrategy` in Keras <= 3.15.1 (keras-team/keras#20585).

    Keras' TensorFlow trainer fails there in two places:

    1. Before the first step, `_maybe_symbolic_build` peeks at one batch of the
       distributed dataset and passes the whole `(inputs, labels)` structure
       of `PerReplica` values to one `strategy.reduce` call. The collective
       reduction of `MultiWorkerMirroredStrategy` takes one value, not a
       nested structure: "Attempt to convert a value (PerReplica...)". The
       batch is only needed for its shapes and dtypes, so the fix builds from
       the first local replica's values.
    2. Each step's logs (scalar loss and metrics) are reduced across workers
       with `strategy.reduce("MEAN", value, axis=0)`, which fails on a scalar:
       "Invalid reduction dimension 0 for input with 0 dimensions". The fix
       returns the logs of `train_step` and `test_step` with shape `[1]`, so
       the reduction averages the workers' values into a scalar.

    Only this model object changes (its own attributes; the Keras classes are
    untouched), only when `needs_multi_worker_fix(model)`. Call it after
    `compile` (`tfl.train.fit_stage` does); calling it again does nothing.

    Args:
        model: a Keras model built inside a `MultiWorkerMirroredStrategy` scope.

    Returns:
        True if the model was changed now or before, False if it needs no fix.
    """
    if not needs_multi_worker_fix(model):
        return False
    if getattr(model, "_tfl_multi_worker_fix", False):
        return True
    model._maybe_symbolic_build = types.MethodType(_build_from_first_replica, model)
    model.train_step = _logs_of_rank_one(type(model).train_step.__get__(model))
    model.test_step = _logs_of_rank_one(type(model).test_step.__get__(model))
    model._tfl_multi_worker_fix = True
    return True


def _build_from_first_replica(model, iterator=None, data_batch=None):
    """`_maybe_symbolic_build` that takes shapes from the first local replica."""
    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = tf.nest.map_structure(_first_replica(model.distribute_strategy), next(batches))
            break
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=data_batch)


def _first_replica(strategy):
    def first(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    return first


def _logs_of_rank_one(step):
    def step_with_rank_one_logs(data):
        logs = step(data)
        return tf.nest.map_structure(lambda value: tf.reshape(value, [1]) if value.shape.rank == 0 else value, logs)

    return step_with_rank_one_logs
