"""The prototype maths (tfl/model/prototypes.py) against values computed by hand."""

import numpy as np
import pytest

from tfl.model.prototypes import class_prototypes
from tfl.model.prototypes import dense_from_prototypes
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
