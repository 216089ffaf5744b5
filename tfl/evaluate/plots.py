"""Figures of a run: training curves by stage, the confusion matrix, transfer vs scratch, fusion weights.

Each function returns a `matplotlib.figure.Figure` built directly, without
pyplot, so nothing depends on a display or a backend switch and figures can
be made from several threads. `save_figure` writes one as PNG atomically.
Domain adaptation has its own figure, in `tfl.evaluate.adaptation_plot`.

Figures carry what they mark, for code that checks them:
`figure.stage_boundaries` (the epochs where a new stage starts, one dashed
line each on every axes, with gid "stage_boundary") and `figure.stage_labels`
(one per stage).
"""

import itertools

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tfl.evaluate.heatmap import draw_heatmap
from tfl.io import write_atomically

BOUNDARY_GID = "stage_boundary"
# The history keys tfl.train.FusionWeightLogger writes (evaluate imports only config and
# data; a test keeps the two equal).
FUSION_WEIGHT_PREFIX = "fusion_weight_"
STAGE_LABEL_GID = "stage_label"
MAX_ANNOTATED_CLASSES = 30
# plot_transfer_vs_scratch: a colour per kind of method, the first keyword found in its
# name deciding ("transfer, head only" is a head only); then the colours left, in order.
_METHOD_COLORS = (("scratch", "tab:orange"), ("head only", "tab:green"), ("transfer", "tab:blue"))
_SPARE_COLORS = ("tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan")
# plot_training: a filled dot per training epoch and a larger ring per validation epoch,
# so a one-epoch curve (a single point) shows, and a ring around a dot where the two agree.
_TRAIN_STYLE = dict(linestyle="-", marker="o", markersize=4)
_VALIDATION_STYLE = dict(linestyle="--", marker="o", markersize=9, markerfacecolor="none", markeredgewidth=1.5)


def stage_label(unfreeze, trainable_stages=(), max_names=3):
    """A short name for a stage: "head", "all", "top 2: conv4, conv5", "conv5".

    Examples:

    >>> stage_label("top 3", ["conv3", "conv4", "conv5"])
    'top 3: conv3, conv4, conv5'
    >>> stage_label("top 5", ["c1", "c2", "c3", "c4", "c5"])
    'top 5: c1 … c5'
    """
    if unfreeze == "none":
        return "head"
    if unfreeze == "all":
        return "all"
    names = list(trainable_stages) or str(unfreeze).split("+")
    listed = ", ".join(names) if len(names) <= max_names else f"{names[0]} … {names[-1]}"
    return f"{unfreeze}: {listed}" if str(unfreeze).startswith("top ") else listed


def plot_training(history_or_report_stages, boundaries=None):
    """Loss and accuracy against the global epoch, with the stages marked.

    Args:
        history_or_report_stages: a `TrainingHistory`, or the list of stage
            dicts in `report["stages"]`.
        boundaries: the epoch each stage starts at (`report["boundaries"]`);
            by default each stage's `first_epoch`.

    Returns:
        A `Figure` with two axes (loss, accuracy). Epochs count from 1; a
        dashed line separates consecutive stages and each stage is named at
        the top ("head" for `unfreeze="none"`, else the stages it unfroze).
        Training epochs are dots, validation epochs rings (one epoch shows
        as a point); one legend for both axes sits below them.

    Examples:

    >>> stages = [{"unfreeze": "none", "trainable_stages": [], "first_epoch": 0, "epochs": 2,
    ...            "after_recalibration": None,
    ...            "history": {"loss": [0.9, 0.7], "val_loss": [0.8, 0.75], "accuracy": [0.5, 0.6],
    ...                        "val_accuracy": [0.5, 0.55], "fusion_weight_source": [0.5, 0.6]}}]
    >>> figure = plot_training(stages, [0])
    >>> save_figure(figure, "runs/exp1/training.png")
    'runs/exp1/training.png'
    """
    stages = [_stage_dict(stage) for stage in getattr(history_or_report_stages, "stages", history_or_report_stages)]
    if not stages:
        raise ValueError("plot_training needs at least one stage. Received: an empty history")
    if boundaries is None:
        boundaries = [stage["first_epoch"] for stage in stages]
    boundaries = [int(b) for b in boundaries]
    if len(boundaries) != len(stages):
        raise ValueError(
            f"boundaries must give one epoch per stage ({len(stages)}). Received: boundaries={boundaries}"
        )
    labels = [stage_label(s["unfreeze"], s.get("trainable_stages") or ()) for s in stages]

    figure = Figure(figsize=(11, 4.2), layout="constrained")
    for ax, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        for prefix, style in (("", _TRAIN_STYLE), ("val_", _VALIDATION_STYLE)):
            x, y = [], []
            for start, stage in zip(boundaries, stages):
                values = stage["history"].get(prefix + metric, [])
                x.extend(start + 1 + i for i in range(len(values)))
                y.extend(values)
            if y:
                ax.plot(x, y, **style, label="validation" if prefix else "train")
        recalibrated = [
            (start + s["epochs"], s["after_recalibration"][metric])
            for start, s in zip(boundaries, stages)
            if s.get("after_recalibration") and metric in s["after_recalibration"]
        ]
        if recalibrated:
            ax.plot(*zip(*recalibrated), "k*", markersize=9, label="validation, BatchNorm statistics recomputed")
        _mark_stages(ax, boundaries, stages, labels)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.set_xlim(boundaries[0] + 0.5, boundaries[-1] + stages[-1]["epochs"] + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # whole epochs, also for one
        ax.margins(y=0.18)
    _legend_below(figure)
    figure.stage_boundaries = boundaries[1:]
    figure.stage_labels = labels
    return figure


def _legend_below(figure):
    """One legend for all axes, below them, where it covers no data."""
    entries = {}
    for ax in figure.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        figure.legend(entries.values(), entries.keys(), loc="outside lower center", ncols=len(entries), fontsize=8)


def plot_confusion_matrix(confusion_matrix, class_names, normalize=True):
    """A heatmap of a confusion matrix: true classes down, predictions across.

    Args:
        confusion_matrix: counts, shape `[C, C]` (rows: true classes).
        class_names: C names, for both axes.
        normalize: colour and write row fractions (recall on the diagonal)
            rather than counts; a row without examples stays 0.

    Returns:
        A `Figure`. Cells carry their value up to 30 classes (a smaller font
        beyond 20), none beyond.

    Examples:

    >>> figure = plot_confusion_matrix([[5, 1], [2, 4]], ["cat", "dog"])
    >>> [text.get_text() for text in figure.axes[0].texts]
    ['0.83', '0.17', '0.33', '0.67']
    """
    counts = np.asarray(confusion_matrix, dtype=np.float64)
    names = [str(name) for name in class_names]
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(names):
        raise ValueError(
            f"confusion_matrix must be square with one row per class ({len(names)} names). "
            f"Received: confusion_matrix with shape {counts.shape}"
        )
    n = len(names)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    else:
        values = counts
    side = min(4.0 + 0.45 * n, 16.0)
    figure = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else max(values.max(), 1))
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the row" if normalize else "count")
    tick_size = 9 if n <= 20 else 6
    ax.set_xticks(range(n), names, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center", fontsize=tick_size)
    ax.set_yticks(range(n), names, fontsize=tick_size)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix" + (" (row fractions)" if normalize else ""))
    if n <= MAX_ANNOTATED_CLASSES:
        threshold = (1 if normalize else values.max()) / 2
        for i in range(n):
            for j in range(n):
                text = f"{values[i, j]:.2f}" if normalize else f"{int(values[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=10 if n <= 10 else 8 if n <= 20 else 5,
                        color="white" if values[i, j] > threshold else "black")
    return figure


def plot_transfer_vs_scratch(rows, title="transfer vs scratch"):
    """Accuracy against labels per class, one line per method.

    Args:
        rows: dicts with `labels_per_class` (a number, or "all"), `method`
            and `accuracy`, as in the demos' `summary["rows"]`.
        title: the figure's title (the demos name their data set).

    Returns:
        A `Figure`. The x axis is categorical: the numbers in increasing
        order, then any text value such as "all". A method has the same
        colour in every figure: blue for transfer (fine-tuned), green for
        a head on frozen features ("head only"), orange for scratch.

    Examples:

    >>> rows = [{"labels_per_class": n, "method": method, "accuracy": accuracy}
    ...         for n, method, accuracy in [(5, "transfer", 0.8), (5, "scratch", 0.4),
    ...                                     ("all", "transfer", 0.95), ("all", "scratch", 0.9)]]
    >>> figure = plot_transfer_vs_scratch(rows)
    >>> [label.get_text() for label in figure.axes[0].get_xticklabels()]
    ['5', 'all']
    """
    rows = list(rows)
    if not rows:
        raise ValueError("plot_transfer_vs_scratch needs at least one row. Received: rows=[]")
    sizes = sorted({row["labels_per_class"] for row in rows}, key=_size_order)
    position = {size: i for i, size in enumerate(sizes)}
    methods = list(dict.fromkeys(row["method"] for row in rows))

    figure = Figure(figsize=(7, 4.2), layout="constrained")
    ax = figure.subplots()
    for method, color in zip(methods, _method_colors(methods)):
        points = sorted(
            (position[row["labels_per_class"]], row["accuracy"]) for row in rows if row["method"] == method
        )
        ax.plot(*zip(*points), marker="o", color=color, label=method)
    ax.set_xticks(range(len(sizes)), [str(size) for size in sizes])
    ax.set_xlabel("labelled examples per class")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return figure


def _method_colors(methods):
    """A colour per method by what it is (`_METHOD_COLORS`), the same in every
    figure: ["transfer", "scratch", "head only"] -> blue, orange, green."""
    spare = itertools.cycle(_SPARE_COLORS)
    return [
        next((color for keyword, color in _METHOD_COLORS if keyword in method.lower()), None) or next(spare)
        for method in methods
    ]


def plot_fusion_weights(history_or_report_stages, boundaries=None):
    """The learned mixing weights of a weighted fusion against the global epoch, stages marked.

    Args:
        history_or_report_stages: a `TrainingHistory`, or `report["stages"]`,
            whose histories hold `fusion_weight_<branch>` per epoch (logged by
            `tfl.train.FusionWeightLogger`).
        boundaries: the epoch each stage starts at; by default each stage's
            `first_epoch`.

    Returns:
        A `Figure` with one line per branch (its weight, 0 to 1) and a dashed
        line where each stage starts, like `plot_training`.

    Examples:

    >>> stages = [{"unfreeze": "none", "trainable_stages": [], "first_epoch": 0, "epochs": 2,
    ...            "after_recalibration": None,
    ...            "history": {"loss": [0.9, 0.7], "val_loss": [0.8, 0.75], "accuracy": [0.5, 0.6],
    ...                        "val_accuracy": [0.5, 0.55], "fusion_weight_source": [0.5, 0.6]}}]
    >>> figure = plot_fusion_weights(stages, [0])
    >>> save_figure(figure, "runs/fused/fusion_weights.png")
    'runs/fused/fusion_weights.png'
    """
    stages = [_stage_dict(stage) for stage in getattr(history_or_report_stages, "stages", history_or_report_stages)]
    keys = sorted({k for s in stages for k in s["history"] if k.startswith(FUSION_WEIGHT_PREFIX)})
    if not keys:
        raise ValueError(
            "No fusion weights in these stages: train a weighted fusion model with "
            "tfl.train.FusionWeightLogger among the callbacks."
        )
    if boundaries is None:
        boundaries = [stage["first_epoch"] for stage in stages]
    boundaries = [int(b) for b in boundaries]
    labels = [stage_label(s["unfreeze"], s.get("trainable_stages") or ()) for s in stages]
    figure = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = figure.subplots()
    for key in keys:
        x, y = [], []
        for start, stage in zip(boundaries, stages):
            values = stage["history"].get(key, [])
            x.extend(start + 1 + i for i in range(len(values)))
            y.extend(values)
        ax.plot(x, y, "-", marker="o", markersize=3, label=key[len(FUSION_WEIGHT_PREFIX):])
    _mark_stages(ax, boundaries, stages, labels)
    ax.set_ylim(0, 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mixing weight")
    ax.set_title("fusion: each branch's learned weight", fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="center right", fontsize=8)
    figure.stage_boundaries = boundaries[1:]
    figure.stage_labels = labels
    return figure


# plot_top_losses: what each example shows; a figure's texts with this gid are its rows.
TOP_LOSS_GID = "top_loss"
TOP_LOSS_TEXT_CHARS = 90


def plot_top_losses(records, images=None, texts=None, heatmaps=None):
    """The examples a model is most wrong about: a grid of images, or a list of texts.

    Args:
        records: `tfl.evaluate.top_losses(...)` (or `interpretation["top_losses"]`),
            highest loss first.
        images: one image per record, in its order, `[H, W, 3]` (or `[H, W]`,
            `[H, W, 1]`) with values in [0, 255], uint8 or float; e.g.
            `gather_examples(...)["images"]`. None for no images.
        texts: one text per record instead, shown cut to 90 characters.
        heatmaps: with `images`, one map per image with values in [0, 1]
            (e.g. Grad-CAM's, `tfl.explain`), drawn over it; or None.

    Returns:
        A `Figure`. With `images`: one axes per record, titled "actual /
        predicted" over "loss / probability of the actual class" (for
        multi-label records, the label lists over the loss), with its
        heatmap over it (an image with gid "heatmap"). Otherwise one
        axes listing a line per record: its index, that title and its text
        (a `Text` with gid "top_loss" each). `figure.top_loss_titles` holds
        the titles, in record order.

    Examples:

    >>> y_true, y_prob = predict_dataset(model, data.validation)
    >>> records = top_losses(y_true, y_prob, data.class_names, k=2)
    >>> shown = gather_examples(data.validation, [r["index"] for r in records])
    >>> figure = plot_top_losses(records, images=shown.get("images"))
    >>> len(figure.axes) >= 2
    True
    """
    records = list(records)
    if not records:
        raise ValueError("plot_top_losses needs at least one record. Received: records=[]")
    if images is not None and texts is not None:
        raise ValueError("Give images or texts to plot_top_losses, not both.")
    if heatmaps is not None and images is None:
        raise ValueError("plot_top_losses draws heatmaps over images: give images with heatmaps.")
    for name, values in (("images", images), ("texts", texts), ("heatmaps", heatmaps)):
        if values is not None and len(values) != len(records):
            raise ValueError(
                f"plot_top_losses needs one of {name} per record ({len(records)}). "
                f"Received: {len(values)} {name}"
            )
    multi_label = isinstance(records[0]["actual"], (list, tuple))
    titles = [_top_loss_title(record, multi_label) for record in records]
    heading = "actual / predicted / loss" + ("" if multi_label else " / probability of the actual class")
    n = len(records)
    if images is not None:
        columns = int(np.ceil(np.sqrt(n)))
        rows = -(-n // columns)
        figure = Figure(figsize=(2.6 * columns, 2.8 * rows + 0.6), layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for index, (ax, image, title) in enumerate(zip(axes, images, titles)):
            pixels = np.clip(np.asarray(image, dtype=np.float64), 0, 255).astype(np.uint8)
            if pixels.ndim == 3 and pixels.shape[-1] == 1:
                pixels = pixels[..., 0]
            ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=255)
            if heatmaps is not None:
                draw_heatmap(ax, heatmaps[index], pixels.shape)
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
        for ax in axes[n:]:
            figure.delaxes(ax)
        figure.suptitle(f"top losses: {heading}", fontsize=10)
    else:
        figure = Figure(figsize=(11, 0.5 + 0.42 * (n + 1)), layout="constrained")
        ax = figure.subplots()
        ax.set_axis_off()
        for row, (record, title) in enumerate(zip(records, titles)):
            line = f"#{record['index']}  " + title.replace("\n", " / ")
            if texts is not None:
                text = " ".join(str(texts[row]).split())
                cut = text if len(text) <= TOP_LOSS_TEXT_CHARS else text[: TOP_LOSS_TEXT_CHARS - 1] + "…"
                line += f'  "{cut}"'
            ax.text(0, 1 - (row + 0.5) / n, line, transform=ax.transAxes, va="center", fontsize=9,
                    family="monospace", gid=TOP_LOSS_GID)
        shown = "texts" if texts is not None else "example indices"
        ax.set_title(f"top losses ({shown}): {heading}", fontsize=10, loc="left")
    figure.top_loss_titles = titles
    return figure


def _top_loss_title(record, multi_label):
    if multi_label:
        actual = ", ".join(record["actual"]) or "(none)"
        predicted = ", ".join(record["predicted"]) or "(none)"
        return f"{actual} / {predicted}\n{record['loss']:.2f}"
    return f"{record['actual']} / {record['predicted']}\n{record['loss']:.2f} / {record['probability']:.2f}"


def save_figure(figure, path, dpi=100):
    """Writes `figure` as PNG to `path` atomically and returns `path`.

    The image goes to a temporary file in the same folder, which is then
    renamed over `path`; missing parent folders are created.

    Examples:

    >>> import matplotlib.pyplot as plt
    >>> figure, axes = plt.subplots()
    >>> save_figure(figure, "plots/empty.png")
    'plots/empty.png'
    """
    return write_atomically(path, lambda file: figure.savefig(file, format="png", dpi=dpi))


def _mark_stages(ax, boundaries, stages, labels):
    """A dashed line where each stage after the first starts, and each stage's label on top."""
    for start in boundaries[1:]:
        ax.axvline(start + 0.5, color="0.4", linestyle="--", linewidth=1, gid=BOUNDARY_GID)
    for start, stage, label in zip(boundaries, stages, labels):
        ax.text(
            start + 0.5 + stage["epochs"] / 2, 0.98, label,
            transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8,
            color="0.25", gid=STAGE_LABEL_GID, clip_on=True,
        )


def _stage_dict(stage):
    if isinstance(stage, dict):
        return stage
    return {name: getattr(stage, name) for name in
            ("unfreeze", "trainable_stages", "first_epoch", "epochs", "history", "after_recalibration")}


def _size_order(size):
    if isinstance(size, (int, float, np.integer, np.floating)) and not isinstance(size, bool):
        return (0, float(size), "")
    return (1, 0.0, str(size))


# plot_lr_finder: the marker at the suggested rate has this gid.
LR_SUGGESTION_GID = "lr_suggestion"


def plot_lr_finder(result):
    """The loss of a learning-rate range test against the rate, the suggestion marked.

    Args:
        result: a `tfl.train.LRFinderResult` or its `to_dict()`: it has
            `learning_rates`, `losses`, `smoothed_losses`, `suggestion`,
            `method` and, optionally, `suggestions` ({method: rate}) and
            `stopped_early`.

    Returns:
        A `Figure`: the loss of each step (faint) and the smoothed loss
        against the learning rate on a log axis; a marker at the suggested
        rate (gid "lr_suggestion"), its method and value in the legend; the
        other suggestions as smaller markers. `figure.suggestion` is the
        suggested rate. The y axis stops short of a diverged tail.

    Examples:

    >>> figure = plot_lr_finder(find_learning_rate(model, data, steps=8))
    >>> save_figure(figure, "runs/flowers/lr_finder.png")
    'runs/flowers/lr_finder.png'
    """
    record = result if isinstance(result, dict) else result.to_dict()
    rates = np.asarray(record["learning_rates"], dtype="float64")
    smoothed = np.asarray(record["smoothed_losses"], dtype="float64")
    if len(rates) < 2:
        raise ValueError(f"plot_lr_finder needs at least two steps. Received: {len(rates)} learning rate(s)")
    figure = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = figure.subplots()
    ax.plot(rates, record["losses"], "-", color="C0", alpha=0.3, linewidth=1, label="loss")
    ax.plot(rates, smoothed, "-", color="C0", label="smoothed loss")
    finite = np.isfinite(smoothed)

    def mark(rate, style, **kwargs):
        y = np.interp(np.log(rate), np.log(rates[finite]), smoothed[finite])
        ax.plot([rate], [y], style, linestyle="none", **kwargs)

    suggestion, method = float(record["suggestion"]), record["method"]
    mark(suggestion, "o", color="C3", markersize=9, gid=LR_SUGGESTION_GID, label=f"{method}: {suggestion:.2g}")
    others = {name: rate for name, rate in (record.get("suggestions") or {}).items() if name != method}
    for index, (name, rate) in enumerate(others.items()):
        mark(float(rate), "x", color=f"C{index + 4}", markersize=8, markeredgewidth=2, label=f"{name}: {rate:.2g}")
    values = smoothed[finite]
    low, first = values.min(), values[0]
    high = min(values.max(), low + 2 * (first - low)) if first > low else values.max()
    margin = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
    ax.set_ylim(low - margin, high + margin)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    stopped = ", stopped: the loss diverged" if record.get("stopped_early") else ""
    ax.set_title(f"learning-rate range test: {len(rates)} steps{stopped}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    figure.suggestion = suggestion
    return figure
