"""FixMatch: below-threshold unlabelled images add nothing, BatchNorm stays frozen, bad routes are refused."""

import keras
import numpy as np
import pytest

import tfl
from tests.small_backbone import SMALL_BACKBONE
from tfl.config import Stage
from tfl.data.unlabeled import unlabeled_images
from tfl.model.batchnorm import batchnorm_layers
from tfl.train.fixmatch import FixMatch
from tfl.train.fixmatch import fit_fixmatch
from tfl.train.fixmatch import fixmatch_dataset


@pytest.fixture(scope="module")
def setup():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = np.arange(12) % 2
    images = (rng.integers(0, 100, (12, 16, 16, 3)) + labels[:, None, None, None] * 140).astype(np.uint8)
    pool_truth = np.arange(20) % 2
    pool = (rng.integers(0, 100, (20, 16, 16, 3)) + pool_truth[:, None, None, None] * 140).astype(np.uint8)
    data = tfl.data.from_arrays(images, labels, class_names=["dark", "bright"], image_size=32, batch_size=4,
                                validation_split=0.25)
    model = tfl.build_model(tfl.ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0), data.class_names)
    unlabeled = unlabeled_images(pool, image_size=32, true_labels=pool_truth, class_names=data.class_names)
    return data, model, unlabeled


def _one_step(model, batch, start, threshold, lambda_u):
    """The head's weights after one SGD step of FixMatch from `start`, and the step's logs
    (the model has no dropout: two steps differ only by what the unlabelled images add)."""
    model.set_weights(start)
    fixmatch = FixMatch(model, threshold=threshold, lambda_u=lambda_u, seed=3)
    fixmatch.compile(optimizer=keras.optimizers.SGD(0.5))
    logs = fixmatch.train_step(batch)
    return [np.array(w) for w in model.head.get_weights()], {k: float(v) for k, v in logs.items()}


def test_unlabelled_images_below_the_threshold_add_nothing_to_the_step(setup):
    data, model, unlabeled = setup
    tfl.train.apply_stage(model, Stage("none"))
    batch = next(iter(fixmatch_dataset(data.train, unlabeled.inputs, batch_size=4, mu=2, seed=0)))
    start = [np.array(w) for w in model.get_weights()]
    supervised_only, _ = _one_step(model, batch, start, threshold=0.5, lambda_u=0.0)
    # threshold 1.0: no softmax output reaches it, so no unlabelled image has a pseudo-label
    none_taken, logs = _one_step(model, batch, start, threshold=1.0, lambda_u=1.0)
    assert logs["mask_rate"] == 0.0 and logs["unlabeled_loss"] == 0.0
    for a, b in zip(none_taken, supervised_only):  # the same step, to float round-off
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
    # threshold 0.5 with two classes: every image takes a pseudo-label, and the step changes
    all_taken, logs = _one_step(model, batch, start, threshold=0.5, lambda_u=1.0)
    assert logs["mask_rate"] == 1.0 and logs["unlabeled_loss"] > 0
    assert any(not np.allclose(a, b, rtol=1e-3, atol=1e-6) for a, b in zip(all_taken, supervised_only))
    model.set_weights(start)


def test_fixmatch_trains_the_backbone_with_batchnorm_frozen_and_reports_per_class(setup):
    data, model, unlabeled = setup
    bn = batchnorm_layers(model.backbone)
    statistics = [np.array(v) for layer in bn for v in layer.non_trainable_weights]
    kernels = {v.path: np.array(v) for v in model.backbone.weights if "kernel" in v.path}
    record = fit_fixmatch(
        model, data, unlabeled, [Stage("top1", epochs=1, learning_rate=1e-2)], threshold=0.5, mu=2,
        feature_cache="off", verbose=0,
    )
    after = [np.array(v) for layer in bn for v in layer.non_trainable_weights]
    assert all(np.array_equal(a, b) for a, b in zip(statistics, after))  # moving statistics unchanged
    assert any(not np.array_equal(kernels[v.path], np.array(v)) for v in model.backbone.weights if v.path in kernels)
    stage = record.stages[0]
    epoch = stage["per_class"][0]
    steps = len(list(data.train))
    assert sum(entry["accepted"] for entry in epoch.values()) == steps * 2 * 4  # threshold 0.5: all taken
    assert all(entry["known"] == entry["accepted"] for entry in epoch.values())
    assert stage["history"]["mask_rate"] == [1.0]
    assert record.history.stages[0].trainable_stages == ["stride32"]


def _compiled_model(data, **options):
    keras.utils.set_random_seed(1)
    model = tfl.build_model(tfl.ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0),
                            data.class_names)
    model.compile(**options)
    tfl.train.apply_stage(model, Stage("none"))
    return model


def test_the_labelled_term_is_the_classifiers_loss_with_its_label_smoothing_and_class_weights(setup):
    data, _, unlabeled = setup
    model = _compiled_model(data, label_smoothing=0.2, class_weight={"dark": 4.0, "bright": 1.0})
    batch = next(iter(fixmatch_dataset(data.train, unlabeled.inputs, batch_size=4, mu=2, seed=0)))
    (x, y) = batch
    expected = float(model.training_loss()(y["labelled"], model(x["labelled"], training=True)))
    plain = float(np.mean(keras.losses.sparse_categorical_crossentropy(y["labelled"], model(x["labelled"]))))
    assert abs(expected - plain) > 1e-3  # smoothing and weights change this batch's loss

    _, logs = _one_step(model, batch, model.get_weights(), threshold=1.0, lambda_u=1.0)

    assert logs["supervised_loss"] == pytest.approx(expected, rel=1e-5)


def test_fit_fixmatch_resolves_balanced_class_weights_from_the_labelled_training_data(setup):
    data, _, unlabeled = setup
    model = _compiled_model(data, class_weight="balanced")
    labels = np.concatenate([np.asarray(batch[1]) for batch in data.train])

    fit_fixmatch(model, data, unlabeled, [Stage("none", epochs=1)], mu=1, feature_cache="off", verbose=0)

    expected = tfl.model.balanced_class_weights(np.bincount(labels, minlength=2))
    np.testing.assert_allclose(model.class_weights(), expected)


@pytest.mark.parametrize(
    "stage, feature_cache, message",
    [
        (Stage("probe"), "auto", "needs the backbone in the loop.*a linear probe"),
        (Stage("none"), "auto", "needs the backbone in the loop.*feature_cache='off'"),
        (Stage("top1", train_batchnorm=True), "off", "keeps BatchNorm frozen"),
    ],
)
def test_fixmatch_refuses_routes_without_the_backbone_and_batchnorm_training(setup, stage, feature_cache, message):
    data, model, unlabeled = setup
    with pytest.raises(ValueError, match=message):
        fit_fixmatch(model, data, unlabeled, [stage], feature_cache=feature_cache, verbose=0)


def test_a_fusion_of_image_and_text_branches_is_refused_naming_its_kind_and_the_fix(setup):
    from tests.text_fakes import tiny_encoder
    from tfl.backbones import build_backbone
    from tfl.model import FusionClassifier
    from tfl.model import image_branch
    from tfl.model import text_branch

    data, _, unlabeled = setup
    encoder, preprocessor = tiny_encoder(sequence_length=8, hidden_dim=8)
    backbone = build_backbone(SMALL_BACKBONE, weights=None, image_size=32)
    model = FusionClassifier(
        [image_branch("image", backbone, SMALL_BACKBONE, 32), text_branch("text", encoder, "tiny", preprocessor=preprocessor)],
        data.class_names,
    )

    with pytest.raises(ValueError, match=r"task 'image_text'.*images alone.*fit_stages") as refused:
        fit_fixmatch(model, data, unlabeled, [Stage("none")], feature_cache="off", verbose=0)
    assert "pseudo_label" not in str(refused.value)  # self-training refuses it too


def test_fixmatch_is_refused_for_text_in_the_config():
    with pytest.raises(ValueError, match="'fixmatch' augments images; this is a text task"):
        tfl.Config.from_dict({"task": "text", "data": {"unlabeled_source": "pool.csv"},
                              "train": {"self_training": {"method": "fixmatch"}}})


class _SpoilHead(keras.callbacks.Callback):
    """Adds large noise to the classifier's head at the start of every epoch after the first, so those
    epochs end with a high `val_loss`; keeps the classifier's weights after each epoch."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier, self.weights = classifier, []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch > 0:
            rng = np.random.RandomState(epoch)
            self.classifier.head.set_weights(
                [w + rng.normal(0, 100, w.shape).astype(w.dtype) for w in self.classifier.head.get_weights()]
            )

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(w) for w in self.classifier.get_weights()])


def test_a_stage_with_early_stopping_stops_and_ends_on_its_best_epochs_weights(setup):
    data, _, unlabeled = setup
    model = _compiled_model(data)
    spoil = _SpoilHead(model)
    stage = Stage("none", epochs=4, learning_rate=1e-3, early_stopping=1)

    record = fit_fixmatch(model, data, unlabeled, [stage], mu=1, feature_cache="off", verbose=0, callbacks=[spoil])

    history = record.stages[0]["history"]
    assert len(history["val_loss"]) == 2  # epoch 2 did not improve on epoch 1: patience 1 stops there
    assert record.history.stages[0].epochs == 2
    assert record.history.stages[0].early_stopping["best_epoch"] == 0
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), spoil.weights[0]))


@pytest.mark.parametrize("mixing", [{"mixup": 0.2}, {"cutmix": 1.0}])
def test_mixup_and_cutmix_are_refused_rather_than_ignored(setup, mixing):
    data, model, unlabeled = setup
    with pytest.raises(ValueError, match="does not mix batches.*--mixup and --cutmix"):
        fit_fixmatch(model, data, unlabeled, [Stage("none")], feature_cache="off", verbose=0, **mixing)
