"""`plot_rank`: each candidate's scores against its cost, the recommended one ringed."""

import pytest

from tfl.evaluate import plot_rank
from tfl.evaluate.selection_plot import RECOMMENDED_GID

ROWS = [
    {"name": "a:imagenet", "logme": 0.3, "probe_accuracy": 0.95, "latency_ms": 1.5},
    {"name": "b:none", "logme": 0.1, "probe_accuracy": 0.80, "latency_ms": 30.0},
]


def test_both_axes_name_every_candidate_and_ring_the_recommended_one():
    figure = plot_rank(ROWS, recommended="a:imagenet")

    for ax in figure.axes:
        assert sorted(text.get_text() for text in ax.texts) == ["a:imagenet", "b:none"]
        assert [c.get_gid() for c in ax.collections].count(RECOMMENDED_GID) == 1
        assert ax.get_xscale() == "log"  # latencies 20 times apart


def test_no_rows_is_an_error():
    with pytest.raises(ValueError, match="at least one candidate"):
        plot_rank([])
