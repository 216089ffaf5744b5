import types

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.model import batchnorm_layers
from tfl.model import build_model
from tfl.train import apply_stage
from tfl.train import fit_stages
from tfl.train.stage_report import stage_report


@pytest.fixture(scope="module")
def model():
    return build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b"])


def _size(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


@pytest.mark.parametrize(
    "stage",
    [Stage("none"), Stage("top 2", lr_decay=0.5), Stage("stride8+stride32"), Stage("all", train_batchnorm=True)],
    ids=["head", "top2_decay", "named", "all_with_batchnorm"],
)
def test_the_report_matches_what_keras_will_train(model, stage):
    plan = apply_stage(model, stage)

    report = stage_report(model, stage, plan)

    assert report.trainable_params == _size(model.trainable_weights) == plan.trainable_params
    rows = {row["part"]: row for row in report.rows}
    for name, layers in model.stage_layers().items():
        trainable = {id(w): w for layer in layers for w in layer.trainable_weights}
        assert rows[name]["trainable_params"] == _size(trainable.values()), name
        assert (rows[name]["status"] == "trainable") == bool(trainable), name
    assert rows["head"]["trainable_params"] == _size(model.head.trainable_weights)
    assert report.rows[-1]["part"] == "head" and not report.warnings


def test_rates_and_batchnorm_modes_per_stage(model):
    stage = Stage("top 2", learning_rate=1e-3, lr_decay=0.1)
    rows = {r["part"]: r for r in stage_report(model, stage, apply_stage(model, stage)).rows}

    assert rows["head"]["learning_rate"] == pytest.approx(1e-3)
    assert rows["stride32"]["learning_rate"] == pytest.approx(1e-4)
    assert rows["stride16"]["learning_rate"] == pytest.approx(1e-5)
    assert rows["stride8"]["learning_rate"] is None and rows["stride8"]["status"] == "frozen"
    assert {rows[n]["batchnorm"] for n in ("stem", "stride8", "stride16", "stride32")} == {"inference"}
    assert rows["head"]["batchnorm"] == "none"

    stage = Stage("top 1", train_batchnorm=True)
    rows = {r["part"]: r for r in stage_report(model, stage, apply_stage(model, stage)).rows}
    assert rows["stride32"]["batchnorm"] == "training" and rows["stride16"]["batchnorm"] == "inference"


def test_every_backbone_stage_without_saying_all_is_warned(model):
    stage = Stage("top 4")

    report = stage_report(model, stage, apply_stage(model, stage))

    assert len(report.warnings) == 1 and "selects every backbone stage" in report.warnings[0]
    assert "WARNING: unfreeze='top 4' selects every backbone stage" in report.format()


def test_a_stage_with_nothing_to_train_is_warned():
    # A backbone whose "norm" stage holds only a BatchNorm layer, frozen unless train_batchnorm.
    norm = keras.layers.BatchNormalization()
    dense = keras.layers.Dense(2)
    norm.build((None, 3))
    dense.build((None, 3))
    head = keras.layers.Dense(2)
    head.build((None, 2))
    fake = types.SimpleNamespace(
        stage_layers=lambda: {"dense": [dense], "norm": [norm]},
        head_layers=lambda: [head],
        backbone=types.SimpleNamespace(layers=[dense, norm]),
        prototype_head=False,
    )
    norm.trainable = False
    plan = types.SimpleNamespace(batchnorm_layers=(), lr_multipliers={})

    report = stage_report(fake, Stage("norm"), plan)

    assert "selects norm, which has no weight to train" in report.warnings[0]
    assert {r["part"]: r["batchnorm"] for r in report.rows} == {"dense": "none", "norm": "inference", "head": "none"}


def test_fit_stages_prints_each_report_and_keeps_it_in_the_history(capsys):
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["dark", "bright"])
    stages = [Stage("none", epochs=1), Stage("top 1", epochs=1, learning_rate=1e-4)]

    history = fit_stages(model, tiny_image_data(n=8), stages, feature_cache="off", verbose=2)

    printed = capsys.readouterr().out
    assert "Stage 1/2: unfreeze='none'" in printed and "Stage 2/2: unfreeze='top 1'" in printed
    assert "part      status     params" in printed
    second = history.stages[1].report
    assert second["index"] == 1 and second["trainable_params"] == history.stages[1].trainable_params
    assert [r["status"] for r in second["rows"]] == ["frozen"] * 3 + ["trainable"] * 2
    assert history.to_dict()["stages"][1]["report"] == second
    assert all(layer.trainable is False for layer in batchnorm_layers(model.backbone))
