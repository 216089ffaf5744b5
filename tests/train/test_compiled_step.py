"""A model trained again with the same kind of stage keeps its traced training
step, and trains exactly as after a fresh compile (`tfl.train.compiled_step`)."""

import dataclasses
import types

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import count_traces
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.model import build_model
from tfl.model import prebuild_optimizer
from tfl.train import apply_stage
from tfl.train import fit_stages
from tfl.train.compiled_step import compile_stage
from tfl.train.optimizers import make_optimizer


def _model():
    keras.utils.set_random_seed(0)
    return build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.2), ["dark", "bright"])


def _data():
    data = tiny_image_data()
    data.train = data.validation  # the same batches in the same order in every run
    return data


def _values(model):
    return [keras.ops.convert_to_numpy(v).copy() for v in model.variables]


def _restore(model, values):
    for variable, value in zip(model.variables, values):
        variable.assign(value)


def _train_twice(stage):
    """Trains a model with `stage`, restores its initial variables (seeds
    included), trains it with `stage` again; returns the model, its variables
    after each run and the trace count."""
    model = _model()
    initial = _values(model)
    traces = count_traces(model)
    fit_stages(model, _data(), [stage], verbose=0)
    after_first = _values(model)
    _restore(model, initial)
    fit_stages(model, _data(), [stage], verbose=0)
    return model, after_first, _values(model), len(traces)


@pytest.mark.parametrize(
    "stage",
    [
        Stage("top 1", epochs=2, learning_rate=1e-2, schedule="cosine", optimizer="adamw"),
        Stage("all", epochs=2, learning_rate=1e-3, train_batchnorm=True, lr_decay=0.5),
    ],
    ids=["top1-cosine-adamw", "batchnorm-discriminative"],
)
def test_the_same_stage_again_keeps_the_trace_and_trains_as_a_fresh_compile(stage):
    model, after_first, after_second, traces = _train_twice(stage)
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


@pytest.fixture(scope="module")
def compiled():
    """A model compiled for `BASE`, its optimizer built (as after a `fit`);
    `compile_again(stage)` says whether `stage` would compile it again."""
    model = _model()

    def start(stage, momentum=None):
        plan = apply_stage(model, stage)
        for layer in plan.batchnorm_layers:
            layer.momentum = momentum or layer.momentum
        calls = []

        def compile_model(optimizer):
            calls.append(optimizer)
            model.recompile(optimizer)
            prebuild_optimizer(model)

        compile_stage(model, make_optimizer(stage, 3, plan.lr_multipliers), compile_model)
        return bool(calls)

    def compile_again(stage, momentum=None):
        start(BASE)
        assert not start(BASE)  # the same stage keeps the compile
        return start(stage, momentum)

    return types.SimpleNamespace(model=model, start=start, compile_again=compile_again)


BASE = Stage("all", epochs=2, learning_rate=1e-3, train_batchnorm=True)


@pytest.mark.parametrize(
    "second",
    [
        dataclasses.replace(BASE, learning_rate=3e-3),
        dataclasses.replace(BASE, unfreeze="top 1"),  # other variables train
        dataclasses.replace(BASE, optimizer="sgd"),
        dataclasses.replace(BASE, optimizer="adamw"),  # the same variables, other options
        dataclasses.replace(BASE, schedule="cosine"),
        dataclasses.replace(BASE, schedule="cosine", epochs=3),  # the schedule's length
        dataclasses.replace(BASE, lr_decay=0.5),  # discriminative rates
        dataclasses.replace(BASE, train_batchnorm=False),  # BatchNorm's mode
    ],
    ids=["rate", "trainable", "sgd", "adamw", "schedule", "schedule-steps", "discriminative", "batchnorm-mode"],
)
def test_another_stage_compiles_again(compiled, second):
    assert compiled.compile_again(second)


def test_another_batchnorm_momentum_compiles_again(compiled):
    # BatchNorm's momentum follows the steps per epoch and is a constant of the trace.
    assert compiled.compile_again(BASE, momentum=0.5)


def test_a_compile_elsewhere_in_between_compiles_again(compiled):
    compiled.start(BASE)
    compiled.model.compile(keras.optimizers.Adam(1e-3))
    assert compiled.start(BASE)


def test_other_training_options_compile_again(compiled):
    compiled.start(BASE)
    compiled.model.compile(keras.optimizers.Adam(1e-3), label_smoothing=0.1)
    try:
        assert compiled.start(BASE)
        assert not compiled.start(BASE)
        compiled.model.compile(keras.optimizers.Adam(1e-3))  # the options back
        assert compiled.start(BASE)
    finally:
        compiled.model.compile(keras.optimizers.Adam(1e-3))


def test_a_plan_with_a_checkpoint_compiles_every_time(tmp_path):
    from tfl.train import TrainingCheckpoint

    stage = Stage("all", epochs=1, learning_rate=1e-3)
    model = _model()
    traces = count_traces(model)
    for run in ("a", "b"):
        checkpoint = TrainingCheckpoint(str(tmp_path / run), {"run": run})
        fit_stages(model, _data(), [stage], verbose=0, checkpoint=checkpoint)
    assert len(traces) == 2
