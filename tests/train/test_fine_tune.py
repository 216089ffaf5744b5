import importlib

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.config.model_config import AugmentationConfig
from tfl.model import build_model
from tfl.train import TransferCheck
from tfl.train import apply_stage
from tfl.train import fine_tune
from tfl.train import fine_tune_stages
from tfl.train import stage_report
from tfl.train.plan import bit_epochs

fine_tune_module = importlib.import_module("tfl.train.fine_tune")  # the module, not the function


def _model(augmentation=None):
    return build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0,
                    augmentation=augmentation or AugmentationConfig()),
        ["dark", "bright"],
    )


def test_image_defaults_probe_then_everything_with_the_lowest_stage_100_times_slower():
    model = _model()
    data = tiny_image_data(n=24, batch_size=8)

    head, unfrozen = fine_tune_stages(model, data, epochs=4, pretrained=True)

    assert head == Stage("none", linear_probe=True)  # LP-FT: the features transfer
    assert (unfrozen.unfreeze, unfrozen.epochs, unfrozen.schedule) == ("all", 4, "one_cycle")
    assert unfrozen.learning_rate == pytest.approx(1e-3) and not unfrozen.train_batchnorm
    rows = stage_report(model, unfrozen, apply_stage(model, unfrozen)).rows
    rates = [row["learning_rate"] for row in rows]  # stem, stride8, stride16, stride32, head
    assert rates[-1] == pytest.approx(1e-3) and rates[0] == pytest.approx(1e-5)
    np.testing.assert_allclose(np.diff(np.log(rates)), np.log(100) / 4)  # geometric


def test_linear_probe_replaces_the_head_epochs_where_the_cache_is_valid():
    probe, _ = fine_tune_stages(_model(), tiny_image_data(), epochs=2, linear_probe=True, pretrained=True)
    head, _ = fine_tune_stages(_model(AugmentationConfig(flip="horizontal")), tiny_image_data(), epochs=2,
                               linear_probe=True, pretrained=True)

    assert probe == Stage("none", linear_probe=True)
    assert head == Stage("none", 1, 2e-3, schedule="one_cycle")  # augmented: no cache, no probe
    epochs, _ = fine_tune_stages(_model(), tiny_image_data(), epochs=2, linear_probe=False, pretrained=True)
    assert epochs == Stage("none", 1, 2e-3, schedule="one_cycle")  # fastai's head epochs, on request


def test_with_augmentation_the_frozen_stage_trains_the_head_on_a_one_cycle():
    model = _model(AugmentationConfig(flip="horizontal"))

    head, _ = fine_tune_stages(model, tiny_image_data(), epochs=2, freeze_epochs=3, base_lr=1e-2, pretrained=True)

    assert head == Stage("none", 3, 1e-2, schedule="one_cycle")


def test_epochs_follow_the_bit_hyper_rule_for_the_data_size():
    data = tiny_image_data(n=24, batch_size=8)  # 3 steps an epoch: 500 steps in 167 epochs

    _, unfrozen = fine_tune_stages(_model(), data, pretrained=True)

    assert unfrozen.epochs == 167 == bit_epochs(24, 3)
    assert bit_epochs(100_000, 1000) == 10 and bit_epochs(600_000, 1000) == 20


def test_random_weights_train_everything_with_batchnorm_in_one_stage():
    (stage,) = fine_tune_stages(_model(), tiny_image_data(), epochs=4, freeze_epochs=1, pretrained=False)

    assert stage == Stage("all", 5, 1e-3, train_batchnorm=True)


def test_text_defaults_are_lp_ft_at_the_bert_rate():
    model = build_model(ModelConfig(encoder="all_minilm_l6_v2", sequence_length=16), ["a", "b"], task="text")
    data = type("D", (), {"num_train": 10, "train": None})()

    stages = fine_tune_stages(model, data)

    assert stages == (Stage("none", linear_probe=True), Stage("all", 3, 5e-5, optimizer="adamw"))
    decayed = fine_tune_stages(model, data, lr_mult=10)[1]
    assert decayed.lr_decay == pytest.approx(10 ** (-1 / len(model.stage_layers())))


@pytest.mark.parametrize(
    "options, message",
    [({"epochs": 0}, "epochs=0"), ({"freeze_epochs": -1}, "freeze_epochs=-1"),
     ({"base_lr": 0}, "base_lr=0"), ({"lr_mult": 0.5}, "lr_mult=0.5")],
)
def test_bad_arguments_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        fine_tune_stages(_model(), tiny_image_data(), **options)


def test_fine_tune_runs_its_plan_and_records_it():
    keras.utils.set_random_seed(0)
    model = _model()
    data = tiny_image_data(n=24, batch_size=8)

    history = fine_tune(model, data, epochs=2, verbose=0, pretrained=True)

    assert [s.unfreeze for s in history.plan] == ["none", "all"]
    assert [r.unfreeze for r in history.stages] == ["none", "all"]
    assert len(history.history["val_accuracy"]) == 3
    assert history.to_dict()["plan"][1]["schedule"] == "one_cycle"


def test_explicit_stages_replace_the_defaults():
    stages = (Stage("top 1", 1, 1e-4),)

    history = fine_tune(_model(), tiny_image_data(n=8), stages=stages, verbose=0, feature_cache="off")

    assert history.plan == stages and [r.unfreeze for r in history.stages] == ["top 1"]


def _check(pretrained, random):
    """A check with these (log-loss, accuracy) pairs."""
    return TransferCheck(pretrained[0], random[0], pretrained[1], random[1], examples=24, folds=5)


@pytest.mark.parametrize("transfers", [True, False])
def test_by_default_the_transfer_check_chooses_the_plan(monkeypatch, transfers):
    check = _check((0.3, 0.9), (0.6, 0.7)) if transfers else _check((0.6, 0.7), (0.3, 0.9))
    monkeypatch.setattr(fine_tune_module, "transfer_check", lambda model, data: check)

    model = _model()
    pretrained, linear_probe, chosen = fine_tune_module.decide_pretrained(model, tiny_image_data())
    stages = fine_tune_stages(model, tiny_image_data(), epochs=4, pretrained=pretrained, linear_probe=linear_probe)

    assert chosen is check
    if transfers:  # fastai's plan: the head, then everything with discriminative rates
        assert [stage.unfreeze for stage in stages] == ["none", "all"] and stages[1].lr_decay is not None
    else:  # the weights are only a starting point: everything at one rate, BatchNorm trained
        assert stages == (Stage("all", 5, 1e-3, train_batchnorm=True),)


def test_pretrained_features_keep_the_benefit_of_the_doubt_unless_random_ones_win_on_both_scores():
    assert _check((0.05, 1.0), (0.01, 1.0)).features_transfer  # an easy task both solve
    assert _check((0.6, 0.7), (0.5, 0.7)).features_transfer  # equal accuracy
    assert not _check((0.6, 0.6), (0.5, 0.8)).features_transfer


def test_planning_an_image_model_needs_the_transfer_decision():
    with pytest.raises(ValueError, match=r"transfer_check\(model, data\).*Received: pretrained=None"):
        fine_tune_stages(_model(), tiny_image_data())


def test_a_model_of_image_and_text_branches_is_refused_before_anything_trains():
    from tests.train.helpers import tiny_image_text_fusion

    model, data = tiny_image_text_fusion()
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(ValueError, match=r"image and text branches \(task 'image_text'\).*stage_layers"):
        fine_tune(model, data, epochs=1)
    with pytest.raises(ValueError, match="image and text branches"):
        fine_tune_stages(model, data, pretrained=True)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights))
