"""MixUp and CutMix: mixed batches with matching soft targets, a loss that takes
them, and stages that use them (or refuse them where they would be ignored)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.cli.main import build_parser
from tfl.cli.train import config_from_args
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data.mix import mix_batches
from tfl.model import HeadAccuracy
from tfl.model import HeadLoss
from tfl.model import build_model
from tfl.model import head_loss
from tfl.model import load_model
from tfl.train import FitOptions
from tfl.train import fit_stages

B = 6


def _constant_batch():
    """Image i is all 10 * i; its class is i: each pixel tells which image it came from."""
    images = np.stack([np.full((16, 16, 3), 10.0 * i, "float32") for i in range(B)])
    return tf.data.Dataset.from_tensor_slices(({"images": images}, np.arange(B, dtype="int32"))).batch(B)


def _mixed(**kwargs):
    """`(i, its partner, mixed image i, target i)` for each image of one mixed
    batch (B is even: no image is its own partner)."""
    (inputs, targets), = mix_batches(_constant_batch(), B, **kwargs).take(1)
    np.testing.assert_allclose(targets.numpy().sum(axis=1), 1.0, atol=1e-6)
    return [(i, B - 1 - i, inputs["images"].numpy()[i], targets.numpy()[i]) for i in range(B)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mixup_blends_each_image_with_its_partner_by_its_target(seed):
    for i, partner, image, target in _mixed(mixup=0.4, seed=seed):
        np.testing.assert_allclose(image, target[i] * 10 * i + target[partner] * 10 * partner, atol=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cutmix_pastes_a_box_whose_area_is_the_partners_share_of_the_target(seed):
    for i, partner, image, target in _mixed(cutmix=1.0, seed=seed):
        assert np.mean(image[:, :, 0] == 10.0 * partner) == pytest.approx(target[partner])
        assert set(np.unique(image)) <= {10.0 * i, 10.0 * partner}


def test_mixing_refuses_multi_label_batches_and_bad_alphas():
    multi_hot = tf.data.Dataset.from_tensor_slices(({"images": tf.zeros([4, 8, 8, 3])}, tf.ones([4, 2]))).batch(2)
    with pytest.raises(ValueError, match="single-label data"):
        mix_batches(multi_hot, 2, mixup=0.2)
    with pytest.raises(ValueError, match=r"mixup is the alpha of a Beta distribution, finite and >= 0 .* Received: mixup=-1"):
        mix_batches(_constant_batch(), B, mixup=-1)
    with pytest.raises(ValueError, match=r"Received: cutmix=nan"):
        mix_batches(_constant_batch(), B, cutmix=float("nan"))


def test_the_soft_target_loss_is_the_mixed_cross_entropy_and_the_default_stays_keras():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], "float32")
    soft = np.array([[0.8, 0.2, 0.0], [0.0, 0.5, 0.5]], "float32")
    expected = -(soft * np.log(probabilities)).sum(axis=1).mean()
    assert float(HeadLoss()(soft, probabilities)) == pytest.approx(expected, rel=1e-5)
    sparse = keras.losses.SparseCategoricalCrossentropy()(np.array([0, 2]), probabilities)
    assert float(HeadLoss()(np.eye(3)[[0, 2]], probabilities)) == pytest.approx(float(sparse), rel=1e-5)
    weighted = HeadLoss(class_weights=[1.0, 2.0, 4.0])(soft, probabilities)
    per_example = -(soft * np.log(probabilities)).sum(axis=1) * (soft @ np.array([1.0, 2.0, 4.0]))
    assert float(weighted) == pytest.approx(per_example.mean(), rel=1e-5)
    assert type(head_loss(multi_label=False)) is keras.losses.SparseCategoricalCrossentropy
    assert isinstance(head_loss(multi_label=False, soft_targets=True), HeadLoss)
    metric = HeadAccuracy()
    metric.update_state(np.array([0, 1]), probabilities)  # class ids, as validation batches have
    assert float(metric.result()) == 0.5


def _model():
    keras.utils.set_random_seed(3)
    return build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0), ["dark", "bright"]
    )


def test_a_stage_trains_on_mixed_batches_and_validates_on_plain_ones():
    model = _model()
    history = fit_stages(model, tiny_image_data(n=16), [Stage("all", epochs=1, learning_rate=1e-3)], verbose=0,
                         feature_cache="off", mixup=0.4, cutmix=1.0)
    record = history.stages[0].history
    assert np.isfinite(record["loss"]).all() and np.isfinite(record["val_loss"]).all()
    assert 0 <= record["accuracy"][0] <= 1 and 0 <= record["val_accuracy"][0] <= 1
    assert isinstance(model.loss, HeadLoss)  # soft targets in training, class ids in validation
    model.recompile("adam")
    assert type(model.loss) is keras.losses.SparseCategoricalCrossentropy  # nothing kept after the stage


def test_a_stage_on_cached_features_refuses_mixing():
    message = r"Stage 1 trains on cached features .*MixUp and CutMix.*would be ignored.*feature_cache='off'"
    with pytest.raises(ValueError, match=message):
        fit_stages(_model(), tiny_image_data(n=8), [Stage("none", epochs=1)], verbose=0, mixup=0.2)


def test_a_later_stage_on_cached_features_is_refused_before_the_first_stage_trains():
    model = _model()
    before = [np.array(w) for w in model.get_weights()]
    message = r"Stage 2 trains on cached features .*MixUp and CutMix"
    with pytest.raises(ValueError, match=message):
        fit_stages(model, tiny_image_data(n=8), "top1:1:1e-2,none:1:1e-2", verbose=0, mixup=0.2)
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, model.get_weights()))  # nothing trained


def test_the_flags_reach_the_config():
    args = build_parser().parse_args(["train", "--data", "digits", "--mixup", "0.2", "--cutmix", "1"])
    train = config_from_args(args).train
    assert (train.mixup, train.cutmix) == (0.2, 1.0)


def test_train_with_mixup_runs_end_to_end_and_a_probe_plan_is_refused(image_folder, tmp_path, capsys):
    from tfl.cli.main import main

    tiny = ["--backbone", SMALL_BACKBONE, "--image-size", "32", "--batch-size", "8", "--verbose", "0"]
    args = ["train", "--data", str(image_folder), *tiny, "--mixup", "0.2", "--cutmix", "1.0"]
    assert main([*args, "--weights", "none", "--stages", "all:1:1e-3", "--output", str(tmp_path / "run")]) == 0
    model = load_model(tmp_path / "run" / "model.keras")  # compiled for soft targets when saved
    assert type(model.loss) is keras.losses.SparseCategoricalCrossentropy  # reloads with the default loss
    code = main([*args, "--weights", "none", "--stages", "probe,all:1:1e-4", "--output", str(tmp_path / "probe")])
    assert code == 2 and "would be ignored" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["mixup", "cutmix"])
def test_fit_options_refuse_a_nan_or_infinite_alpha(name):
    for value in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=rf"{name} is a finite Beta alpha >= 0 \(0: off\)\. Received: {name}={value}"):
            FitOptions(**{name: value})
