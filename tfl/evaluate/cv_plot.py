"""`plot_cross_validation`: per-fold accuracy with its mean and 95% interval.

Built without pyplot, like the figures of `tfl.evaluate.plots`; write one with
`tfl.evaluate.save_figure`.
"""

import numpy as np
from matplotlib.figure import Figure

from tfl.evaluate.intervals import paired_difference


def plot_cross_validation(cv, metric="accuracy"):
    """One point per fold, the mean as a line and the 95% interval as a band.

    Args:
        cv: the dict of `cv.json` (`CrossValidation.to_dict()`): `folds`
            (each with `repeat`, `fold`, the metric and, with a comparison,
            `compare`), the metric's summary and, with a comparison,
            `compare` and `difference` summaries.
        metric: "accuracy", "macro_f1" or "auc_roc".

    Returns:
        A `Figure`: the plan's folds (and the compared plan's); with a
        comparison a second axes holds the paired differences per fold.

    Examples:

    >>> folds = [{"repeat": 0, "fold": k, "accuracy": a} for k, a in enumerate([0.8, 0.9, 0.85])]
    >>> figure = plot_cross_validation({"folds": folds, "accuracy": mean_interval([0.8, 0.9, 0.85])})
    >>> len(figure.axes)
    1
    """
    folds = cv["folds"]
    compared = cv.get("difference") is not None
    figure = Figure(figsize=(11 if compared else 6.5, 4), layout="constrained")
    axes = figure.subplots(1, 2 if compared else 1, squeeze=False)[0]
    x = np.arange(len(folds))
    names = [f"{fold['repeat']}-{fold['fold']}" for fold in folds]
    series = [(cv.get("label", "plan"), [fold.get(metric) for fold in folds], cv[metric], "C0")]
    if compared:
        other = [fold["compare"].get(metric) for fold in folds]
        series.append((cv.get("compare_label", "compare"), other, cv["compare"][metric], "C1"))
    for label, values, summary, color in series:
        _points(axes[0], x, values, summary, color, label)
    axes[0].set_ylabel(f"held-out {metric}")
    axes[0].set_title(f"{metric} by fold: mean and 95% interval")
    if compared:
        differences = [paired_difference(fold, metric) for fold in folds]
        _points(axes[1], x, differences, cv["difference"][metric], "C2", "plan - compare")
        axes[1].axhline(0, color="black", linewidth=0.8)
        axes[1].set_ylabel(f"paired difference in {metric}")
        axes[1].set_title("paired difference by fold")
    for ax in axes:
        ax.set_xticks(x, names, rotation=90 if len(folds) > 12 else 0)
        ax.set_xlabel("fold (repeat-fold)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return figure




def _points(ax, x, values, summary, color, label):
    """The folds' values as points, the mean as a line, the interval as a band."""
    shown = [(i, v) for i, v in zip(x, values) if v is not None]
    if shown:
        ax.plot(*zip(*shown), "o", color=color, label=label)
    if summary["mean"] is None:
        return
    ax.axhline(summary["mean"], color=color, linestyle="--", linewidth=1)
    if summary["ci95"] is not None:
        ax.axhspan(*summary["ci95"], color=color, alpha=0.15)
