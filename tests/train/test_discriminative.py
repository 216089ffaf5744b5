import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.model import build_model
from tfl.train import ScaledUpdates
from tfl.train import fit_stages


def _run(optimizer, steps=3):
    a = keras.Variable(np.array([1.0, -2.0, 3.0], "float32"), name="a")
    b = keras.Variable(np.array([0.5, 0.5], "float32"), name="b")
    rng = np.random.RandomState(0)
    for _ in range(steps):
        optimizer.apply([rng.normal(size=3).astype("float32"), rng.normal(size=2).astype("float32")], [a, b])
    return a.numpy(), b.numpy(), a.path


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda lr: keras.optimizers.SGD(lr), id="sgd"),
        pytest.param(lambda lr: keras.optimizers.SGD(lr, momentum=0.9), id="sgd-momentum"),
        pytest.param(lambda lr: keras.optimizers.Adam(lr), id="adam"),
        pytest.param(lambda lr: keras.optimizers.RMSprop(lr), id="rmsprop"),
    ],
)
def test_scaled_updates_equal_training_at_the_scaled_learning_rate(make):
    _, _, path = _run(make(0.1), steps=0)
    a, b, _ = _run(ScaledUpdates(make(0.1), {path: 0.25}))
    a_ref, _, _ = _run(make(0.025))
    _, b_ref, _ = _run(make(0.1))
    np.testing.assert_allclose(a, a_ref, rtol=1e-5)
    np.testing.assert_allclose(b, b_ref, rtol=1e-5)


def _one_step_updates(lr_decay):
    """Kernel updates per backbone stage (and the head) after one SGD step.

    VGG16 has no BatchNorm, so a random one passes a signal of useful size (a
    random MobileNet, its BatchNorm frozen at the initial statistics, does not).
    """
    keras.utils.set_random_seed(7)  # the same initial weights for every call
    model = build_model(ModelConfig(backbone="vgg16", weights=None, image_size=32, dropout=0.0), ["d", "b"])
    groups = {name: [layer.kernel for layer in layers if hasattr(layer, "kernel")] for name, layers in model.stage_layers().items()}
    groups["head"] = [model.head.kernel]
    before = {name: [k.numpy().copy() for k in ks] for name, ks in groups.items()}
    stage = Stage(unfreeze="top 2", epochs=1, learning_rate=0.1, optimizer="sgd", lr_decay=lr_decay)
    fit_stages(model, tiny_image_data(n=8, batch_size=8), [stage], verbose=0)  # one step
    return {name: np.concatenate([(k.numpy() - b).ravel() for k, b in zip(ks, before[name])]) for name, ks in groups.items()}


def test_each_group_moves_by_its_own_rate_in_fit():
    plain = _one_step_updates(lr_decay=None)
    decayed = _one_step_updates(lr_decay=0.1)
    for name, multiplier in [("head", 1.0), ("block5", 0.1), ("block4", 0.01)]:
        moved = np.abs(plain[name]) > 1e-6
        assert moved.mean() > 0.2, name  # dead ReLUs leave some weights without gradient
        # atol: the float32 spacing of weights near 0.1, where new - old is rounded.
        np.testing.assert_allclose(
            decayed[name][moved], multiplier * plain[name][moved], rtol=1e-3, atol=5e-9, err_msg=name
        )
    for name in ("block1", "block2", "block3"):
        assert not decayed[name].any() and not plain[name].any()


def test_scaled_updates_survive_a_keras_round_trip(tmp_path):
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b"])
    fit_stages(model, tiny_image_data(n=8), [Stage(unfreeze="top 1", epochs=1, lr_decay=0.5)], verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, ScaledUpdates)
    assert loaded.optimizer.multipliers == model.optimizer.multipliers
    assert int(loaded.optimizer.iterations.numpy()) == 1
