"""Mean, standard deviation and a 95% t-interval of a few scores (folds of a cross-validation).

The interval is Student's: `mean ± t_{0.975, n-1} · sd / √n`, with the sample
standard deviation (`ddof=1`). `t_quantile` takes the quantile from SciPy
when it is installed and from a table otherwise (exact to the 4 decimals
shown for 1..30 degrees of freedom; beyond 30, 2.0423 at 30 falls towards
1.96 as `1.96 + 2.4 / df`, within 0.003).
"""

import math

import numpy as np

# t_{0.975, df} for df = 1..30.
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


def t_quantile(df):
    """The 0.975 quantile of Student's t with `df` degrees of freedom.

    Examples:

    >>> round(t_quantile(4), 4)
    2.7764
    """
    if not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"df is a whole number >= 1. Received: df={df!r}")
    try:
        from scipy import stats
    except ImportError:
        return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df
    return float(stats.t.ppf(0.975, df))


def mean_interval(values):
    """The mean, standard deviation and 95% t-interval of `values`.

    None values (a metric undefined on a fold) are left out.

    Args:
        values: numbers, e.g. one metric of every fold.

    Returns:
        A dict: `mean`, `std` (ddof=1), `ci95` (`[low, high]`) and `n`;
        with fewer than 2 values `std` and `ci95` are None, and with none
        `mean` too.

    Examples:

    >>> summary = mean_interval([0.8, 0.9, 0.85, 0.95, 0.9])
    >>> round(summary["mean"], 3), round(summary["std"], 4), [round(v, 4) for v in summary["ci95"]]
    (0.88, 0.057, [0.8092, 0.9508])
    """
    values = [float(v) for v in values if v is not None]
    n = len(values)
    if n == 0:
        return {"mean": None, "std": None, "ci95": None, "n": 0}
    mean = float(np.mean(values))
    if n < 2:
        return {"mean": mean, "std": None, "ci95": None, "n": 1}
    std = float(np.std(values, ddof=1))
    half = t_quantile(n - 1) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95": [mean - half, mean + half], "n": n}


def paired_difference(fold, metric):
    """A fold's score minus the compared plan's (`fold["compare"]`), None if either is None.

    Examples:

    >>> round(paired_difference({"accuracy": 0.9, "compare": {"accuracy": 0.7}}, "accuracy"), 2)
    0.2
    """
    ours, theirs = fold.get(metric), fold["compare"].get(metric)
    return None if ours is None or theirs is None else ours - theirs
