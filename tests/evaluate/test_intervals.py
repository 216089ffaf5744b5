"""The 95% t-interval of cross-validation scores, against a hand computation."""

import math

import pytest

from tfl.cross_validation import summarize_folds
from tfl.evaluate.intervals import mean_interval
from tfl.evaluate.intervals import t_quantile

# t_{0.975, 4}, as printed in any table of Student's t (and by scipy.stats.t.ppf(0.975, 4)).
T_975_4 = 2.7764451051977987


def test_the_paired_interval_matches_a_hand_computation():
    ours = [0.90, 0.85, 0.95, 0.80, 0.88]
    theirs = [0.70, 0.75, 0.72, 0.60, 0.80]
    rows = [
        {"accuracy": a, "macro_f1": a, "auc_roc": None, "compare": {"accuracy": b, "macro_f1": b, "auc_roc": 0.5}}
        for a, b in zip(ours, theirs)
    ]
    differences = [a - b for a, b in zip(ours, theirs)]
    mean = sum(differences) / 5
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / 4)
    half = T_975_4 * sd / math.sqrt(5)

    cv = summarize_folds(rows)
    paired = cv.difference["accuracy"]

    assert paired["mean"] == pytest.approx(mean)
    assert paired["std"] == pytest.approx(sd)
    assert paired["ci95"] == pytest.approx([mean - half, mean + half])
    assert paired["n"] == 5
    assert cv.difference["auc_roc"] == {"mean": None, "std": None, "ci95": None, "n": 0}  # undefined on our side


def test_the_quantile_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")  # keras-tuner[bayesian] installs it
    degrees = (1, 4, 9, 29, 30, 31, 60, 500)

    ours = [t_quantile(df) for df in degrees]

    assert ours == pytest.approx([float(stats.t.ppf(0.975, df)) for df in degrees], abs=1e-8)


def test_the_quantile_matches_published_values_without_scipy():
    # Student's t table, 0.975 column: df 1, 2, 10, 30, and the normal limit.
    assert [round(t_quantile(df), 4) for df in (1, 2, 10, 30)] == [12.7062, 4.3027, 2.2281, 2.0423]
    assert t_quantile(100_000) == pytest.approx(1.95996, abs=1e-4)


def test_one_value_has_no_spread_and_none_values_are_left_out():
    assert mean_interval([0.5, None]) == {"mean": 0.5, "std": None, "ci95": None, "n": 1}
    assert mean_interval([0.7, 0.7, 0.7])["ci95"] == pytest.approx([0.7, 0.7])


@pytest.mark.parametrize("df", [0, 1.5])
def test_degrees_of_freedom_are_whole_and_positive(df):
    with pytest.raises(ValueError, match="Received: df="):
        t_quantile(df)


def test_an_interval_is_cut_at_the_bounds_the_quantity_cannot_leave():
    # 3 folds at 0.6, 1.0, 1.0: mean 0.8667, std 0.2309, t(2) = 4.3027 -> 0.8667 +- 0.5737.
    uncut = mean_interval([0.6, 1.0, 1.0])
    assert uncut["ci95"] == pytest.approx([0.2930, 1.4404], abs=1e-4)
    cut = mean_interval([0.6, 1.0, 1.0], bounds=(0, 1))
    assert cut["ci95"] == pytest.approx([0.2930, 1.0], abs=1e-4)
    assert (cut["mean"], cut["std"]) == (uncut["mean"], uncut["std"])
    assert mean_interval([-0.9, 0.1, 0.1], bounds=(-1, 1))["ci95"][0] == -1


def test_cross_validation_summaries_stay_inside_what_a_metric_can_be():
    from tfl.cross_validation import summarize_folds

    rows = [{"accuracy": a, "macro_f1": a, "auc_roc": a} for a in (0.6, 1.0, 1.0)]
    summary = summarize_folds(rows).summary
    assert all(0 <= v <= 1 for metric in ("accuracy", "macro_f1", "auc_roc") for v in summary[metric]["ci95"])
