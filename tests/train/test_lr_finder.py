"""The learning-rate range test: its curve, its suggestion, and a model restored bit for bit."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.evaluate.plots import LR_SUGGESTION_GID
from tfl.evaluate.plots import plot_lr_finder
from tfl.model import TextClassifier
from tfl.model import batchnorm_layers
from tfl.model import build_model
from tfl.model import head_loss
from tfl.model import head_metrics
from tfl.train import LRFinderResult
from tfl.train import find_learning_rate


def _image_model():
    return build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0), ["dark", "bright"]
    )


def _blobs(n=240, classes=3, features=4, batch_size=16, seed=0):
    """Linearly separable Gaussian blobs, shuffled once, in fixed batches."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, classes, n).astype("int32")
    centres = rng.normal(0, 3, (classes, features))
    x = (centres[labels] + rng.normal(0, 0.5, (n, features))).astype("float32")
    train = tf.data.Dataset.from_tensor_slices((x, labels)).batch(batch_size)
    return types.SimpleNamespace(train=train, x=x, labels=labels)


def _linear_model(classes=3, features=4):
    inputs = keras.Input((features,))
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(inputs))


def _state(model):
    """Every variable of the model and of its optimizer, and every layer's flag."""
    variables = list(model.variables) + list(model.optimizer.variables)
    return (
        {v.path + f"#{i}": np.array(v.numpy()) for i, v in enumerate(variables)},
        [layer.trainable for layer in model._flatten_layers(include_self=True, recursive=True)],
        [v.trainable for v in model.variables],
    )


def _assert_same_state(before, after):
    values, flags, variable_flags = before
    changed = [path for path in values if not np.array_equal(values[path], after[0][path])]
    assert changed == []
    assert after[1] == flags
    assert after[2] == variable_flags


def _give_optimizer_state(model, seed=0):
    """Compiles with Adam and fills its moments and step count, as after some training."""
    model.compile(keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    rng = np.random.RandomState(seed)
    for variable in model.optimizer.variables:
        if variable.path.endswith("iteration"):
            variable.assign(7)
        elif "learning_rate" not in variable.path:
            variable.assign(rng.uniform(0, 1e-3, variable.shape).astype(variable.dtype))


def test_finder_restores_weights_statistics_flags_and_optimizer_bit_identically():
    model = _image_model()
    _give_optimizer_state(model)
    optimizer = model.optimizer
    before = _state(model)
    stats = {v.path: np.array(v.numpy()) for layer in batchnorm_layers(model) for v in layer.non_trainable_weights}

    # Trains everything, BatchNorm statistics included, at rates up to 10: the
    # model changes a lot during the test.
    result = find_learning_rate(
        model, tiny_image_data(), Stage("all", train_batchnorm=True), start=1e-2, end=10.0, steps=4
    )

    assert result.steps >= 2
    _assert_same_state(before, _state(model))
    assert model.optimizer is optimizer
    assert all(np.array_equal(stats[v.path], v.numpy()) for layer in batchnorm_layers(model)
               for v in layer.non_trainable_weights)


def _small_net():
    """Dense, BatchNorm (trainable: its statistics move in training) and seeded dropout."""
    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dropout(0.5, seed=3)(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def test_fit_after_the_finder_matches_a_fit_without_it():
    model, twin = _small_net(), _small_net()
    twin.set_weights(model.get_weights())
    for each in (model, twin):
        each.compile(keras.optimizers.Adam(1e-2), loss=head_loss(False), metrics=head_metrics(False))
        each.fit(_blobs().train, epochs=1, verbose=0, shuffle=False)

    # Moves the weights, the BatchNorm statistics and the dropout seed state.
    find_learning_rate(model, _blobs(), start=1e-3, end=10.0, steps=20)
    for each in (model, twin):
        each.fit(_blobs().train, epochs=2, verbose=0, shuffle=False)

    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), twin.get_weights()))
    assert all(
        np.array_equal(a.numpy(), b.numpy()) for a, b in zip(model.optimizer.variables, twin.optimizer.variables)
    )


def test_finder_restores_a_text_classifier_and_its_frozen_flags():
    encoder, preprocessor = tiny_encoder()
    model = TextClassifier(encoder, preprocessor, ["bad", "good"], encoder_name="tiny", pooling="mean")
    texts = tf.constant(["a good movie", "great fun", "a bad movie", "awful film"])
    data = tf.data.Dataset.from_tensor_slices((dict(preprocessor(texts)), np.array([1, 1, 0, 0], "int32"))).batch(2)
    _give_optimizer_state(model)
    before = _state(model)

    result = find_learning_rate(model, data, Stage("top 1"), start=1e-4, end=1.0, steps=6)

    assert result.steps == 6
    _assert_same_state(before, _state(model))


def test_rates_rise_exponentially_from_start_to_end():
    result = find_learning_rate(_linear_model(), _blobs(), start=1e-6, end=1e-2, steps=21, divergence=1e6)

    rates = np.array(result.learning_rates)
    assert not result.stopped_early and result.steps == 21
    assert rates[0] == pytest.approx(1e-6, rel=1e-12) and rates[-1] == pytest.approx(1e-2, rel=1e-12)
    np.testing.assert_allclose(rates[1:] / rates[:-1], 10 ** (4 / 20), rtol=1e-12)
    assert len(result.losses) == len(result.smoothed_losses) == 21


def test_suggestion_lies_where_the_loss_falls_and_below_divergence():
    data = _blobs()
    result = find_learning_rate(_linear_model(), data, Stage(optimizer="sgd"), start=1e-5, end=100.0, steps=100)

    rates = np.array(result.learning_rates)
    smoothed = np.array(result.smoothed_losses)
    index = int(np.argmin(np.abs(np.log(rates / result.suggestion))))
    lowest = int(np.argmin(smoothed))
    assert result.stopped_early  # SGD diverges on this problem well before 100
    assert result.method == "steepest" and result.suggestion == result.suggestions["steepest"]
    assert index < lowest  # before the loss bottoms out
    assert smoothed[index + 1] < smoothed[index]  # where it is still falling
    assert smoothed[lowest] < 0.5 * smoothed[0]
    assert result.suggestion < rates[-1] / 10  # well below where the test stopped
    # The minimum rule reads fastai's window: from the tenth step to the fifth-to-last.
    window = slice(10, len(rates) - 5)
    assert result.suggestions["minimum/10"] == pytest.approx(rates[window][np.argmin(smoothed[window])] / 10)
    # And the rate trains: three epochs at it more than halve the loss.
    model = _linear_model()
    model.compile(keras.optimizers.SGD(result.suggestion, momentum=0.9), keras.losses.SparseCategoricalCrossentropy())
    initial = model.evaluate(data.x, data.labels, verbose=0)
    model.fit(data.train, epochs=3, verbose=0, shuffle=False)
    assert model.evaluate(data.x, data.labels, verbose=0) < 0.5 * initial


def test_divergence_stops_the_test_early():
    result = find_learning_rate(_linear_model(), _blobs(), Stage(optimizer="sgd"), start=1e-4, end=1e4, steps=60)

    smoothed = np.array(result.smoothed_losses)
    assert result.stopped_early and result.steps < 60
    last = smoothed[-1]
    assert not np.isfinite(last) or last > 4.0 * smoothed[:-1].min()
    assert np.all(smoothed[:-1] <= 4.0 * np.minimum.accumulate(smoothed[:-1]))  # no earlier stop was missed
    assert result.suggestion < result.learning_rates[-1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        pytest.param({"start": 0.0}, "start=0.0", id="start-zero"),
        pytest.param({"start": -1e-3}, "start=-0.001", id="start-negative"),
        pytest.param({"start": 1.0, "end": 1.0}, "end=1.0", id="start-equals-end"),
        pytest.param({"start": 1.0, "end": 0.1}, "end=0.1", id="start-above-end"),
        pytest.param({"steps": 1}, "steps=1", id="one-step"),
        pytest.param({"steps": 2.5}, "steps=2.5", id="fractional-steps"),
        pytest.param({"smoothing": 1.0}, "smoothing=1.0", id="smoothing-one"),
        pytest.param({"divergence": 1.0}, "divergence=1.0", id="divergence-one"),
        pytest.param({"method": "valley"}, "'valley'. Known: steepest, minimum/10", id="unknown-method"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        find_learning_rate(_linear_model(), _blobs(), **kwargs)


def test_linear_probe_stage_is_rejected():
    with pytest.raises(ValueError, match="linear-probe stage"):
        find_learning_rate(_linear_model(), _blobs(), Stage(linear_probe=True))


def test_empty_training_data_is_an_error():
    empty = _blobs().train.take(0)
    with pytest.raises(ValueError, match="yielded none"):
        find_learning_rate(_linear_model(), empty, steps=3)


@pytest.mark.parametrize("as_dict", [pytest.param(True, id="to_dict"), pytest.param(False, id="dataclass")])
def test_plot_has_a_log_axis_and_marks_the_suggestion(as_dict):
    rates = list(np.geomspace(1e-5, 1.0, 30))
    losses = list(np.concatenate([np.linspace(1.1, 0.2, 20), np.geomspace(0.3, 5.0, 10)]))
    result = LRFinderResult(
        learning_rates=rates,
        losses=losses,
        smoothed_losses=losses,
        suggestion=rates[8],
        method="steepest",
        suggestions={"steepest": rates[8], "minimum/10": rates[19] / 10},
        stopped_early=True,
        steps=30,
        start=1e-5,
        end=1.0,
    )

    figure = plot_lr_finder(result.to_dict() if as_dict else result)

    (ax,) = figure.axes
    assert ax.get_xscale() == "log"
    (marker,) = [line for line in ax.get_lines() if line.get_gid() == LR_SUGGESTION_GID]
    assert list(marker.get_xdata()) == [rates[8]]
    assert marker.get_ydata()[0] == pytest.approx(losses[8])
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any(text.startswith("steepest") for text in legend)
    assert any(text.startswith("minimum/10") for text in legend)
    assert figure.suggestion == rates[8]


def test_the_finder_decays_weights_as_the_stages_optimizer_does():
    data = types.SimpleNamespace(train=tiny_image_data().validation)  # unshuffled: runs repeat exactly
    losses = {}
    for decay in (None, None, 0.9):
        keras.utils.set_random_seed(0)
        model = _image_model()
        model.compile(weight_decay=decay)
        stage = Stage("none", optimizer="adamw")
        found = find_learning_rate(model, data, stage, start=1e-1, end=10.0, steps=8, divergence=1e9).losses
        assert decay not in losses or np.array_equal(losses[decay], found)  # the same run twice: the same losses
        losses[decay] = found
    # AdamW's own default decay (0.004) against the classifier's 0.9: the training loss differs from step 2 on.
    assert not np.allclose(losses[None], losses[0.9])
