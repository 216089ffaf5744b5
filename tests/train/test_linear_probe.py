import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.config import parse_stages
from tfl.config.config import Config
from tfl.model import build_model
from tfl.train import default_stages
from tfl.train import fit_stages
from tfl.train.feature_cache import FeatureCache
from tfl.train.linear_probe import L2_GRID
from tfl.train.linear_probe import fit_linear_probe


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:900], y[:900], x[900:], y[900:]


def _centered(logits):
    return logits - logits.mean(axis=1, keepdims=True)


def test_probe_solves_the_same_problem_as_scikit_learns_logistic_regression(digits):
    x, y, x_test, _ = digits
    probe = fit_linear_probe(x, y, 10, l2=None, tol=1e-7, max_iter=2000)  # None: 1 / N, sklearn's C = 1
    mean, scale = x.mean(axis=0), np.sqrt(x.var(axis=0).mean())  # one scale for all features
    reference = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit((x - mean) / scale, y)

    ours = x_test @ probe.kernel + probe.bias
    theirs = reference.decision_function((x_test - mean) / scale)

    assert probe.converged
    np.testing.assert_allclose(_centered(ours), _centered(theirs), atol=2e-3 * np.abs(theirs).max())


@pytest.mark.parametrize("scale", [1e-10, 1.0, 1e3])
def test_probe_does_not_depend_on_the_scale_of_the_features(digits, scale):
    x, y, x_test, _ = digits
    reference = fit_linear_probe(x, y, 10)
    scaled = fit_linear_probe(x * scale, y, 10)
    np.testing.assert_array_equal(
        (x_test * scale @ scaled.kernel + scaled.bias).argmax(1), (x_test @ reference.kernel + reference.bias).argmax(1)
    )


def test_probe_is_accurate_on_held_out_digits(digits):
    x, y, x_test, y_test = digits
    probe = fit_linear_probe(x, y, 10)
    assert ((x_test @ probe.kernel + probe.bias).argmax(1) == y_test).mean() > 0.9


def test_multi_label_probe_fits_one_sigmoid_per_class():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(200, 5))
    y = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0], axis=1).astype(np.float32)
    probe = fit_linear_probe(x, y, 2, multi_label=True)
    predicted = (x @ probe.kernel + probe.bias) > 0
    assert (predicted == y.astype(bool)).mean() > 0.95


@pytest.mark.parametrize(
    "labels, message",
    [
        pytest.param(np.array([0, 1, 3]), "Label 3 is outside the class range 0..2", id="out-of-range"),
        pytest.param(np.array([0, 1]), "Expected 3 class ids", id="wrong-count"),
    ],
)
def test_bad_probe_labels_are_named(labels, message):
    with pytest.raises(ValueError, match=message):
        fit_linear_probe(np.ones((3, 2)), labels, 3)


def test_probe_stage_puts_the_fitted_head_into_the_model():
    model = build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.5), ["dark", "bright"]
    )
    data = tiny_image_data()

    history = fit_stages(model, data, [Stage(linear_probe=True)], verbose=0)

    record = history.stages[0]
    assert record.linear_probe["converged"]
    assert record.epochs == 1 and set(record.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    cached = FeatureCache(model).get(data)
    expected = fit_linear_probe(cached.train_features, cached.train_labels, 2)
    kernel, bias = model.head.get_weights()
    np.testing.assert_allclose(kernel, expected.kernel, rtol=1e-4, atol=1e-6 * np.abs(kernel).max())
    np.testing.assert_allclose(bias, expected.bias, rtol=1e-4, atol=1e-6 * np.abs(bias).max())
    predicted = model.predict({"images": data.images}, verbose=0).argmax(1)
    assert (predicted == data.labels).mean() == record.history["val_accuracy"][0]


def test_probe_parses_from_plan_strings_and_yaml():
    assert parse_stages("probe,top2:3:1e-4") == (
        Stage(linear_probe=True),
        Stage("top 2", epochs=3, learning_rate=1e-4),
    )
    config = Config.from_dict({"train": {"stages": ["probe", {"unfreeze": "all", "epochs": 2}]}})
    assert config.train.stages[0].linear_probe and config.train.stages[1].unfreeze == "all"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        pytest.param({"unfreeze": "top 1", "linear_probe": True}, "needs unfreeze='none'", id="unfrozen"),
        pytest.param({"epochs": 3, "linear_probe": True}, "counts as one epoch", id="epochs"),
    ],
)
def test_bad_probe_stages_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Stage(**kwargs)


@pytest.mark.parametrize(
    "task, weights, augmentation, first",
    [
        pytest.param("image", "imagenet", False, Stage(linear_probe=True), id="image"),
        pytest.param("image", "imagenet", True, Stage("none", epochs=4, learning_rate=1e-3), id="augmented"),
        pytest.param("text", None, False, Stage(linear_probe=True), id="text"),
    ],
)
def test_default_plans_start_with_a_probe_where_the_cache_is_valid(task, weights, augmentation, first):
    assert default_stages(weights, 4, task=task, augmentation=augmentation)[0] == first


def test_probe_on_a_model_whose_pooling_trains_is_refused_with_the_fix():
    import types

    from tests.text_fakes import tiny_encoder
    from tfl.model import TextClassifier

    encoder, preprocessor = tiny_encoder()
    model = TextClassifier(encoder, preprocessor, ["neg", "pos"], encoder_name="tiny", pooling="lstm")
    tokens = preprocessor(tf.constant(["a good movie", "not fun"]))
    batches = tf.data.Dataset.from_tensors((tokens, tf.constant([1, 0])))
    data = types.SimpleNamespace(train=batches, validation=None, num_train=2)

    with pytest.raises(ValueError, match=r"Stage 1 is a linear probe.*pooling layer has weights.*'none:5:1e-3'"):
        fit_stages(model, data, [Stage(linear_probe=True)], verbose=0)


def test_cross_validated_l2_keeps_a_few_separable_examples_from_a_zero_training_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 200))  # more dimensions than examples: separable
    y = np.arange(60) % 3
    x[:, 0] += 2.0 * y  # one informative direction
    weak = fit_linear_probe(x, y, 3, l2=None)
    chosen = fit_linear_probe(x, y, 3)
    assert chosen.l2 > weak.l2 and chosen.l2 * len(x) in L2_GRID

    def training_loss(probe):
        logits = x @ probe.kernel + probe.bias
        log_p = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) - logits.max(1, keepdims=True)
        return -log_p[np.arange(len(y)), y].mean()

    assert training_loss(weak) < 0.05 < training_loss(chosen)  # fine-tuning after it still has a gradient


def test_cross_validation_is_skipped_below_ten_examples():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(9, 4)), np.arange(9) % 3
    assert fit_linear_probe(x, y, 3).l2 == pytest.approx(1 / 9)


def test_an_unknown_l2_rule_is_refused():
    with pytest.raises(ValueError, match=r'l2 is a number >= 0, "cv" or None\. Received: l2=\'auto\''):
        fit_linear_probe(np.ones((12, 2)), np.arange(12) % 2, 2, l2="auto")


def test_class_weights_move_the_probe_towards_the_weighted_class():
    rng = np.random.RandomState(0)
    labels = np.array([0] * 40 + [1] * 40)
    features = rng.normal(size=(80, 4)) + labels[:, None] * 0.5  # overlapping classes

    plain = fit_linear_probe(features, labels, 2, l2=1e-3)
    weighted = fit_linear_probe(features, labels, 2, l2=1e-3, class_weights=[1.0, 5.0])

    def predicted_ones(probe):
        return int(np.argmax(features @ probe.kernel + probe.bias, axis=1).sum())

    assert predicted_ones(weighted) > predicted_ones(plain)


def test_weights_of_one_and_no_smoothing_are_the_plain_probe():
    rng = np.random.RandomState(1)
    features, labels = rng.normal(size=(30, 3)), np.arange(30) % 3

    plain = fit_linear_probe(features, labels, 3, l2=1e-2)
    ones = fit_linear_probe(features, labels, 3, l2=1e-2, class_weights=[1.0, 1.0, 1.0], label_smoothing=0.0)

    np.testing.assert_allclose(ones.kernel, plain.kernel, rtol=1e-6, atol=1e-7)


def test_label_smoothing_shrinks_the_probes_confidence():
    rng = np.random.RandomState(2)
    labels = np.arange(60) % 2
    features = rng.normal(size=(60, 2)) + labels[:, None] * 3.0  # separable

    def confidence(probe):
        logits = features @ probe.kernel + probe.bias
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return float((p / p.sum(axis=1, keepdims=True)).max(axis=1).mean())

    sharp = fit_linear_probe(features, labels, 2, l2=1e-4)
    smooth = fit_linear_probe(features, labels, 2, l2=1e-4, label_smoothing=0.2)

    assert confidence(smooth) < confidence(sharp) and confidence(smooth) <= 0.91
