import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tests.train.helpers import tiny_image_text_fusion
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.model import batchnorm_layers
from tfl.model import build_model
from tfl.train import fit_stages
from tfl.train import recalibrate_batchnorm
from tfl.train.batchnorm import batchnorm_check


def _statistics(model):
    return [(layer.moving_mean.numpy().copy(), layer.moving_variance.numpy().copy())
            for layer in batchnorm_layers(model.backbone)]


@pytest.fixture(scope="module")
def trained():
    """A MobileNetV3Small trained from scratch on bright vs dark images."""
    data = tiny_image_data(n=32, batch_size=8)
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0),
                        data.class_names)
    fit_stages(model, data, [Stage("all", epochs=6, learning_rate=1e-3, train_batchnorm=True)],
               feature_cache="off", verbose=0)
    return model, data


def test_stale_statistics_are_flagged_and_recalibration_clears_them(trained):
    model, data = trained
    layers = batchnorm_layers(model.backbone)
    for layer in layers:  # statistics from some other data
        layer.moving_mean.assign(layer.moving_mean.numpy() + 5.0)
        layer.moving_variance.assign(layer.moving_variance.numpy() * 0.01)
    before = _statistics(model)
    flags = [layer.trainable for layer in layers]

    stale = batchnorm_check(model, data.train)

    assert stale["stale"] and stale["examples"] == 32
    assert stale["training_mode_accuracy"] - stale["inference_accuracy"] >= 0.2
    # The check changes nothing: statistics and trainable flags as they were.
    for (mean, var), (mean0, var0) in zip(_statistics(model), before):
        np.testing.assert_array_equal(mean, mean0)
        np.testing.assert_array_equal(var, var0)
    assert [layer.trainable for layer in layers] == flags

    recalibrate_batchnorm(model, data.train, layers)
    fresh = batchnorm_check(model, data.train)

    assert not fresh["stale"]
    assert fresh["inference_accuracy"] >= fresh["training_mode_accuracy"] - 0.1


def test_a_text_model_has_no_batchnorm_to_check():
    from tests.text_fakes import tiny_encoder
    from tfl.model import TextClassifier

    encoder, preprocessor = tiny_encoder()
    model = TextClassifier(encoder, preprocessor, ["bad", "good"], encoder_name="tiny")

    assert batchnorm_check(model, []) is None


def test_fit_stages_warns_about_stale_statistics(trained, caplog):
    model, data = trained
    for layer in batchnorm_layers(model.backbone)[:4]:  # early layers only: the loss stays finite
        layer.moving_mean.assign(layer.moving_mean.numpy() + 3.0)

    # A stage that trains the top with BatchNorm frozen leaves the bad statistics in place.
    history = fit_stages(model, data, [Stage("top 1", epochs=1, learning_rate=1e-5)], feature_cache="off", verbose=0)

    check = history.stages[0].batchnorm_check
    assert check["stale"], check
    assert "recalibrate_batchnorm=True" in caplog.text
    assert history.to_dict()["stages"][0]["batchnorm_check"] == check

    # The stage option recomputes every backbone BatchNorm layer, frozen ones included.
    history = fit_stages(model, data, [Stage("top 1", epochs=1, learning_rate=1e-5, recalibrate_batchnorm=True)],
                         feature_cache="off", verbose=0)

    assert not history.stages[0].batchnorm_check["stale"]
    assert history.stages[0].after_recalibration is not None


def test_recalibrate_batchnorm_false_keeps_the_statistics_fit_left():
    data = tiny_image_data(n=16, batch_size=8)
    runs = {}
    for option in (None, False):
        model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), data.class_names)
        model.set_weights(runs["weights"]) if "weights" in runs else runs.setdefault("weights", model.get_weights())
        history = fit_stages(model, data, [Stage("all", epochs=1, train_batchnorm=True, recalibrate_batchnorm=option)],
                             feature_cache="off", verbose=0)
        runs[option] = (_statistics(model), history.stages[0].after_recalibration)

    assert runs[None][1] is not None and runs[False][1] is None
    assert any(not np.allclose(a[0], b[0]) for a, b in zip(runs[None][0], runs[False][0]))


def test_a_bad_recalibrate_value_is_named():
    with pytest.raises(ValueError, match="recalibrate_batchnorm='yes'"):
        Stage(recalibrate_batchnorm="yes")


def test_a_fusion_models_image_branch_is_not_checked_but_is_recalibrated_on_request():
    """The check reads one image backbone's pooled features into the head; a fusion
    model's head reads every branch, so it has no such path and is not checked. Its
    image branch's BatchNorm statistics are still recomputed when a stage asks."""
    model, data = tiny_image_text_fusion()
    layers = batchnorm_layers(model.backbone)
    assert layers and all(layer in model.backbones["image"].layers for layer in layers)
    assert batchnorm_check(model, data.train) is None
    before = _statistics(model)
    top = sorted(name for name in model.stage_layers() if name.startswith("image/"))[-1]

    history = fit_stages(model, data, [Stage(top, epochs=1, learning_rate=1e-3, recalibrate_batchnorm=True)],
                         verbose=0)

    assert history.stages[0].batchnorm_check is None
    changed = [not np.array_equal(mean, mean0) for (mean, _), (mean0, _) in zip(_statistics(model), before)]
    assert all(changed), changed  # every layer, the frozen stages' included
