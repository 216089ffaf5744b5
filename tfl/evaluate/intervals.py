"""Mean, standard deviation and a 95% interval of scores: a few folds, or many episodes.

For a few folds of a cross-validation (`mean_interval`) the interval is
Student's: `mean ± t_{0.975, n-1} · sd / √n`, with the sample standard
deviation (`ddof=1`). `t_quantile` computes the quantile itself (NumPy
only), the same with or without SciPy installed.

For hundreds of few-shot episodes (`episode_interval`) it is the few-shot
field's normal interval, `mean ± 1.96 · sd / √n` (Snell et al. 2017; Chen et
al. 2019): at n = 600 the t quantile is 1.9639, so the two differ by 0.2%
of the half-width; the field's is used so the figures compare with theirs.
"""

import math

import numpy as np


def t_quantile(df, probability=0.975):
    """The `probability` quantile of Student's t with `df` degrees of freedom.

    Computed here, without SciPy: the t density integrated by Simpson's rule
    (4,000 intervals) and the quantile found by bisection, which agrees with
    `scipy.stats.t.ppf` to better than 1e-8.

    Examples:

    >>> round(t_quantile(4), 4)
    2.7764
    >>> round(t_quantile(1000), 4)
    1.9623
    """
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"df is a whole number >= 1. Received: df={df!r}")
    if not 0.5 <= probability < 1:
        raise ValueError(f"probability is in [0.5, 1). Received: probability={probability!r}")
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < probability:
        high *= 2.0
    for _ in range(80):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if _t_cdf(middle, df) < probability else (low, middle)
    return 0.5 * (low + high)


def _t_cdf(t, df):
    """P(T <= t) for t >= 0: one half plus the density integrated from 0 to t."""
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    x = np.linspace(0.0, t, 4001)
    density = np.exp(log_norm - (df + 1) / 2 * np.log1p(x * x / df))
    step = t / 4000
    simpson = step / 3 * (density[0] + density[-1] + 4 * density[1:-1:2].sum() + 2 * density[2:-1:2].sum())
    return 0.5 + simpson


def mean_interval(values, bounds=None):
    """The mean, standard deviation and 95% t-interval of `values`.

    None values (a metric undefined on a fold) are left out.

    Args:
        values: numbers, e.g. one metric of every fold.
        bounds: `(low, high)` the quantity cannot leave, e.g. `(0, 1)` for
            an accuracy: the interval is cut there (with 3 folds a
            t-interval of accuracies can reach past 1). None: not cut.

    Returns:
        A dict: `mean`, `std` (ddof=1), `ci95` (`[low, high]`) and `n`;
        with fewer than 2 values `std` and `ci95` are None, and with none
        `mean` too.

    Examples:

    >>> summary = mean_interval([0.8, 0.9, 0.85, 0.95, 0.9])
    >>> round(summary["mean"], 3), round(summary["std"], 4), [round(v, 4) for v in summary["ci95"]]
    (0.88, 0.057, [0.8092, 0.9508])
    >>> mean_interval([0.6, 1.0, 1.0], bounds=(0, 1))["ci95"][1]
    1.0
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
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"mean": mean, "std": std, "ci95": [low, high], "n": n}


def episode_interval(accuracies):
    """The mean accuracy over episodes and its 95% interval, `1.96 · sd / √n`.

    Args:
        accuracies: one accuracy per episode (2 or more).

    Returns:
        A dict: `mean`, `std` (the sample standard deviation, ddof=1),
        `plus_minus` (the half-width `1.96 · std / √n`), `ci95`
        (`[mean - plus_minus, mean + plus_minus]`) and `episodes` (n).

    Examples:

    >>> summary = episode_interval([0.6, 0.8, 0.7, 0.9])
    >>> round(summary["mean"], 3), round(summary["plus_minus"], 4)
    (0.75, 0.1265)
    """
    values = np.asarray(accuracies, dtype=np.float64).reshape(-1)
    if values.size < 2:
        raise ValueError(f"An interval needs 2 or more episodes. Received {values.size} accuracies.")
    mean = float(values.mean())
    std = float(values.std(ddof=1))
    half = 1.96 * std / math.sqrt(values.size)
    return {"mean": mean, "std": std, "plus_minus": half, "ci95": [mean - half, mean + half], "episodes": values.size}


def paired_difference(fold, metric):
    """A fold's score minus the compared plan's (`fold["compare"]`), None if either is None.

    Examples:

    >>> round(paired_difference({"accuracy": 0.9, "compare": {"accuracy": 0.7}}, "accuracy"), 2)
    0.2
    """
    ours, theirs = fold.get(metric), fold["compare"].get(metric)
    return None if ours is None or theirs is None else ours - theirs
