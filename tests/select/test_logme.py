"""`logme` against the marginal likelihood computed directly from the paper's model."""

import numpy as np
import pytest
from scipy.optimize import minimize

from tfl.select import logme


def _features(seed=0, n=60, dim=10, classes=3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    means = rng.normal(size=(classes, dim))
    return rng.normal(size=(n, dim)) + 0.8 * means[labels], labels


def _reference_evidence(features, target):
    """max over alpha, beta of log N(y | 0, F F^T / alpha + I / beta), divided by n.

    The Bayesian linear model's marginal likelihood written out directly (an
    n x n covariance, no SVD, no fixed point), maximised by Nelder-Mead over
    (log alpha, log beta) from a grid of starts.
    """
    n = len(target)
    gram = features @ features.T

    def negative_log_evidence(log_parameters):
        alpha, beta = np.exp(np.clip(log_parameters, -60.0, 60.0))
        covariance = gram / alpha + np.eye(n) / beta
        _, log_det = np.linalg.slogdet(covariance)
        return 0.5 * (log_det + target @ np.linalg.solve(covariance, target) + n * np.log(2 * np.pi))

    options = {"xatol": 1e-10, "fatol": 1e-14, "maxiter": 5000}
    fits = [
        minimize(negative_log_evidence, [a, b], method="Nelder-Mead", options=options)
        for a in (-3.0, 0.0, 3.0)
        for b in (-3.0, 0.0, 3.0)
    ]
    return -min(fit.fun for fit in fits) / n


@pytest.mark.parametrize("shape", [(60, 10), (12, 30)], ids=["more_examples_than_features", "more_features"])
def test_logme_is_the_mean_over_classes_of_the_maximised_evidence(shape):
    features, labels = _features(n=shape[0], dim=shape[1])
    if shape[0] < 20:
        labels = np.arange(shape[0]) % 3  # every class present
    reference = np.mean([_reference_evidence(features, (labels == c).astype(float)) for c in range(3)])

    assert logme(features, labels) == pytest.approx(reference, abs=1e-6)


@pytest.mark.parametrize("scale", [1e-10, 1e-3, 7.0, 1e6])
def test_logme_does_not_change_when_the_features_are_scaled(scale):
    features, labels = _features(seed=1)

    assert logme(scale * features, labels) == pytest.approx(logme(features, labels), abs=1e-6)


def test_informative_features_score_higher_than_noise():
    features, labels = _features(seed=2, n=200)
    noise = np.random.default_rng(3).normal(size=features.shape)

    assert logme(features, labels) > logme(noise, labels) + 0.05


def test_a_target_matrix_is_the_mean_of_its_columns():
    features, labels = _features(seed=4)
    one_hot = np.eye(3)[labels]

    assert logme(features, one_hot) == pytest.approx(logme(features, labels), abs=1e-12)


@pytest.mark.parametrize(
    "features, labels, message",
    [
        (np.ones(5), np.arange(5), "2-D array"),
        (np.zeros((5, 2)), np.arange(5), "all zeros"),
        (np.full((5, 2), np.nan), np.arange(5), "non-finite"),
        (np.ones((5, 2)), np.arange(4), "one row per feature row"),
        (np.ones((5, 2)), np.linspace(0, 1, 5), "integer class ids"),
    ],
    ids=["1d_features", "zero_features", "nan_features", "label_count", "float_labels"],
)
def test_bad_inputs_name_the_problem(features, labels, message):
    with pytest.raises(ValueError, match=message):
        logme(features, labels)
