"""`TrainingCheckpoint` with `fit_stages`: a run stopped midway continues
where it stopped (the subprocess kill test is in tests/cli/test_resume.py)."""

import dataclasses
import json
import os
import shutil
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import Interrupted
from tests.train.helpers import StopAfter
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data.order import shuffle_each_epoch
from tfl.model import build_model
from tfl.train import CheckpointMismatchError
from tfl.train import TrainingCheckpoint
from tfl.train import fit_stages

STAGES = (
    Stage("none", epochs=1, learning_rate=1e-3),
    Stage("all", epochs=2, learning_rate=1e-3, schedule="one_cycle", train_batchnorm=True),
)


def _model():
    keras.utils.set_random_seed(1)
    # What is checked here does not depend on the network (tests/small_backbone.py).
    return build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.2), ["dark", "bright"]
    )


def _run(data, folder, callbacks=(), model=None):
    model = model or _model()
    checkpoint = TrainingCheckpoint(folder, {"run": "tiny"})
    history = fit_stages(model, data, STAGES, verbose=0, feature_cache="off", checkpoint=checkpoint,
                         callbacks=list(callbacks))
    return model, history


def _shuffled_by_epoch(data):
    """Training batches in tfl's order: drawn from the seed and the epoch."""
    pairs = tf.data.Dataset.from_tensor_slices(({"images": data.images}, data.labels.astype("int32")))
    data.train = shuffle_each_epoch(pairs, len(data.labels), seed=3).batch(4)
    return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted run, and one stopped after epoch 1 of stage 2 and resumed
    (its checkpoint as it was at the stop is kept in `stopped`)."""
    folder = tmp_path_factory.mktemp("runs")
    data = _shuffled_by_epoch(tiny_image_data(n=16))
    reference, reference_history = _run(data, folder / "reference")
    with pytest.raises(Interrupted):
        _run(data, folder / "resumed", callbacks=[StopAfter(2)])  # global epochs 0-1 done
    shutil.copytree(folder / "resumed", folder / "stopped")
    resumed, resumed_history = _run(data, folder / "resumed")  # a fresh model, as a new process would build
    return types.SimpleNamespace(
        data=data, folder=folder, reference=reference, reference_history=reference_history,
        resumed=resumed, resumed_history=resumed_history,
    )


def test_a_run_stopped_midway_in_a_stage_saved_that_stage_and_its_epoch(runs):
    state = json.loads((runs.folder / "stopped" / "state.json").read_text())
    assert (state["point"]["stage"], state["point"]["stage_epochs"], state["point"]["epoch"]) == (1, 1, 2)
    assert len(state["point"]["history"]["loss"]) == 1
    assert state["point"]["optimizer_variables"] > 0


def test_a_run_stopped_midway_in_a_stage_continues_and_ends_as_an_uninterrupted_run(runs):
    resumed, reference = runs.resumed, runs.reference
    assert int(resumed.optimizer.iterations.numpy()) == int(reference.optimizer.iterations.numpy())
    assert float(resumed.optimizer.learning_rate) == pytest.approx(float(reference.optimizer.learning_rate))
    for mine, theirs in zip(resumed.variables, reference.variables, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6, err_msg=mine.path)
    assert runs.resumed_history.boundaries == runs.reference_history.boundaries == [0, 1]
    for key in ("loss", "val_accuracy"):
        np.testing.assert_allclose(runs.resumed_history.history[key], runs.reference_history.history[key], rtol=1e-5)
    assert len(runs.resumed_history.history["loss"]) == 3


def test_each_save_leaves_one_complete_weights_file_named_by_the_state(runs):
    folder = runs.folder / "reference"
    state = json.loads((folder / "state.json").read_text())
    assert sorted(os.listdir(folder)) == sorted(["state.json", state["point"]["weights"]])
    assert state["point"]["stage"] == len(STAGES)  # every stage finished
    with np.load(folder / state["point"]["weights"], allow_pickle=False) as saved:
        assert len(saved.files) == len(state["point"]["variable_paths"]) == len(runs.reference.variables)


def test_a_finished_checkpoint_restores_the_final_model_and_skips_every_stage(runs):
    model, history = _run(runs.data, runs.folder / "reference", callbacks=[StopAfter(0), StopAfter(1)])
    assert [record.index for record in history.stages] == [0, 1]
    for mine, theirs in zip(model.weights, runs.reference.weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_a_checkpoint_of_another_config_is_refused_with_the_differing_keys(runs):
    other = TrainingCheckpoint(runs.folder / "reference", {"run": "other"})
    with pytest.raises(CheckpointMismatchError, match=r"another config \(differs in: run\).*--no-resume"):
        fit_stages(_model(), runs.data, STAGES, verbose=0, checkpoint=other)


def test_a_checkpoint_of_another_plan_is_refused(runs):
    checkpoint = TrainingCheckpoint(runs.folder / "stopped", {"run": "tiny"})
    plan = (Stage("top 1", epochs=2), STAGES[1])
    with pytest.raises(ValueError, match=r"saved by another plan.*\['none'\].*\['top 1', 'all'\]"):
        fit_stages(_model(), runs.data, plan, verbose=0, feature_cache="off", checkpoint=checkpoint)


@pytest.mark.parametrize(
    "plan, message",
    [
        ((dataclasses.replace(STAGES[0], learning_rate=1e-2), STAGES[1]),
         r"stage 1 \(finished\) differs in learning_rate 0.001 then, 0.01 now"),
        ((STAGES[0], dataclasses.replace(STAGES[1], epochs=5)), r"stage 2 \(in progress\) differs in epochs 2 then, 5 now"),
    ],
    ids=["finished-stage-rate", "stage-in-progress-epochs"],
)
def test_a_checkpoint_of_the_same_stage_names_with_other_settings_is_refused(runs, plan, message):
    checkpoint = TrainingCheckpoint(runs.folder / "stopped", {"run": "tiny"})
    with pytest.raises(ValueError, match=rf"saved by another plan: {message}.*--no-resume"):
        fit_stages(_model(), runs.data, plan, verbose=0, feature_cache="off", checkpoint=checkpoint)


def test_a_plan_with_a_stage_added_after_the_one_in_progress_resumes(runs, tmp_path):
    shutil.copytree(runs.folder / "stopped", tmp_path / "stopped")
    checkpoint = TrainingCheckpoint(tmp_path / "stopped", {"run": "tiny"})
    history = fit_stages(_model(), runs.data, (*STAGES, Stage("none", epochs=1)), verbose=0, feature_cache="off",
                         checkpoint=checkpoint)
    assert [record.index for record in history.stages] == [0, 1, 2]


def test_a_head_stage_on_cached_features_resumed_midway_reads_the_features_of_the_saved_backbone(tmp_path):
    """The stage in progress computes its cached features before it fits: from the
    saved backbone (trained by stage 1), not from the freshly built one."""
    stages = (Stage("all", epochs=1, learning_rate=1e-2), Stage("none", epochs=3, learning_rate=1e-2))
    data = _shuffled_by_epoch(tiny_image_data(n=16))

    def run(folder, callbacks=()):
        model = _model()
        checkpoint = TrainingCheckpoint(folder, {"run": "cached"})
        history = fit_stages(model, data, stages, verbose=0, checkpoint=checkpoint, callbacks=list(callbacks))
        return model, history

    reference, reference_history = run(tmp_path / "reference")
    with pytest.raises(Interrupted):
        run(tmp_path / "resumed", callbacks=[StopAfter(2)])  # stage 2 stopped after its first epoch
    resumed, resumed_history = run(tmp_path / "resumed")
    assert resumed_history.stages[1].feature_cache.startswith("on")
    np.testing.assert_allclose(resumed_history.history["loss"], reference_history.history["loss"], rtol=1e-5)
    for mine, theirs in zip(resumed.weights, reference.weights, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6, err_msg=mine.path)
