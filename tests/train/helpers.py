"""Tiny learnable image data for training tests, as an `ImageData`-shaped object,
and a callback that stops a run as a kill between epochs would."""

import types

import keras
import numpy as np
import tensorflow as tf


def tiny_image_data(n=24, size=32, batch_size=8, seed=0):
    """Bright images are class 1, dark ones class 0."""
    rng = np.random.RandomState(seed)
    labels = np.arange(n) % 2
    images = rng.uniform(0, 120, (n, size, size, 3)) + labels[:, None, None, None] * 120
    images = images.astype("float32")

    def pipeline(shuffle):
        ds = tf.data.Dataset.from_tensor_slices(({"images": images}, labels.astype("int32")))
        if shuffle:
            ds = ds.shuffle(n, seed=seed)
        return ds.batch(batch_size)

    return types.SimpleNamespace(
        train=pipeline(True),
        validation=pipeline(False),
        num_train=n,
        class_names=("dark", "bright"),
        images=images,
        labels=labels,
    )


class Interrupted(Exception):
    pass


class StopAfter(keras.callbacks.Callback):
    """Raises at the start of global epoch `epoch`, as a kill between epochs would."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupted


def count_traces(model):
    """Counts the Python calls of `model.train_step`: one per trace of the
    training step. Returns the list that grows by one per trace."""
    traces = []
    step = model.train_step

    def counted(data):
        traces.append(1)
        return step(data)

    model.train_step = counted
    return traces
