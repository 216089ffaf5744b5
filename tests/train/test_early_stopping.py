"""Early stopping per stage: each stage ends on its own best epoch's weights."""

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import Interrupted
from tests.train.helpers import StopAfter
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.config import parse_stages
from tfl.model import build_model
from tfl.train import TrainingCheckpoint
from tfl.train import fit_stages


class Snapshots(keras.callbacks.Callback):
    """The fitted model's weights and `val_loss` after every epoch, by global epoch."""

    def __init__(self):
        super().__init__()
        self.weights, self.val_loss = {}, {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = self.model.get_weights()
        self.val_loss[epoch] = logs["val_loss"]


def _model():
    keras.utils.set_random_seed(2)
    return build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0), ["dark", "bright"]
    )


def _same(weights, expected):
    return len(weights) == len(expected) and all(np.array_equal(a, b) for a, b in zip(weights, expected))


class Spoil(keras.callbacks.Callback):
    """Adds large noise to the head at the start of the given global epochs, so
    those epochs end with a high `val_loss` (never a stage's best)."""

    def __init__(self, classifier, epochs):
        super().__init__()
        self.classifier, self.epochs = classifier, set(epochs)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch in self.epochs:
            rng = np.random.RandomState(epoch)
            self.classifier.head.set_weights(
                [w + rng.normal(0, 100, w.shape).astype(w.dtype) for w in self.classifier.head.get_weights()]
            )


@pytest.fixture(scope="module")
def two_stages():
    """Two stages whose last epochs are spoiled; neither stops early."""
    data = tiny_image_data(n=16)
    model = _model()
    snapshots = Snapshots()
    stages = [
        Stage("all", epochs=2, learning_rate=1e-3, early_stopping=10),
        Stage("top 1", epochs=3, learning_rate=1e-3, early_stopping=10),
    ]
    callbacks = [Spoil(model, epochs=[1, 4]), snapshots]
    history = fit_stages(model, data, stages, verbose=0, feature_cache="off", callbacks=callbacks)
    return model, history, snapshots


def test_each_stage_restores_its_own_best_epoch_without_stopping(two_stages):
    model, history, snapshots = two_stages
    first, second = history.stages
    assert (first.epochs, second.epochs, history.boundaries) == (2, 3, [0, 2])
    for record, epochs in ((first, [0, 1]), (second, [2, 3, 4])):
        best = min(epochs, key=snapshots.val_loss.get)
        assert best != epochs[-1]  # the spoiled last epoch: the weights must be set back
        assert record.early_stopping["best_epoch"] == best
        assert record.early_stopping["stopped_epoch"] is None
        assert record.early_stopping["best_val_loss"] == pytest.approx(snapshots.val_loss[best])
    # The second stage ends on its own best, not on the first stage's (keras#13488, #12511).
    assert _same(model.get_weights(), snapshots.weights[second.early_stopping["best_epoch"]])


def test_the_second_stage_starts_from_the_first_stages_best(two_stages):
    _, history, snapshots = two_stages
    first, second = history.stages
    # The first epoch of stage 2 trained on top of stage 1's best epoch, not its spoiled last one:
    # a spoiled start would leave the head's noise in epoch 2's val_loss.
    assert snapshots.val_loss[2] < snapshots.val_loss[1]
    assert first.early_stopping["best_epoch"] == 0


def test_a_stage_stops_after_patience_and_the_next_starts_after_the_epochs_that_ran(tmp_path):
    data = tiny_image_data(n=16)
    snapshots = Snapshots()
    stages = [
        Stage("all", epochs=8, learning_rate=1e-3, early_stopping=1),
        Stage("none", epochs=1, learning_rate=1e-3),
    ]
    checkpoint = TrainingCheckpoint(tmp_path / "checkpoint", {"run": "early"})
    model = _model()
    # Epoch 3 starts from a spoiled head, so its val_loss is worse than every earlier one's.
    history = fit_stages(model, data, stages, verbose=0, feature_cache="off", callbacks=[Spoil(model, [3]), snapshots],
                         checkpoint=checkpoint)
    first, second = history.stages
    losses = first.history["val_loss"]
    best = int(np.argmin(losses))
    assert len(losses) == first.epochs == best + 2 <= 4  # stopped one epoch after its best
    assert first.early_stopping["stopped_epoch"] == first.epochs - 1
    assert first.early_stopping["best_epoch"] == best
    assert history.boundaries == [0, first.epochs] and history.epoch_stages == [0] * first.epochs + [1]
    point = checkpoint.load()  # the stopped stage counted as finished
    assert (point.stage, point.epoch) == (2, first.epochs + 1)


def test_the_stopped_stage_of_a_checkpoint_counts_as_finished(tmp_path):
    data = tiny_image_data(n=16)
    stages = [Stage("all", epochs=8, learning_rate=0.5, optimizer="sgd", early_stopping=1)]
    folder = tmp_path / "checkpoint"
    first = fit_stages(_model(), data, stages, verbose=0, feature_cache="off",
                       checkpoint=TrainingCheckpoint(folder, {"run": "early"}))
    again = fit_stages(_model(), data, stages, verbose=0, feature_cache="off",
                       checkpoint=TrainingCheckpoint(folder, {"run": "early"}))
    assert again.stages[0].epochs == first.stages[0].epochs
    assert again.stages[0].early_stopping == first.stages[0].early_stopping


def test_a_stage_resumed_midway_keeps_its_patience_count_and_ends_on_the_best_saved_epoch(tmp_path):
    data = tiny_image_data(n=16)
    stages = [Stage("all", epochs=8, learning_rate=1e-3, early_stopping=2)]
    folder = tmp_path / "checkpoint"
    before = Snapshots()
    with pytest.raises(Interrupted):
        fit_stages(_model(), data, stages, verbose=0, feature_cache="off", callbacks=[before, StopAfter(2)],
                   checkpoint=TrainingCheckpoint(folder, {"run": "early"}))
    model = _model()  # a new process's model; epochs 0 and 1 come from the checkpoint
    history = fit_stages(model, data, stages, verbose=0, feature_cache="off",
                         callbacks=[Spoil(model, epochs=range(2, 8))],
                         checkpoint=TrainingCheckpoint(folder, {"run": "early"}))
    record = history.stages[0]
    losses = record.history["val_loss"]
    assert losses[:2] == pytest.approx([before.val_loss[0], before.val_loss[1]])
    assert record.epochs == len(losses) == int(np.argmin(losses)) + 3 < 8  # the count went on across the resume
    # Epoch 1's weights are the best that were saved (epoch 0's were not): the stage ends on them.
    assert record.early_stopping["best_epoch"] == 1
    assert _same(model.get_weights(), before.weights[1])


def test_a_head_stage_on_cached_features_restores_its_best_head():
    data = tiny_image_data(n=16)
    model = _model()
    snapshots = Snapshots()
    stage = Stage("none", epochs=4, learning_rate=5.0, optimizer="sgd", early_stopping=10)
    history = fit_stages(model, data, [stage], verbose=0, callbacks=[snapshots])
    record = history.stages[0]
    assert record.feature_cache.startswith("on")
    best = record.early_stopping["best_epoch"]
    assert best == min(snapshots.val_loss, key=snapshots.val_loss.get)
    assert _same(model.head_model().get_weights(), snapshots.weights[best])


def test_early_stopping_without_validation_data_is_refused():
    data = tiny_image_data(n=8)
    data.validation = None
    with pytest.raises(ValueError, match="needs validation data.*early_stopping=2"):
        fit_stages(_model(), data, [Stage("all", epochs=2, early_stopping=2)], verbose=0)


def test_a_later_stage_that_stops_early_without_validation_data_is_refused_before_the_first_trains():
    data = tiny_image_data(n=8)
    data.validation = None
    model = _model()
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(ValueError, match="Stage 2 stops early.*needs validation data"):
        fit_stages(model, data, [Stage("none", epochs=1, learning_rate=1e-2), Stage("all", epochs=2, early_stopping=2)],
                   verbose=0)
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, model.get_weights()))  # nothing trained


@pytest.mark.parametrize(
    "kwargs, match",
    [
        pytest.param({"early_stopping": 0}, "whole number >= 1", id="zero"),
        pytest.param({"early_stopping": True}, "whole number >= 1", id="bool"),
        pytest.param({"unfreeze": "probe", "early_stopping": 2}, "linear probe", id="probe"),
    ],
)
def test_bad_early_stopping_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Stage(**kwargs)


def test_plan_strings_leave_early_stopping_off():
    assert all(stage.early_stopping is None for stage in parse_stages("probe,top2:3:1e-4"))
