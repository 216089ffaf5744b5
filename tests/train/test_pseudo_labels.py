"""The pseudo-label rule against hand-computed cases, and the per-round summary."""

import numpy as np
import pytest

from tfl.train.pseudo_labels import round_summary
from tfl.train.pseudo_labels import select_pseudo_labels

# Top probabilities: 0.95 (0), 0.90 (0), 0.89 (0), 0.99 (1), 0.92 (1), 0.60 (1), 0.97 (0).
PROBABILITIES = np.array(
    [[0.95, 0.05], [0.90, 0.10], [0.89, 0.11], [0.01, 0.99], [0.08, 0.92], [0.40, 0.60], [0.97, 0.03]]
)


def test_only_examples_at_or_above_the_threshold_are_candidates():
    pseudo = select_pseudo_labels(PROBABILITIES, 0.9, balance="none")
    # 0.90 is kept (>=), 0.89 and 0.60 are not
    assert pseudo.labels.tolist() == [0, 0, -1, 1, 1, -1, 0]
    assert pseudo.candidates.tolist() == [3, 2]
    np.testing.assert_allclose(pseudo.confidence, PROBABILITIES.max(axis=1), rtol=1e-6)


def test_equal_proportions_take_as_many_per_class_as_the_rarest_class_has_the_most_confident_first():
    pseudo = select_pseudo_labels(PROBABILITIES, 0.9)
    # class 0 has 3 candidates, class 1 has 2: two each; class 0 keeps 0.97 and 0.95, not 0.90
    assert pseudo.labels.tolist() == [0, -1, -1, 1, 1, -1, 0]


def test_proportional_quota_follows_the_labelled_class_frequencies():
    # labelled 2:1 -> f = (2/3, 1/3); candidates (3, 2); K = min(3 / (2/3), 2 / (1/3)) = 4.5
    # n = floor(f * K) = (3, 1): every class-0 candidate, the most confident class-1 one (0.99)
    pseudo = select_pseudo_labels(PROBABILITIES, 0.9, labelled_counts=[20, 10])
    assert pseudo.labels.tolist() == [0, 0, -1, 1, -1, -1, 0]


def test_a_class_without_labels_takes_no_pseudo_label_and_does_not_limit_the_others():
    pseudo = select_pseudo_labels(PROBABILITIES, 0.9, labelled_counts=[5, 0])
    assert pseudo.labels.tolist() == [0, 0, -1, -1, -1, -1, 0]


def test_a_class_without_candidates_stops_a_proportional_round():
    one_sided = select_pseudo_labels(PROBABILITIES, 0.96)  # 0.97 (class 0) and 0.99 (class 1): one each
    assert one_sided.labels.tolist() == [-1, -1, -1, 1, -1, -1, 0]
    none_of_one_class = select_pseudo_labels(PROBABILITIES[[0, 1, 6]], 0.9)
    assert none_of_one_class.accepted.size == 0 and none_of_one_class.candidates.tolist() == [3, 0]


@pytest.mark.parametrize("threshold", [0, -0.1, 1.01, True, "0.9"])
def test_a_threshold_outside_zero_one_is_refused_naming_it(threshold):
    with pytest.raises(ValueError, match=r"\(0, 1\].*threshold="):
        select_pseudo_labels(PROBABILITIES, threshold)


def test_threshold_one_accepts_only_certain_examples():
    pseudo = select_pseudo_labels(np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), 1.0)
    assert pseudo.labels.tolist() == [0, 1, -1]


def test_bad_balance_counts_and_shapes_are_refused():
    with pytest.raises(ValueError, match="Unknown pseudo-label balance 'rarest'. Known: proportional, none"):
        select_pseudo_labels(PROBABILITIES, 0.9, balance="rarest")
    with pytest.raises(ValueError, match="labelled_counts"):
        select_pseudo_labels(PROBABILITIES, 0.9, labelled_counts=[1, 2, 3])
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        select_pseudo_labels(np.array([0.9, 0.1]), 0.9)


def test_round_summary_counts_accuracies_and_what_changed_since_the_previous_round():
    pseudo = select_pseudo_labels(PROBABILITIES, 0.9, balance="none")  # [0, 0, -1, 1, 1, -1, 0]
    truth = np.array([0, 1, 0, 1, -1, 1, 0])  # example 4's true class unknown
    previous = np.array([0, -1, 0, 0, -1, -1, 1])
    summary = round_summary(pseudo, previous, truth, ("ants", "bees"))
    ants, bees = summary["per_class"]["ants"], summary["per_class"]["bees"]
    assert (ants["candidates"], ants["accepted"], ants["known"], ants["correct"]) == (3, 3, 3, 2)
    assert ants["accuracy"] == pytest.approx(2 / 3)
    assert (bees["candidates"], bees["accepted"], bees["known"], bees["correct"]) == (2, 2, 1, 1)
    assert bees["accuracy"] == 1.0
    assert summary["accepted"] == 5
    assert summary["accuracy"] == pytest.approx(3 / 4)
    # added: 1 and 4 (not taken before); dropped: 2; changed: 3 (0 -> 1) and 6 (1 -> 0)
    assert (summary["added"], summary["dropped"], summary["changed"]) == (2, 1, 2)


def test_round_summary_without_true_labels_reports_no_accuracy():
    summary = round_summary(select_pseudo_labels(PROBABILITIES, 0.9), None, None, ("ants", "bees"))
    assert summary["accuracy"] is None
    assert all(entry["accuracy"] is None and entry["known"] == 0 for entry in summary["per_class"].values())
    assert summary["added"] == summary["accepted"] == 4 and summary["dropped"] == summary["changed"] == 0
