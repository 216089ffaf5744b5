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


def tiny_image_text_fusion():
    """`(model, data)`: a fusion model of an image branch with BatchNorm beside a
    frozen text branch, and 4 examples of both."""
    from tests.small_backbone import SMALL_BACKBONE
    from tests.text_fakes import tiny_encoder
    from tfl.backbones import build_backbone
    from tfl.model import FusionClassifier
    from tfl.model import image_branch
    from tfl.model import text_branch

    encoder, preprocessor = tiny_encoder(sequence_length=8, hidden_dim=8)
    backbone = build_backbone(SMALL_BACKBONE, weights=None, image_size=32)
    model = FusionClassifier(
        [image_branch("image", backbone, SMALL_BACKBONE, 32),
         text_branch("text", encoder, "tiny", preprocessor=preprocessor, frozen=True)],
        ["bad", "good"],
        fusion={"mode": "concat", "projection_dim": 8},
    )
    texts = ["a good film", "great fun", "awful", "boring film"]
    images = np.random.RandomState(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    tokens = dict(preprocessor(tf.constant(texts)))
    dataset = tf.data.Dataset.from_tensor_slices(({"images": images, **tokens}, np.array([1, 1, 0, 0]))).batch(2)
    return model, types.SimpleNamespace(train=dataset, validation=None, num_train=4)
