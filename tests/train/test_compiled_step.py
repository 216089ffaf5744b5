"""A model trained again with the same kind of stage keeps its traced training
step, and trains exactly as after a fresh compile (`tfl.train.compiled_step`)."""

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.model import build_model
from tfl.train import fit_stages


def _model():
    keras.utils.set_random_seed(0)
    return build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.2), ["dark", "bright"])


def _data(n=24):
    data = tiny_image_data(n=n)
    data.train = data.validation  # the same batches in the same order in every run
    return data


def _count_traces(model):
    traces = []
    step = model.train_step

    def counted(data):
        traces.append(1)
        return step(data)

    model.train_step = counted
    return traces


def _values(model):
    return [keras.ops.convert_to_numpy(v).copy() for v in model.variables]


def _restore(model, values):
    for variable, value in zip(model.variables, values):
        variable.assign(value)


def _train_twice(first, second, first_data=None, second_data=None):
    """Trains a model with `first`, restores its initial variables (seeds
    included), trains it with `second`; returns the model, its initial
    variables, its variables after each run and the trace count."""
    model = _model()
    initial = _values(model)
    traces = _count_traces(model)
    fit_stages(model, first_data or _data(), [first], verbose=0)
    after_first = _values(model)
    _restore(model, initial)
    fit_stages(model, second_data or _data(), [second], verbose=0)
    return model, initial, after_first, _values(model), len(traces)


@pytest.mark.parametrize(
    "stage",
    [
        Stage("all", epochs=2, learning_rate=1e-3),
        Stage("top 1", epochs=2, learning_rate=1e-2, schedule="cosine", optimizer="adamw"),
        Stage("all", epochs=2, learning_rate=1e-3, train_batchnorm=True, lr_decay=0.5),
    ],
    ids=["all", "top1-cosine-adamw", "batchnorm-discriminative"],
)
def test_the_same_stage_again_keeps_the_trace_and_trains_as_a_fresh_compile(stage):
    model, _, after_first, after_second, traces = _train_twice(stage, stage)
    assert traces == 1
    # The first run compiled afresh: the second, on the kept step with its
    # optimizer reset, ends at the same weights, moving statistics and seeds.
    for first, second in zip(after_first, after_second):
        np.testing.assert_allclose(second, first, rtol=1e-5, atol=1e-6)
    assert int(model.optimizer.iterations) == 2 * 3  # this run's steps only: the state was fresh


def test_a_fresh_compile_and_the_kept_step_differ_only_by_the_trace():
    # The sentinel of the test above: without the reset, the second run would
    # continue the first one's Adam moments and step count, and end elsewhere.
    stage = Stage("all", epochs=2, learning_rate=1e-3)
    model = _model()
    initial = _values(model)
    fit_stages(model, _data(), [stage], verbose=0)
    after_first = _values(model)
    _restore(model, initial)
    keras.Model.fit(model, _data().train, epochs=2, verbose=0, shuffle=False)  # the compiled optimizer, not reset
    moved = [not np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(after_first, _values(model))]
    assert any(moved)


@pytest.mark.parametrize(
    "second",
    [
        Stage("all", epochs=2, learning_rate=3e-3),  # another rate
        Stage("top 1", epochs=2, learning_rate=1e-3),  # other variables train
        Stage("all", epochs=2, learning_rate=1e-3, optimizer="sgd"),  # another optimizer
        Stage("all", epochs=3, learning_rate=1e-3, schedule="cosine"),  # another schedule
        Stage("all", epochs=2, learning_rate=1e-3, train_batchnorm=True),  # BatchNorm's mode
    ],
    ids=["rate", "trainable", "optimizer", "schedule", "batchnorm"],
)
def test_another_stage_compiles_again(second):
    *_, traces = _train_twice(Stage("all", epochs=2, learning_rate=1e-3), second)
    assert traces == 2


def test_another_batchnorm_momentum_compiles_again():
    # BatchNorm's momentum follows the steps per epoch and is a constant of the trace.
    stage = Stage("all", epochs=1, learning_rate=1e-3, train_batchnorm=True)
    *_, traces = _train_twice(stage, stage, _data(24), _data(48))
    assert traces == 2


def test_a_compile_in_between_compiles_again():
    stage = Stage("all", epochs=1, learning_rate=1e-3)
    model = _model()
    traces = _count_traces(model)
    fit_stages(model, _data(), [stage], verbose=0)
    model.compile(keras.optimizers.Adam(1e-3))
    fit_stages(model, _data(), [stage], verbose=0)
    assert len(traces) == 2
    assert type(model.optimizer).__name__ == "Adam" and int(model.optimizer.iterations) == 3


def test_a_plan_with_a_checkpoint_compiles_every_time(tmp_path):
    from tfl.train import TrainingCheckpoint

    stage = Stage("all", epochs=1, learning_rate=1e-3)
    model = _model()
    traces = _count_traces(model)
    for run in ("a", "b"):
        checkpoint = TrainingCheckpoint(str(tmp_path / run), {"run": run})
        fit_stages(model, _data(), [stage], verbose=0, checkpoint=checkpoint)
    assert len(traces) == 2
