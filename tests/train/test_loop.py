import dataclasses

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.config import parse_stages
from tfl.model import batchnorm_layers
from tfl.model import build_model
from tfl.train import default_stages
from tfl.train import fit_stages
from tfl.train import recalibrate_batchnorm


def _snapshot(layers):
    return {w.path: np.array(w.numpy()) for layer in layers for w in layer.weights}


def _changed(before, after):
    return {path for path in before if not np.array_equal(before[path], after[path])}


@pytest.fixture
def model():
    return build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0), ["dark", "bright"]
    )


def test_frozen_stage_leaves_backbone_and_batchnorm_statistics_bit_identical(model):
    data = tiny_image_data()
    before = _snapshot(model.backbone.layers)
    head_before = _snapshot([model.head])

    fit_stages(model, data, [Stage(unfreeze="none", epochs=2, learning_rate=1e-2)], verbose=0)

    assert _changed(before, _snapshot(model.backbone.layers)) == set()
    assert _changed(head_before, _snapshot([model.head])) == set(head_before)


def test_unfreezing_stage_changes_only_the_named_stage(model):
    data = tiny_image_data()
    stages = model.stage_layers()
    before = _snapshot(model.backbone.layers)

    fit_stages(model, data, [Stage(unfreeze="stride32", epochs=1, learning_rate=1e-2)], verbose=0)

    changed = _changed(before, _snapshot(model.backbone.layers))
    stride32 = _snapshot(stages["stride32"])
    bn = _snapshot(batchnorm_layers(model))
    trainable_in_stride32 = {p for p in stride32 if p not in bn}
    assert changed <= trainable_in_stride32  # nothing outside stride32, no BatchNorm weight
    assert trainable_in_stride32 - changed == set()  # and everything else in stride32 trained
    assert not changed & set(bn)


def test_stages_continue_the_epoch_count_in_one_history(model):
    data = tiny_image_data()
    history = fit_stages(
        model,
        data,
        [Stage(unfreeze="none", epochs=2, learning_rate=1e-3), Stage(unfreeze="top 1", epochs=3, learning_rate=1e-4)],
        verbose=0,
    )
    assert history.boundaries == [0, 2]
    assert history.epoch_stages == [0, 0, 1, 1, 1]
    assert len(history.history["loss"]) == len(history.history["val_accuracy"]) == 5
    assert history.stages[1].trainable_stages == ["stride32"]
    assert history.stages[0].trainable_params < history.stages[1].trainable_params


def test_default_plan_for_random_weights_trains_everything_with_batchnorm():
    (stage,) = default_stages(None, epochs=3)
    assert stage.unfreeze == "all" and stage.train_batchnorm and stage.epochs == 3


def test_default_plan_for_pretrained_weights_is_head_then_top_two():
    head, top = default_stages("imagenet", epochs=4)
    assert (head.unfreeze, top.unfreeze) == ("none", "top 2")
    assert top.learning_rate < head.learning_rate and not top.train_batchnorm


def test_recalibration_sets_statistics_to_the_inputs_population_moments(model):
    data = tiny_image_data(n=20, batch_size=6)
    first_bn = batchnorm_layers(model)[0]
    probe = keras.Model(model.backbone.input, first_bn.input)  # no BatchNorm before the first one
    inputs = probe(model.backbone_input_model()({"images": data.images})).numpy()

    recalibrate_batchnorm(model, data.train, [first_bn])

    np.testing.assert_allclose(first_bn.moving_mean.numpy(), inputs.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first_bn.moving_variance.numpy(), inputs.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)


def test_stage_training_batchnorm_ends_with_recalibrated_statistics_and_its_validation(model):
    data = tiny_image_data()
    history = fit_stages(model, data, [Stage(unfreeze="all", epochs=1, train_batchnorm=True)], verbose=0)
    record = history.stages[0]
    assert record.after_recalibration is not None and "accuracy" in record.after_recalibration
    moving = batchnorm_layers(model)[0].moving_variance.numpy()
    assert not np.allclose(moving, 1.0)  # no longer the initial statistics
    assert all(layer.momentum in (0.99, 0.999) for layer in batchnorm_layers(model))  # restored


@pytest.mark.parametrize("stage", ["none:1:1e-2", "probe"], ids=["cached_head", "linear_probe"])
def test_a_first_head_stage_that_recalibrates_batchnorm_reports_its_validation(model, stage):
    """AdaBN (`recalibrate_batchnorm=True`) after a stage on cached features, on a
    model nothing compiled yet: the statistics are recomputed and scored."""
    data = tiny_image_data()
    (stage,) = parse_stages(stage)
    stage = dataclasses.replace(stage, recalibrate_batchnorm=True)
    layer = batchnorm_layers(model)[0]
    before = layer.moving_mean.numpy().copy()

    history = fit_stages(model, data, [stage], verbose=0)

    assert not np.allclose(layer.moving_mean.numpy(), before)  # recomputed over the training data
    after = history.stages[0].after_recalibration
    expected = model.evaluate(data.validation, verbose=0, return_dict=True)
    assert after["accuracy"] == pytest.approx(expected["accuracy"])
    assert after["loss"] == pytest.approx(expected["loss"], rel=1e-5)


# Pins of Keras 3 behaviour that tfl works around (TRAPS.md). If one fails, Keras
# changed: re-check `apply_stage` and the stage loop.


def _nested(trainable_bn):
    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, keras.layers.BatchNormalization(name="bn")(inner_in))
    inner.get_layer("bn").trainable = trainable_bn
    outer_in = keras.Input((4,))
    model = keras.Model(outer_in, keras.layers.Dense(1)(inner(outer_in, training=False)))
    return model, inner.get_layer("bn")


def test_keras_fit_overrides_training_false_so_batchnorm_must_be_frozen_itself():
    x, y = np.full((8, 4), 3.0, "float32"), np.ones((8, 1), "float32")
    model, bn = _nested(trainable_bn=True)
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)  # updated despite training=False

    model, bn = _nested(trainable_bn=False)
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), 0.0)


def test_keras_ignores_a_trainable_change_until_the_next_compile():
    x, y = np.ones((8, 4), "float32"), np.ones((8, 1), "float32")
    inputs = keras.Input((4,))
    dense = keras.layers.Dense(1)
    model = keras.Model(inputs, dense(inputs))
    dense.trainable = False
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    dense.trainable = True
    before = dense.kernel.numpy().copy()
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(dense.kernel.numpy(), before)  # ignored
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(dense.kernel.numpy(), before)


@pytest.mark.slow
def test_jit_compile_compiles_the_training_step_with_xla(model):
    data = tiny_image_data(n=8)
    history = fit_stages(model, data, [Stage("top 1", epochs=1, learning_rate=1e-3)], verbose=0, jit_compile=True)
    assert model.jit_compile is True
    assert np.isfinite(history.history["loss"]).all()
