"""`plot_adaptation`: a domain-adaptation run by epoch, its loss terms and the target's scores.

Built without pyplot, like the figures of `tfl.evaluate.plots`; write one with
`tfl.evaluate.save_figure`.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def plot_adaptation(record):
    """Domain adaptation by epoch: the loss terms, and how the target fares.

    Args:
        record: `report["adaptation"]` (or an `AdaptationRecord`'s
            `to_dict()`): its `history` holds per-epoch `source_loss`,
            `target_loss`, `alignment_loss`, `target_im`, `target_snd` and,
            with a labelled target test set, `val_accuracy`.

    Returns:
        A `Figure` with two axes: the loss terms, then the held-out target
        accuracy (with the accuracy before adapting as a dotted line) and
        the unsupervised scores IM and SND on a second scale.

    Examples:

    >>> history = {"loss": [1.2, 0.9], "source_loss": [0.7, 0.6], "alignment_loss": [0.5, 0.3],
    ...            "target_im": [0.2, 0.4], "target_snd": [1.1, 1.3]}
    >>> record = {"method": "coral", "alpha": 1.0, "beta": 1.0, "align_weight": 1.0,
    ...           "num_target_labelled": 0, "history": history}
    >>> figure = plot_adaptation(record)
    >>> save_figure(figure, "runs/adapted/adaptation.png")
    'runs/adapted/adaptation.png'
    """
    history = record["history"]
    epochs = len(history.get("loss", []))
    if not epochs:
        raise ValueError("plot_adaptation needs at least one epoch of history. Received: an empty history")
    x = np.arange(1, epochs + 1)
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    losses, target = figure.subplots(1, 2)
    unused = set()
    if not record.get("num_target_labelled"):
        unused.add("target_loss")
    if record["method"] in ("source_only", "joint"):
        unused.add("alignment_loss")
    for key, label in (
        ("source_loss", "source loss"),
        ("target_loss", "target loss (labelled)"),
        ("alignment_loss", "alignment term"),
        ("loss", "objective J"),
    ):
        if key in history and key not in unused:
            losses.plot(x, history[key], "-", marker="o", markersize=3, label=label)
    losses.set_title(f"{record['method']}: alpha {record['alpha']:g}, beta {record['beta']:g}, "
                     f"lambda {record['align_weight']:g}", fontsize=10)
    losses.set_xlabel("epoch")
    losses.set_ylabel("loss")
    losses.legend(loc="best", fontsize=8)
    if "val_accuracy" in history:
        target.plot(x, history["val_accuracy"], "-", marker="o", markersize=3, color="C0",
                    label="held-out target accuracy")
        if record.get("target_accuracy_before") is not None:
            target.axhline(record["target_accuracy_before"], color="C0", linestyle=":", linewidth=1,
                           label="before adapting")
        target.set_ylabel("accuracy")
        target.legend(loc="upper left", fontsize=8)
    scores = target.twinx()
    for key, label, colour in (("target_im", "IM", "C2"), ("target_snd", "SND", "C3")):
        if key in history:
            scores.plot(x, history[key], "--", color=colour, label=f"{label} (unlabelled target)")
    scores.set_ylabel("unsupervised score (higher is better)")
    if scores.get_legend_handles_labels()[0]:
        scores.legend(loc="lower right", fontsize=8)
    if record.get("restored_epoch") is not None:
        target.axvline(record["restored_epoch"] + 1, color="0.4", linestyle="--", linewidth=1)
    target.set_xlabel("epoch")
    target.set_title("target domain", fontsize=10)
    target.margins(y=0.25)
    scores.margins(y=0.25)
    for ax in (losses, target):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return figure
