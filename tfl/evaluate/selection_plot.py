"""The figure of `tfl rank`: each candidate's scores against its cost."""

from matplotlib.figure import Figure

RECOMMENDED_GID = "recommended"


def plot_rank(rows, recommended=None):
    """LogME and probe accuracy against latency, one point per candidate.

    Args:
        rows: dicts with `name`, `logme`, `probe_accuracy` and `latency_ms`,
            as in `rank.json`'s `candidates`.
        recommended: the name of the recommended candidate, ringed in red
            (gid "recommended") on both axes.

    Returns:
        A `Figure` with two axes side by side (LogME, probe accuracy), the
        latency on a log scale when it spans more than a factor of 5, each
        point named.

    Examples:

    >>> rows = [{"name": "mobilenet_025:imagenet", "logme": -0.40, "probe_accuracy": 0.86, "latency_ms": 1.4},
    ...         {"name": "mobilenet_025:none", "logme": -0.78, "probe_accuracy": 0.61, "latency_ms": 1.4}]
    >>> figure = plot_rank(rows, recommended="mobilenet_025:imagenet")
    >>> len(figure.axes)
    2
    """
    rows = list(rows)
    if not rows:
        raise ValueError("plot_rank needs at least one candidate. Received: rows=[]")
    figure = Figure(figsize=(11, 4.4), layout="constrained")
    axes = figure.subplots(1, 2)
    latencies = [row["latency_ms"] for row in rows]
    log_scale = max(latencies) > 5 * min(latencies)
    for ax, key, label in ((axes[0], "logme", "LogME"), (axes[1], "probe_accuracy", "probe accuracy (k-fold)")):
        for row in rows:
            ax.scatter(row["latency_ms"], row[key], s=36, color="tab:blue")
            ax.annotate(row["name"], (row["latency_ms"], row[key]), textcoords="offset points",
                        xytext=(5, 4), fontsize=8)
            if row["name"] == recommended:
                ax.scatter(row["latency_ms"], row[key], s=160, facecolors="none", edgecolors="tab:red",
                           linewidths=1.6, gid=RECOMMENDED_GID)
        if log_scale:
            ax.set_xscale("log")
        ax.margins(x=0.3, y=0.12)  # room for the names
        ax.set_xlabel("latency (ms per example, this machine)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title("LogME against cost")
    axes[1].set_title("linear probe against cost")
    return figure
