"""`sample_episodes`: N-way K-shot index draws, disjoint, balanced, reproducible, with clear errors."""

import numpy as np
import pytest

from tfl.data import sample_episodes

# Uneven classes (6 to 14 examples), shuffled so indices do not follow the classes.
LABELS = np.random.default_rng(1).permutation(np.repeat(np.arange(6), [6, 8, 10, 12, 14, 9]))


@pytest.fixture(scope="module")
def episodes():
    return sample_episodes(LABELS, ways=4, shots=2, queries=3, episodes=200, seed=0)


def test_support_and_query_never_share_an_example(episodes):
    for support, query in zip(episodes.support.reshape(200, -1), episodes.query.reshape(200, -1)):
        assert not set(support) & set(query)
        assert len(set(support)) == support.size and len(set(query)) == query.size


def test_every_class_of_an_episode_has_shots_support_and_queries_query_examples_of_itself(episodes):
    assert episodes.support.shape == (200, 4, 2) and episodes.query.shape == (200, 4, 3)
    np.testing.assert_array_equal(LABELS[episodes.support], np.repeat(episodes.classes[:, :, None], 2, axis=2))
    np.testing.assert_array_equal(LABELS[episodes.query], np.repeat(episodes.classes[:, :, None], 3, axis=2))
    assert all(len(set(row)) == 4 for row in episodes.classes)


def test_episode_labels_are_the_class_positions_in_order(episodes):
    np.testing.assert_array_equal(episodes.support_labels()[0], [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(episodes.query_labels()[5], np.repeat(np.arange(4), 3))


def test_every_class_is_drawn_about_equally_often(episodes):
    counts = np.bincount(episodes.classes.ravel(), minlength=6)
    assert counts.sum() == 800 and counts.min() > 800 / 6 * 0.7


def test_the_same_seed_draws_the_same_episodes_and_another_seed_others(episodes):
    again = sample_episodes(LABELS, ways=4, shots=2, queries=3, episodes=200, seed=0)
    other = sample_episodes(LABELS, ways=4, shots=2, queries=3, episodes=200, seed=1)
    np.testing.assert_array_equal(again.support, episodes.support)
    np.testing.assert_array_equal(again.query, episodes.query)
    assert not np.array_equal(other.support, episodes.support)


def test_too_few_classes_names_the_counts_and_the_fix():
    with pytest.raises(ValueError, match=r"A 7-way episode needs 7 classes; the labelled set has 6 .*at most 6"):
        sample_episodes(LABELS, ways=7)


def test_a_class_short_of_shots_plus_queries_is_named_with_its_count():
    with pytest.raises(ValueError, match=r"shots \+ queries = 8 examples for an episode; 1 class has fewer \('ants': 6\).*at most 6"):
        sample_episodes(LABELS, ways=2, shots=3, queries=5, class_names=["ants", "b", "c", "d", "e", "f"])


@pytest.mark.parametrize("name", ["ways", "shots", "queries", "episodes"])
def test_a_setting_below_one_is_refused_by_name(name):
    with pytest.raises(ValueError, match=f"{name} is a whole number >= 1. Received: {name}=0"):
        sample_episodes(LABELS, **{name: 0})
