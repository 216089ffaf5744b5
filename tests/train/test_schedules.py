import math

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.model import build_model
from tfl.train import apply_stage
from tfl.train import fit_stages
from tfl.train.optimizers import make_optimizer
from tfl.train.schedules import StageSchedule
from tfl.train.schedules import learning_rates


class RateLogger(keras.callbacks.Callback):
    """The learning rate each training step ran at."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def test_one_cycle_rises_from_peak_over_25_to_peak_then_falls_to_peak_over_1e5():
    rates = learning_rates(StageSchedule("one_cycle", peak=1e-2, total_steps=100), 101)

    np.testing.assert_allclose(rates[0], 1e-2 / 25, rtol=1e-5)
    assert int(np.argmax(rates)) == 25 and rates[25] == pytest.approx(1e-2, rel=1e-6)
    np.testing.assert_allclose(rates[100], 1e-2 / 1e5, rtol=1e-4)
    assert all(np.diff(rates[:26]) > 0) and all(np.diff(rates[25:]) < 0)
    # On the way down: half a cosine from the peak to the end.
    fraction = (62 - 25) / 75
    np.testing.assert_allclose(rates[62], 1e-7 + (1e-2 - 1e-7) * (1 + math.cos(math.pi * fraction)) / 2, rtol=1e-4)


def test_warmup_cosine_rises_linearly_over_a_tenth_then_decays_to_zero():
    rates = learning_rates(StageSchedule("warmup_cosine", peak=1e-3, total_steps=50), 51)

    np.testing.assert_allclose(rates[:5], [1e-3 * k / 5 for k in range(1, 6)], rtol=1e-5)
    assert rates[5] == pytest.approx(1e-3, rel=1e-6)
    assert all(np.diff(rates[5:]) < 0) and rates[50] == pytest.approx(0.0, abs=1e-12)


def test_cosine_matches_keras_cosine_decay():
    ours = learning_rates(StageSchedule("cosine", peak=3e-4, total_steps=40), 45)
    keras_rates = learning_rates(keras.optimizers.schedules.CosineDecay(3e-4, decay_steps=40), 45)

    np.testing.assert_allclose(ours, keras_rates, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize(
    "kind, peak, steps, message",
    [("linear", 1e-3, 10, "Unknown schedule 'linear'"), ("cosine", 0, 10, "peak=0"), ("cosine", 1e-3, 0, "total_steps=0")],
)
def test_bad_schedule_arguments_are_named(kind, peak, steps, message):
    with pytest.raises(ValueError, match=message):
        StageSchedule(kind, peak, steps)


def test_a_stage_unknown_schedule_lists_the_known_ones():
    with pytest.raises(ValueError, match="Known: constant, cosine, warmup_cosine, one_cycle"):
        Stage(schedule="onecycle")


def _model():
    return build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0), ["dark", "bright"]
    )


@pytest.mark.parametrize("schedule", ["one_cycle", "warmup_cosine"])
def test_fit_stages_trains_each_stage_on_its_own_schedule(schedule):
    data = tiny_image_data(n=24, batch_size=8)  # 3 steps per epoch
    stages = [Stage("none", epochs=2, learning_rate=1e-3, schedule=schedule),
              Stage("top 1", epochs=3, learning_rate=1e-4, schedule=schedule, lr_decay=0.5)]
    logger = RateLogger()

    fit_stages(_model(), data, stages, callbacks=[logger], feature_cache="off", verbose=0)

    expected = (learning_rates(StageSchedule(schedule, 1e-3, 6), 6)
                + learning_rates(StageSchedule(schedule, 1e-4, 9), 9))
    np.testing.assert_allclose(logger.rates, expected, rtol=1e-5)


def test_a_stage_resumed_from_a_saved_model_continues_its_schedule(tmp_path):
    data = tiny_image_data(n=24, batch_size=8)
    stage = Stage("top 1", epochs=4, learning_rate=1e-3, schedule="one_cycle", lr_decay=0.5)

    def run(model, first, last, logger):
        model.fit(data.train, initial_epoch=first, epochs=last, callbacks=[logger], shuffle=False, verbose=0)

    keras.utils.set_random_seed(0)
    whole = _model()
    plan_steps = 3
    plan = apply_stage(whole, stage)
    whole.compile(make_optimizer(stage, plan_steps, plan.lr_multipliers))
    uninterrupted = RateLogger()
    run(whole, 0, 4, uninterrupted)

    keras.utils.set_random_seed(0)
    first = _model()
    plan = apply_stage(first, stage)
    first.compile(make_optimizer(stage, plan_steps, plan.lr_multipliers))
    before = RateLogger()
    run(first, 0, 2, before)
    first.save(tmp_path / "half.keras")
    resumed = keras.saving.load_model(tmp_path / "half.keras")
    after = RateLogger()
    run(resumed, 2, 4, after)

    assert resumed.optimizer.inner_optimizer.get_config()["learning_rate"]["class_name"] == "StageSchedule"
    assert int(resumed.optimizer.iterations.numpy()) == 12
    np.testing.assert_allclose(before.rates + after.rates, uninterrupted.rates, rtol=1e-6)
    # Not restarted: the resumed half runs on the schedule's falling side.
    assert after.rates[0] < max(uninterrupted.rates) and after.rates == sorted(after.rates, reverse=True)
