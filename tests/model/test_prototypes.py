"""The prototype maths (tfl/model/prototypes.py) against values computed by hand."""

import numpy as np
import pytest

from tfl.model.prototypes import class_prototypes
from tfl.model.prototypes import dense_from_prototypes
from tfl.model.prototypes import leave_one_out_temperature
from tfl.model.prototypes import prototype_scores
from tfl.model.prototypes import within_class_spread

FEATURES = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0], [0.0, 6.0]])
LABELS = [0, 0, 1, 1]


def test_euclidean_prototypes_are_the_plain_class_means():
    prototypes = np.asarray(class_prototypes(FEATURES, LABELS, 2, metric="euclidean"))
    np.testing.assert_allclose(prototypes, [[2.0, 2.0], [0.0, 4.0]])


def test_cosine_prototypes_are_the_means_of_unit_features():
    prototypes = np.asarray(class_prototypes(FEATURES, LABELS, 2, metric="cosine"))
    # class 0: (0.6, 0.8) and (1, 0) -> (0.8, 0.4); class 1: (0, 1) twice.
    np.testing.assert_allclose(prototypes, [[0.8, 0.4], [0.0, 1.0]], atol=1e-7)


def test_cosine_scores_are_cosines_over_the_temperature():
    scores = np.asarray(prototype_scores([[3.0, 4.0]], [[2.0, 0.0], [0.0, 5.0]], metric="cosine", temperature=0.5))
    np.testing.assert_allclose(scores, [[0.6 / 0.5, 0.8 / 0.5]], atol=1e-6)


def test_euclidean_scores_are_negative_squared_distances_over_the_temperature():
    # ||(3,4)-(1,0)||^2 = 4 + 16 = 20; ||(3,4)-(0,2)||^2 = 9 + 4 = 13.
    scores = np.asarray(prototype_scores([[3.0, 4.0]], [[1.0, 0.0], [0.0, 2.0]], metric="euclidean", temperature=2.0))
    np.testing.assert_allclose(scores, [[-10.0, -6.5]], atol=1e-5)


def test_default_temperatures_are_the_metrics_own():
    cosine = np.asarray(prototype_scores([[1.0, 0.0]], [[1.0, 0.0]], metric="cosine"))
    euclidean = np.asarray(prototype_scores([[1.0, 0.0]], [[0.0, 0.0]], metric="euclidean"))
    np.testing.assert_allclose([cosine[0, 0], euclidean[0, 0]], [10.0, -1.0], atol=1e-5)


def test_the_dense_head_of_the_prototypes_is_worked_out_by_hand():
    kernel, bias = dense_from_prototypes([[2.0, 2.0], [0.0, 4.0]], temperature=2.0)
    np.testing.assert_allclose(kernel, [[2.0, 0.0], [2.0, 4.0]])  # 2 p / t, transposed
    np.testing.assert_allclose(bias, [-4.0, -8.0])  # -||p||^2 / t


def test_the_dense_head_gives_the_euclidean_classifiers_probabilities():
    rng = np.random.default_rng(0)
    prototypes = rng.normal(size=(4, 6))
    features = rng.normal(size=(10, 6)) * 3
    kernel, bias = dense_from_prototypes(prototypes, temperature=3.0)
    logits = features @ kernel + bias
    scores = np.asarray(prototype_scores(features, prototypes, metric="euclidean", temperature=3.0))
    softmax = lambda x: np.exp(x - x.max(1, keepdims=True)) / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)
    np.testing.assert_allclose(softmax(logits), softmax(scores), atol=1e-5)


def test_the_spread_is_the_mean_squared_distance_to_the_own_prototype():
    # Class means (2, 2) and (0, 4): distances^2 1+4, 1+4, 0+4, 0+4 -> mean 4.5.
    spread = within_class_spread(FEATURES, LABELS, [[2.0, 2.0], [0.0, 4.0]])
    assert spread == pytest.approx(4.5)


def _leave_one_out_loss(features, labels, temperature):
    """The mean log-loss of the euclidean prototype classifier, each example
    scored against prototypes recomputed without it (a plain loop)."""
    features, labels = np.asarray(features, float), np.asarray(labels)
    losses = []
    for i in range(len(labels)):
        rest = np.arange(len(labels)) != i
        prototypes = [features[rest & (labels == k)].mean(axis=0) for k in range(labels.max() + 1)]
        logits = np.array([-np.sum((features[i] - p) ** 2) / temperature for p in prototypes])
        losses.append(np.log(np.exp(logits - logits.max()).sum()) + logits.max() - logits[labels[i]])
    return float(np.mean(losses))


def test_the_leave_one_out_temperature_is_worked_out_by_hand():
    # Left out, (0,0) and (2,0) lie 4 from their own class's other example and 5 from (1,2);
    # (1,1) lies 4 from (1,3) and 1 from (1,0); (1,3) 4 from (1,1) and 9 from (1,0).
    features, labels = [[0.0, 0.0], [2.0, 0.0], [1.0, 1.0], [1.0, 3.0]], [0, 0, 1, 1]
    t = leave_one_out_temperature(features, labels, [[1.0, 0.0], [1.0, 2.0]])
    # d/ds of the mean of 4s + log(exp(-4s) + exp(-ds)) over d = 5, 5, 1, 9 is zero at s = 1/t.
    s = 1.0 / t
    slope = np.mean([4 - (4 * np.exp(-4 * s) + d * np.exp(-d * s)) / (np.exp(-4 * s) + np.exp(-d * s)) for d in (5, 5, 1, 9)])
    assert abs(slope) < 1e-6
    assert t == pytest.approx(4.1166, abs=1e-3)


def test_the_leave_one_out_temperature_minimises_the_leave_one_out_loss():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), [4, 5, 6])
    features = rng.normal(size=(15, 8)) + 1.5 * np.eye(3, 8)[labels]
    prototypes = class_prototypes(features, labels, 3, metric="euclidean")
    spread = within_class_spread(features, labels, prototypes)
    t = leave_one_out_temperature(features, labels, prototypes)
    assert 0.1 * spread < t < 10 * spread  # an interior optimum here
    best = _leave_one_out_loss(features, labels, t)
    for factor in (0.5, 0.8, 0.95, 1.05, 1.25, 2.0):
        assert best < _leave_one_out_loss(features, labels, t * factor)


def test_the_leave_one_out_temperature_stays_within_ten_times_the_spread():
    separable = np.array([[0.0, 0.0], [0.1, 0.0], [9.0, 9.0], [9.1, 9.0]])
    prototypes = class_prototypes(separable, [0, 0, 1, 1], 2, metric="euclidean")
    spread = within_class_spread(separable, [0, 0, 1, 1], prototypes)
    # Left out, every example is far nearer its own class: sharper is always better, down to the floor.
    assert leave_one_out_temperature(separable, [0, 0, 1, 1], prototypes) == pytest.approx(0.1 * spread)
    # Left out, every example is nearer the other class: flatter is always better, up to the ceiling.
    crossed = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.1], [1.0, -0.1]])
    prototypes = class_prototypes(crossed, [0, 0, 1, 1], 2, metric="euclidean")
    spread = within_class_spread(crossed, [0, 0, 1, 1], prototypes)
    assert leave_one_out_temperature(crossed, [0, 0, 1, 1], prototypes) == pytest.approx(10 * spread)


def test_singleton_classes_fall_back_to_the_spread():
    one_shot = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert leave_one_out_temperature(one_shot, [0, 1], one_shot) == within_class_spread(one_shot, [0, 1], one_shot)
    # A singleton class is left out of the loss, but it still competes as a prototype.
    features = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.0], [1.0, 3.0], [5.0, 5.0]])
    labels = [0, 0, 1, 1, 2]
    prototypes = class_prototypes(features, labels, 3, metric="euclidean")
    t = leave_one_out_temperature(features, labels, prototypes)
    s = 1.0 / t
    own = 4.0
    others = [(5, 50), (5, 34), (1, 32), (9, 20)]  # squared distances to the other class, then to (5, 5)
    slope = np.mean([
        own - (own * np.exp(-own * s) + a * np.exp(-a * s) + b * np.exp(-b * s))
        / (np.exp(-own * s) + np.exp(-a * s) + np.exp(-b * s))
        for a, b in others
    ])
    assert abs(slope) < 1e-6


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: class_prototypes(FEATURES, [0, 0, 0, 0], 2), "classes \\[1\\] have none"),
        (lambda: class_prototypes(FEATURES, [0, 0, 1, 2], 2), "class ids in \\[0, 2\\)"),
        (lambda: prototype_scores(FEATURES, FEATURES, metric="manhattan"), "Known: cosine, euclidean"),
        (lambda: prototype_scores(FEATURES, FEATURES, temperature=0), "positive number"),
        (lambda: dense_from_prototypes(FEATURES, temperature=-1.0), "positive number"),
    ],
    ids=["empty class", "label out of range", "unknown metric", "zero temperature", "negative temperature"],
)
def test_bad_arguments_are_refused_with_the_accepted_values(call, message):
    with pytest.raises(ValueError, match=message):
        call()
