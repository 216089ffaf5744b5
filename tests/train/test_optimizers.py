import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.evaluate import evaluate_model
from tfl.model import build_model
from tfl.train import ScaledUpdates
from tfl.train import fit_stages
from tfl.train import make_optimizer


@pytest.mark.parametrize(
    "name, cls",
    [
        pytest.param("adam", keras.optimizers.Adam, id="adam"),
        pytest.param("adamw", keras.optimizers.AdamW, id="adamw"),
        pytest.param("sgd", keras.optimizers.SGD, id="sgd"),
        pytest.param("rmsprop", keras.optimizers.RMSprop, id="rmsprop"),
    ],
)
def test_stage_optimizer_names_build_that_optimizer(name, cls):
    optimizer = make_optimizer(Stage(optimizer=name, learning_rate=3e-4), steps=10)
    assert type(optimizer) is cls
    assert float(optimizer.learning_rate) == pytest.approx(3e-4)


def test_cosine_schedule_decays_to_zero_over_the_stage():
    optimizer = make_optimizer(Stage(schedule="cosine", epochs=2, learning_rate=1e-3), steps=5)
    schedule = optimizer._learning_rate  # the schedule object, not its current value
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(5)) == pytest.approx(5e-4, rel=1e-3)
    assert float(schedule(10)) == pytest.approx(0.0, abs=1e-9)


def test_lr_decay_wraps_the_optimizer():
    optimizer = make_optimizer(Stage(unfreeze="all", lr_decay=0.5), steps=1, lr_multipliers={"x/kernel": 0.5})
    assert isinstance(optimizer, ScaledUpdates) and isinstance(optimizer.inner_optimizer, keras.optimizers.Adam)


def test_multi_label_data_trains_and_evaluates_end_to_end():
    rng = np.random.RandomState(0)
    images = rng.randint(0, 255, (24, 32, 32, 3)).astype("uint8")
    labels = np.stack([images.mean(axis=(1, 2, 3)) > 127, images[..., 0].mean(axis=(1, 2)) > 127], axis=1)
    labels[0] = [1, 1]  # every label present, both ways
    labels[1] = [0, 0]
    data = from_arrays(images, labels.astype("float32"), image_size=32, class_names=["bright", "red"], batch_size=8)
    assert data.multi_label
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, multi_label=True),
                        data.class_names)
    history = fit_stages(model, data, [Stage("none", epochs=1)], verbose=0)
    report = evaluate_model(model, data.validation, data.class_names, multi_label=True)
    assert report["multi_label"] and report["confusion_matrix"] is None
    assert set(report["per_class"]) == {"bright", "red"}
    assert "accuracy" in history.history
