import numpy as np
import pytest

from tfl.adapt.alignment import DEFAULT_BANDWIDTH_FACTORS
from tfl.adapt.alignment import coral
from tfl.adapt.alignment import mmd


def _batch(n=64, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


@pytest.mark.parametrize("bandwidths", [None, (1.0,), (0.5, 2.0)], ids=["median", "one_width", "two_widths"])
def test_mmd_of_a_batch_with_itself_is_zero(bandwidths):
    assert float(mmd(_batch(), _batch(), bandwidths)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("bandwidths", [None, (2.0,)], ids=["median", "fixed"])
def test_mmd_grows_with_a_mean_shift(bandwidths):
    x, y = _batch(seed=0), _batch(seed=1)
    values = [float(mmd(x, y + shift, bandwidths)) for shift in (0.5, 1.0, 2.0)]
    assert values[0] < values[1] < values[2]
    assert float(mmd(x, y, bandwidths)) < values[0]


def test_unbiased_mmd_is_near_zero_for_two_samples_of_one_distribution_and_below_the_biased_one():
    x, y = _batch(256, seed=0), _batch(256, seed=1)
    unbiased = float(mmd(x, y, unbiased=True))
    assert abs(unbiased) < 0.01
    assert unbiased < float(mmd(x, y))


@pytest.mark.parametrize("m, n", [(1, 1), (3, 2), (16, 16)])
def test_the_median_bandwidth_is_the_median_distance_between_two_different_examples(m, n):
    x, y = _batch(m, seed=0), _batch(n, seed=1) + 1.0
    pooled = np.concatenate([x, y])
    distances = np.sqrt(((pooled[:, None] - pooled[None]) ** 2).sum(-1))
    median = float(np.median(distances[np.triu_indices(m + n, k=1)]))
    expected = mmd(x, y, [median * f for f in DEFAULT_BANDWIDTH_FACTORS])
    assert float(mmd(x, y)) == pytest.approx(float(expected), rel=1e-5)


def test_coral_of_a_batch_with_itself_is_zero():
    assert float(coral(_batch(), _batch())) == 0.0


def test_coral_grows_with_the_covariance_scale():
    x = _batch()
    values = [float(coral(x, scale * x)) for scale in (1.5, 2.0, 3.0)]
    assert 0.0 < values[0] < values[1] < values[2]


def test_coral_is_the_squared_frobenius_distance_of_covariances_over_4_d_squared():
    x, y = _batch(32, 5, seed=2), 2.0 * _batch(48, 5, seed=3) + 1.0
    expected = np.sum((np.cov(x, rowvar=False) - np.cov(y, rowvar=False)) ** 2) / (4 * 5**2)
    assert float(coral(x, y)) == pytest.approx(expected, rel=1e-4)


def test_coral_ignores_a_mean_shift():
    x = _batch()
    assert float(coral(x, x + 5.0)) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize(
    "x, y, match",
    [
        (np.zeros((4, 3)), np.zeros((4, 2)), "same size"),
        (np.zeros((0, 3)), np.zeros((4, 3)), r"at least 1 example\(s\)"),
        (np.zeros((4,)), np.zeros((4, 3)), r"shapes \(m, d\)"),
    ],
    ids=["feature_sizes_differ", "no_example", "not_a_matrix"],
)
def test_bad_batches_are_refused(x, y, match):
    with pytest.raises(ValueError, match=match):
        mmd(x, y)


def test_bad_bandwidths_are_refused_with_their_value():
    with pytest.raises(ValueError, match=r"bandwidths=\(0\.0,\)"):
        mmd(_batch(), _batch(), bandwidths=(0.0,))


def test_coral_with_a_one_example_batch_counts_its_covariance_as_zero():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 4)).astype("float32")
    single = rng.normal(size=(1, 4)).astype("float32")
    expected = float(coral(x, np.zeros((2, 4), "float32")))  # a batch of two equal rows has zero covariance
    assert np.isfinite(float(coral(x, single)))
    np.testing.assert_allclose(float(coral(x, single)), expected, rtol=1e-6)


def test_unbiased_mmd_refuses_a_one_example_batch():
    with pytest.raises(ValueError, match=r"at least 2 example\(s\)"):
        mmd(np.zeros((1, 3)), np.zeros((4, 3)), unbiased=True)


def test_biased_mmd_of_a_one_example_batch_is_finite():
    x = _batch(16)
    assert np.isfinite(float(mmd(x, _batch(1, seed=1))))
