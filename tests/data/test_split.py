"""The held-out split of multi-label examples: each label held out in about its share, none lost to training."""

import numpy as np
import pytest

from tfl.data.split import iterative_stratification
from tfl.data.split import multi_label_split
from tfl.data.split import split_examples
from tfl.data.split import stratified_split


def _multi_hot(seed, n=80):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 5)) < np.array([0.6, 0.3, 0.2, 0.1, 0.05])).astype(np.int64)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fraction", [0.2, 0.3])
def test_each_label_is_held_out_in_about_its_share(seed, fraction):
    hot = _multi_hot(seed)
    train, held_out = multi_label_split(hot, fraction, seed)

    assert sorted([*train, *held_out]) == list(range(len(hot)))
    for label in range(hot.shape[1]):
        count = hot[:, label].sum()
        assert abs(hot[held_out, label].sum() - fraction * count) < 1.0 + 1e-9, (label, count)
    assert abs(len(held_out) - fraction * len(hot)) <= 2


def test_a_label_that_is_never_a_rows_first_keeps_rows_for_training():
    # 'b' comes only beside 'a': split by each row's first class, both of its rows could be held out.
    hot = np.array([[1, 0]] * 8 + [[1, 1]] * 2)
    for seed in range(20):
        train, held_out = multi_label_split(hot, 0.5, seed)
        assert hot[train, 1].sum() == 1 and hot[held_out, 1].sum() == 1, seed


def test_a_labels_only_row_trains():
    hot = np.array([[1, 0]] * 6 + [[0, 1]])
    for seed in range(10):
        train, _ = multi_label_split(hot, 0.5, seed)
        assert 6 in train


def test_the_split_is_seeded():
    hot = _multi_hot(0)
    first = multi_label_split(hot, 0.25, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, multi_label_split(hot, 0.25, seed=3)))
    assert not np.array_equal(first[1], multi_label_split(hot, 0.25, seed=4)[1])


def test_split_examples_takes_class_ids_or_multi_hot_rows():
    keys = np.array([0, 0, 0, 1, 1, 1])
    assert all(np.array_equal(a, b) for a, b in zip(split_examples(keys, 0.34, 1), stratified_split(keys, 0.34, 1)))
    hot = _multi_hot(1)
    assert all(np.array_equal(a, b) for a, b in zip(split_examples(hot, 0.3, 1), multi_label_split(hot, 0.3, 1)))


def test_iterative_stratification_fills_unequal_parts_in_proportion():
    hot = _multi_hot(2, n=100)
    parts = iterative_stratification(hot, (0.5, 0.3, 0.2), np.random.default_rng(0))
    assert np.bincount(parts, minlength=3).tolist() == pytest.approx([50, 30, 20], abs=2)
