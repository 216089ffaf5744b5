"""`fit_adaptation`: the adaptation step `tfl train` runs after the stages."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.adapt.fit import check_target_labels
from tfl.adapt.fit import fit_adaptation
from tfl.config import Config
from tfl.config import ModelConfig
from tfl.model import build_model


def _target(labels_known):
    """The source's task with inverted brightness: dark images are class 1 now."""
    source = tiny_image_data(n=16, seed=1)
    images, labels = 255.0 - source.images, source.labels.astype("int32")
    pool_labels = labels.copy() if labels_known else np.full_like(labels, -1)
    pool = tf.data.Dataset.from_tensor_slices(({"images": images}, pool_labels))
    return types.SimpleNamespace(
        train=pool.shuffle(16, seed=0).batch(8),
        images=pool.map(lambda x, y: x).batch(8),
        test=tf.data.Dataset.from_tensor_slices(({"images": images}, labels)).batch(8),
        test_labels=labels,
        num_train=16,
        num_labelled=16 if labels_known else 0,
        num_test=16,
    )


def _model():
    return build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["dark", "bright"])


def _accuracy(model, target):
    return float(np.mean(np.argmax(model.predict(target.test, verbose=0), -1) == target.test_labels))


def test_a_head_only_adaptation_keeps_the_backbone_and_records_the_target_before_and_after():
    model, source, target = _model(), tiny_image_data(), _target(labels_known=True)
    backbone_before = [w.numpy().copy() for w in model.backbone.weights]
    head_before = [w.numpy().copy() for w in model.head.weights]
    accuracy_before = _accuracy(model, target)

    record = fit_adaptation(model, source, target, method="joint", epochs=2, learning_rate=1e-2,
                            unfreeze="none", verbose=0)

    for before, weight in zip(backbone_before, model.backbone.weights):
        np.testing.assert_array_equal(before, weight.numpy())
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(head_before, model.head.weights))
    assert record.trainable_stages == [] and record.trainable_params == sum(
        int(np.prod(w.shape)) for w in model.head.weights
    )
    assert record.target_accuracy_before == pytest.approx(accuracy_before)
    assert record.target_accuracy_after == pytest.approx(_accuracy(model, target))
    for key in ("loss", "source_loss", "target_loss", "alignment_loss", "target_im", "target_snd", "val_accuracy"):
        assert len(record.history[key]) == 2, key
    assert record.history["val_accuracy"][-1] == pytest.approx(record.target_accuracy_after)
    assert (record.num_target, record.num_target_labelled, record.num_target_test) == (16, 16, 16)


def test_an_unlabelled_target_with_an_alignment_term_trains_the_unfrozen_stages_and_restores_the_best_epoch():
    model, source, target = _model(), tiny_image_data(), _target(labels_known=False)
    stem_before = [w.numpy().copy() for layer in model.stage_layers()["stride32"] for w in layer.trainable_weights]
    batchnorm = [layer for layer in model.stage_layers()["stride32"] if isinstance(layer, keras.layers.BatchNormalization)]
    statistics_before = [w.numpy().copy() for layer in batchnorm for w in layer.weights]

    record = fit_adaptation(model, source, target, method="coral", epochs=2, learning_rate=1e-3,
                            unfreeze="stride32", restore_best="im", verbose=0)

    assert record.trainable_stages == ["stride32"]
    assert record.restored_epoch in (0, 1)
    best = max(range(2), key=lambda e: record.history["target_im"][e])
    assert record.restored_epoch == best
    stem_after = [w.numpy() for layer in model.stage_layers()["stride32"] for w in layer.trainable_weights]
    assert any(not np.array_equal(b, a) for b, a in zip(stem_before, stem_after))
    # fit passes training=True through the model; the unfrozen stage's BatchNorm stays in inference mode
    assert batchnorm and all(
        np.array_equal(b, w.numpy()) for b, w in zip(statistics_before, [w for layer in batchnorm for w in layer.weights])
    )


def test_an_unlabelled_target_without_an_alignment_term_is_refused():
    with pytest.raises(ValueError, match="nothing would learn on the target"):
        fit_adaptation(_model(), tiny_image_data(), _target(labels_known=False), method="joint", epochs=1, verbose=0)


@pytest.mark.parametrize(
    "method, align_weight, refused",
    [
        pytest.param("joint", 1.0, True, id="joint"),
        pytest.param("mmd", 0.0, True, id="mmd-without-weight"),
        pytest.param("coral", 1.0, False, id="coral"),
        pytest.param("source_only", 1.0, False, id="source-only"),
    ],
)
def test_a_target_without_labels_is_checked_against_the_method(method, align_weight, refused):
    target = _target(labels_known=False)
    if not refused:
        check_target_labels(target, method=method, align_weight=align_weight, source="loose/")
        return
    with pytest.raises(ValueError, match=r"'loose/' has no labelled images .* nothing would learn on the target.*--adapt"):
        check_target_labels(target, method=method, align_weight=align_weight, source="loose/")


def test_a_run_whose_target_folder_has_no_labels_fails_before_the_stages_train(image_folder, tmp_path, monkeypatch):
    loose = tmp_path / "loose"
    loose.mkdir()
    for path in sorted((image_folder / "dark").iterdir())[:4]:
        (loose / path.name).write_bytes(path.read_bytes())  # no class folders: no target label
    config = Config.from_dict({
        "data": {"source": str(image_folder), "target_source": str(loose), "batch_size": 4},
        "model": {"backbone": SMALL_BACKBONE, "weights": None, "image_size": 32},
        "train": {"stages": ["none:1:1e-3"], "adaptation": {"method": "joint", "epochs": 1}},
    })

    def no_training(*args, **kwargs):
        raise AssertionError("the stages trained before the target was refused")

    monkeypatch.setattr("tfl.experiment._fit", no_training)
    from tfl.experiment import run_experiment

    with pytest.raises(ValueError, match=r"has no labelled images in its training pool \(4 images.*method 'joint'"):
        run_experiment(config, None, verbose=0)


def test_the_record_keeps_unfreeze_in_a_stages_form():
    record = fit_adaptation(_model(), tiny_image_data(), _target(labels_known=True), method="joint", epochs=1,
                            unfreeze=1, verbose=0)
    assert (record.unfreeze, record.trainable_stages) == ("top 1", ["stride32"])
