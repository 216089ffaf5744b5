import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tfl.adapt.domain_adaptation import METHODS
from tfl.adapt.domain_adaptation import DomainAdaptation
from tfl.adapt.domain_adaptation import paired_dataset
from tfl.adapt.gradient_reversal import GradientReversal
from tfl.adapt.reversal_ramp import ReversalRamp

CLASSES = 3


def _classifier():
    images = keras.Input((8, 8, 1), name="images")
    x = keras.layers.Conv2D(4, 3, activation="relu")(images)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax")(x)
    return keras.Model({"images": images}, outputs, name="tiny")


def _arrays(n, shift, seed):
    rng = np.random.RandomState(seed)
    labels = np.arange(n) % CLASSES
    images = rng.normal(size=(n, 8, 8, 1)) + labels[:, None, None, None] + shift
    return images.astype("float32"), labels.astype("int32")


def _source():
    images, labels = _arrays(24, 0.0, seed=0)
    return tf.data.Dataset.from_tensor_slices(({"images": images}, labels)).batch(8)


def _target(labels="partly"):
    images, true_labels = _arrays(10, 2.0, seed=1)
    if labels == "none":
        return tf.data.Dataset.from_tensor_slices({"images": images}).batch(4)
    if labels == "partly":
        true_labels = np.where(np.arange(10) % 2 == 0, true_labels, -1).astype("int32")
    return tf.data.Dataset.from_tensor_slices(({"images": images}, true_labels)).batch(4)


def _fit(model, target, epochs=2, **kwargs):
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model.fit(paired_dataset(_source(), target), epochs=epochs, verbose=0, **kwargs).history


@pytest.mark.parametrize("method", METHODS)
def test_every_method_fits_and_reports_the_per_epoch_losses(method):
    model = DomainAdaptation(_classifier(), method, features_layer="features")
    callbacks = [ReversalRamp()] if method == "dann" else []
    validation = _target("all").map(lambda x, y: (x, tf.maximum(y, 0)))

    history = _fit(model, _target("partly"), callbacks=callbacks, validation_data=validation)

    expected = {"loss", "source_loss", "source_accuracy", "target_loss", "alignment_loss", "target_accuracy"}
    assert expected | {"val_loss", "val_accuracy"} <= set(history)
    assert all(len(values) == 2 and np.isfinite(values).all() for values in history.values())
    assert (history["alignment_loss"] == [0.0, 0.0]) == (method in ("source_only", "joint"))


def test_fit_on_the_paired_stream_raises_no_shuffle_warning():
    model = DomainAdaptation(_classifier(), "mmd", features_layer="features")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(model, _target("partly"), epochs=1)
    assert not [str(w.message) for w in caught if "shuffle" in str(w.message)]


def test_an_unlabelled_target_reports_no_target_accuracy():
    model = DomainAdaptation(_classifier(), "mmd", features_layer="features")
    history = _fit(model, _target("none"), epochs=1)
    assert "target_accuracy" not in history and history["target_loss"] == [0.0]


def test_the_wrapped_classifier_holds_the_trained_weights():
    classifier = _classifier()
    before = [w.copy() for w in classifier.get_weights()]
    model = DomainAdaptation(classifier, "coral", features_layer="features")
    _fit(model, _target("partly"), epochs=1)
    x = {"images": _arrays(4, 2.0, seed=3)[0]}

    assert not any(np.array_equal(a, b) for a, b in zip(before, classifier.get_weights()))
    np.testing.assert_array_equal(model.predict(x, verbose=0), classifier.predict(x, verbose=0))


def test_the_target_loss_is_the_cross_entropy_over_labelled_examples_only():
    model = DomainAdaptation(_classifier(), "joint", features_layer="features")
    (x, y) = next(iter(paired_dataset(_source(), _target("partly"))))
    terms = model.objective(x, y)

    probabilities = model.classifier(x["target"]).numpy()
    labels = y["target"].numpy()
    labelled = labels >= 0
    expected = -np.log(probabilities[labelled, labels[labelled]]).mean()
    assert float(terms["target_loss"]) == pytest.approx(expected, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(float(terms["source_loss"]) + expected, rel=1e-5)


def test_the_mixing_weights_scale_the_terms():
    model = DomainAdaptation(_classifier(), "mmd", alpha=0.25, beta=0.5, align_weight=3.0, features_layer="features")
    (x, y) = next(iter(paired_dataset(_source(), _target("all"))))
    terms = model.objective(x, y)
    expected = 0.25 * terms["source_loss"] + 0.5 * terms["target_loss"] + 3.0 * terms["alignment_loss"]
    assert float(terms["loss"]) == pytest.approx(float(expected), rel=1e-6)


def test_reversal_ramp_follows_the_schedule_of_ganin_et_al():
    ramp = ReversalRamp()
    assert ramp.schedule(0.0) == 0.0
    assert ramp.schedule(0.5) == pytest.approx(2 / (1 + np.exp(-5)) - 1)
    assert ramp.schedule(1.0) == pytest.approx(1.0, abs=1e-4)


def test_reversal_ramp_sets_the_layer_strength_during_fit_and_logs_it():
    model = DomainAdaptation(_classifier(), "dann", features_layer="features", reversal_strength=0.0)
    ramp = ReversalRamp(max_strength=0.5)
    history = _fit(model, _target("none"), callbacks=[ramp])  # 3 steps an epoch, 2 epochs
    last = ramp.schedule(5 / 6)
    assert history["reversal_strength"] == pytest.approx([ramp.schedule(2 / 6), last])
    assert float(model.gradient_reversal.strength.numpy()) == pytest.approx(last)
    assert isinstance(model.gradient_reversal, GradientReversal)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "adda"}, r"Unknown method 'adda'.*Known: source_only, joint, mmd, coral, dann"),
        ({"alpha": 1.5}, r"alpha is a mixing weight .* in \[0, 1\]. Received: alpha=1.5"),
        ({"beta": -0.1}, r"beta is a mixing weight .* Received: beta=-0.1"),
        ({"align_weight": -1}, r"align_weight=-1.0"),
        ({"method": "joint", "beta": 0.0}, r"beta=0 and method='joint' has no alignment term: nothing would learn"),
        ({"method": "mmd", "beta": 0.0, "align_weight": 0.0}, r"beta=0 and align_weight=0.0: nothing would learn"),
        ({"features_layer": "pooled"}, r"no layer named 'pooled'"),
    ],
    ids=[
        "unknown_method",
        "alpha_above_one",
        "negative_beta",
        "negative_lambda",
        "joint_without_beta",
        "nothing_on_target",
        "unknown_features_layer",
    ],
)
def test_bad_arguments_are_refused_naming_the_value(kwargs, match):
    kwargs = {"features_layer": "features", **kwargs}
    with pytest.raises(ValueError, match=match):
        DomainAdaptation(_classifier(), **kwargs)


def test_a_target_without_labels_and_no_alignment_term_is_refused_at_fit():
    model = DomainAdaptation(_classifier(), "joint", features_layer="features")
    with pytest.raises(ValueError, match="no labels and method='joint'.*nothing would learn on the target"):
        _fit(model, _target("none"), epochs=1)


def test_an_empty_target_stream_is_refused():
    empty = _target("none").filter(lambda x: False)
    with pytest.raises(ValueError, match="The target stream is empty"):
        paired_dataset(_source(), empty)


def test_a_source_stream_without_labels_is_refused():
    with pytest.raises(ValueError, match="source stream yields \\(inputs, labels\\)"):
        paired_dataset(_target("none"), _target("none"))


@pytest.mark.slow
def test_an_image_classifier_adapts_through_its_feature_model_and_still_saves(tmp_path):
    from tfl.config import ModelConfig
    from tfl.model import build_model

    classifier = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b", "c"])
    rng = np.random.RandomState(0)
    images = rng.uniform(0, 255, (12, 32, 32, 3)).astype("float32")
    source = tf.data.Dataset.from_tensor_slices(({"images": images}, np.arange(12) % 3)).batch(6)
    target = tf.data.Dataset.from_tensor_slices({"images": 255.0 - images}).batch(6)
    model = DomainAdaptation(classifier, "mmd", beta=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))

    history = model.fit(paired_dataset(source, target), epochs=1, verbose=0).history
    classifier.save(tmp_path / "adapted.keras")
    loaded = keras.saving.load_model(tmp_path / "adapted.keras")

    assert history["alignment_loss"][0] > 0
    x = {"images": images[:2]}
    np.testing.assert_allclose(loaded.predict(x, verbose=0), classifier.predict(x, verbose=0), rtol=1e-5)


def test_the_wrapper_round_trips_through_a_keras_file(tmp_path):
    model = DomainAdaptation(_classifier(), "dann", alpha=0.5, align_weight=0.3, features_layer="features")
    x = {"images": _arrays(3, 2.0, seed=4)[0]}
    model.save(tmp_path / "adapted.keras")

    loaded = keras.saving.load_model(tmp_path / "adapted.keras")  # no custom_objects

    assert isinstance(loaded, DomainAdaptation)
    assert (loaded.method, loaded.alpha, loaded.align_weight) == ("dann", 0.5, 0.3)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(loaded.domain_classifier.get_weights(), model.domain_classifier.get_weights()):
        np.testing.assert_array_equal(a, b)
