"""Distributed training in a fresh process, where devices can still be configured.

    python -m tests.train.distribute_process mirrored OUT.npz
    python -m tests.train.distribute_process plain_fit OUT.npz         (with TF_CONFIG)

`mirrored` splits the CPU into 2 logical devices, then trains the same tiny
model from the same seed through `fit_stages` (a linear probe on cached
features, then the whole network with SGD, BatchNorm recalibrated and
checked) once on one device and once under `MirroredStrategy`, and writes
both models' weights and losses. `plain_fit` is one worker of a `MultiWorkerMirroredStrategy`
cluster: it runs Keras' own `model.fit` on a tiny model without tfl's fix
and writes the error it raised (or none), for the sentinel test.
"""

import sys
import traceback
import types

import numpy as np
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE


def stages():
    from tfl.config import Stage

    return (
        Stage("none", linear_probe=True),
        Stage("all", epochs=2, learning_rate=1e-3, optimizer="sgd", recalibrate_batchnorm=True),
    )


def random_data(n=32, batch_size=8, seed=0):
    """Noise images with random labels: a loss that stays near log(2), so
    gradients stay large enough to compare (separable data drives it to 0).

    One shuffle order for every epoch: under a strategy Keras reads one batch
    before training (to build), which advances a reshuffling pipeline by one
    epoch, so the orders would differ from one-device training's."""
    rng = np.random.RandomState(seed)
    images = rng.uniform(0, 255, (n, 32, 32, 3)).astype("float32")
    labels = rng.randint(0, 2, n).astype("int32")
    train = tf.data.Dataset.from_tensor_slices(({"images": images}, labels))
    train = train.shuffle(n, seed=seed, reshuffle_each_iteration=False).batch(batch_size)
    return types.SimpleNamespace(train=train, validation=None, num_train=n, class_names=("a", "b"))


def train(strategy):
    import keras

    from tfl.config import ModelConfig
    from tfl.model import build_model
    from tfl.train import fit_stages

    keras.utils.set_random_seed(0)
    data = random_data()
    config = ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=(32, 32), dropout=0.0)
    with strategy.scope():
        model = build_model(config, data.class_names, seed=0)
        history = fit_stages(model, data, stages(), verbose=0)
    losses = [value for stage in history.stages for value in stage.history["loss"]]
    return model.get_weights(), np.array(losses)


def mirrored(out):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfl.train.distribute import resolve_strategy

    single_weights, single_losses = train(resolve_strategy(None))
    strategy = resolve_strategy("mirrored")
    mirrored_weights, mirrored_losses = train(strategy)
    arrays = {"replicas": np.array(strategy.num_replicas_in_sync)}
    arrays.update({f"single/{i}": w for i, w in enumerate(single_weights)})
    arrays.update({f"mirrored/{i}": w for i, w in enumerate(mirrored_weights)})
    np.savez(out, single_losses=single_losses, mirrored_losses=mirrored_losses, **arrays)


def plain_fit(out):
    import keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.RandomState(0).normal(size=(16, 4)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, np.arange(16) % 2)).batch(8)
    try:
        model.fit(dataset, epochs=1, verbose=0)
        error = ""
    except Exception:
        error = traceback.format_exc()
    np.savez(out, error=np.array(error))


if __name__ == "__main__":
    mode, out = sys.argv[1:3]
    {"mirrored": mirrored, "plain_fit": plain_fit}[mode](out)
