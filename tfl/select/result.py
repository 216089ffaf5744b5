"""What `rank` returns: each candidate's scores and costs, best first, and a recommendation."""

import dataclasses

SORT_KEYS = ("logme", "probe_accuracy")


@dataclasses.dataclass(frozen=True)
class CandidateScore:
    """The scores and costs of one candidate.

    Attributes:
        name: `BACKBONE:WEIGHTS`.
        backbone: the registered backbone name.
        weights: "imagenet", None (random) or a weights file path.
        logme: the LogME score of its frozen features (higher is better).
        probe_accuracy: mean held-out accuracy of a linear probe under
            stratified k-fold cross-validation on the training examples.
        probe_log_loss: the mean held-out log-loss of the same probes.
        parameters: the classifier's parameter count.
        latency_ms: milliseconds per example of the frozen feature model on
            this machine, after warm-up.
        feature_seconds: seconds to build the model's function and extract
            the features of every scored example.
        feature_dim: the pooled feature size.
    """

    name: str
    backbone: str
    weights: str | None
    logme: float
    probe_accuracy: float
    probe_log_loss: float
    parameters: int
    latency_ms: float
    feature_seconds: float
    feature_dim: int

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """The candidate to fine-tune and why.

    Attributes:
        name: the recommended candidate's name.
        reason: one or two sentences with the numbers behind the choice.
    """

    name: str
    reason: str

    def __str__(self):
        return f"Recommended: {self.name}. {self.reason}"


@dataclasses.dataclass(frozen=True)
class RankResult:
    """Candidates scored on the same training examples, best first.

    Attributes:
        candidates: `CandidateScore`s sorted by `sort_by`, best first.
        recommendation: a `Recommendation`.
        sort_by: "logme" or "probe_accuracy".
        examples: training examples scored.
        folds: cross-validation folds of the probe.
        image_size: `(height, width)` every candidate ran at; None for text.
        skipped: `(name, reason)` of candidates left out (over the budget,
            or their weights unavailable).
        seconds: wall time of the whole ranking.
        task: "image" or "text".

    Examples:

    >>> result = rank("mobilenet_025:none", data, image_size=32, folds=2)
    >>> sorted(result.to_dict())
    ['candidates', 'examples', 'folds', 'image_size', 'recommendation', 'seconds', 'skipped', 'sort_by', 'task']
    >>> result.candidates[0].name
    'mobilenet_025:none'
    """

    candidates: tuple
    recommendation: Recommendation
    sort_by: str
    examples: int
    folds: int
    image_size: tuple
    skipped: tuple = ()
    seconds: float = 0.0
    task: str = "image"

    def to_dict(self):
        return {
            "candidates": [c.to_dict() for c in self.candidates],
            "recommendation": dataclasses.asdict(self.recommendation),
            "sort_by": self.sort_by,
            "examples": self.examples,
            "folds": self.folds,
            "task": self.task,
            "image_size": None if self.image_size is None else list(self.image_size),
            "skipped": [{"name": name, "reason": reason} for name, reason in self.skipped],
            "seconds": self.seconds,
        }

    def table(self):
        """The candidates as a text table, best first, with the recommendation below."""
        header = f"{'#':>2}  {'candidate':<34}{'LogME':>9}{'probe acc':>11}{'params':>12}{'ms/ex':>8}{'extract s':>11}"
        rows = [
            f"{i:>2}  {c.name:<34}{c.logme:>9.4f}{c.probe_accuracy:>11.3f}{c.parameters:>12,}"
            f"{c.latency_ms:>8.2f}{c.feature_seconds:>11.1f}"
            for i, c in enumerate(self.candidates, 1)
        ]
        lines = [header, *rows, "", str(self.recommendation)]
        lines += [f"Skipped {name}: {reason}" for name, reason in self.skipped]
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def sort_scores(scores, sort_by):
    """`scores` best first by `sort_by`, ties broken by the other score, then by latency."""
    if sort_by not in SORT_KEYS:
        raise ValueError(f"Unknown sort_by {sort_by!r}. Known: {', '.join(SORT_KEYS)}. Received: sort_by={sort_by!r}")
    other = SORT_KEYS[1 - SORT_KEYS.index(sort_by)]
    return sorted(scores, key=lambda s: (-getattr(s, sort_by), -getattr(s, other), s.latency_ms))


def recommend(scores, tolerance):
    """The cheapest candidate (by latency) within `tolerance` of the best probe
    accuracy, with the reasoning and whether LogME agrees on the best.

    Args:
        scores: `CandidateScore`s (any order, at least one).
        tolerance: accuracy (a fraction: 0.01 is 1 point) a cheaper candidate
            may give up against the best probe.
    """
    check_tolerance(tolerance)
    best_probe = max(scores, key=lambda s: (s.probe_accuracy, s.logme))
    best_logme = max(scores, key=lambda s: (s.logme, s.probe_accuracy))
    close = [s for s in scores if s.probe_accuracy >= best_probe.probe_accuracy - tolerance]
    choice = min(close, key=lambda s: (s.latency_ms, -s.probe_accuracy))
    points = f"{100 * tolerance:g} point{'' if tolerance == 0.01 else 's'}"
    if choice is best_probe:
        reason = (
            f"It has the best cross-validated probe accuracy ({choice.probe_accuracy:.3f}) "
            f"and is the cheapest candidate within {points} of it ({choice.latency_ms:.2f} ms per example)."
        )
    else:
        reason = (
            f"It is the cheapest candidate ({choice.latency_ms:.2f} ms per example, against "
            f"{best_probe.latency_ms:.2f}) within {points} of the best probe accuracy "
            f"({best_probe.name}: {best_probe.probe_accuracy:.3f}; {choice.name}: {choice.probe_accuracy:.3f})."
        )
    if best_logme is best_probe:
        reason += f" LogME and the probe agree on the best: {best_logme.name} (LogME {best_logme.logme:.4f})."
    else:
        reason += (
            f" LogME and the probe disagree on the best: LogME ranks {best_logme.name} first "
            f"({best_logme.logme:.4f} against {best_probe.logme:.4f} for {best_probe.name}); the probe is the "
            "direct measure, LogME the cheaper one."
        )
    return Recommendation(choice.name, reason)


def check_tolerance(tolerance):
    """Returns `tolerance` if it is a fraction of accuracy in [0, 1], else raises a ValueError naming it.

    Examples:

    >>> check_tolerance(0.01)
    0.01
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance <= 1:
        raise ValueError(
            "tolerance is the probe accuracy a cheaper candidate may give up against the best, a fraction in "
            f"[0, 1]: 0.01 is 1 point, 0 recommends the best probe (--tolerance with tfl rank). "
            f"Received: tolerance={tolerance!r}"
        )
    return tolerance
