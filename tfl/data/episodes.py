"""`sample_episodes`: N-way K-shot episodes drawn from the labels of a labelled set.

An episode is the few-shot field's unit of evaluation (Vinyals et al. 2016;
Snell et al. 2017): `ways` classes drawn at random, `shots` labelled
examples of each (the support set) to learn from, and `queries` other
examples of each (the query set) to score on. Support and query never share
an example, and every class of an episode has the same number of each.

Only indices are drawn here; the features or images they point at are the
caller's. The draw is seeded: the same labels and settings give the same
episodes on every run.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Episodes:
    """Episodes as index arrays into the labelled set.

    Attributes:
        classes: int `[episodes, ways]`: the class ids of each episode; the
            position of a class in its row is its label within the episode.
        support: int `[episodes, ways, shots]`: example indices of the
            support set, class by class.
        query: int `[episodes, ways, queries]`: example indices of the query
            set, class by class.

    Examples:

    >>> episodes = sample_episodes(np.repeat([0, 1, 2], 3), ways=2, shots=1, queries=2, episodes=4)
    >>> len(episodes), episodes.ways, episodes.shots, episodes.queries
    (4, 2, 1, 2)
    >>> episodes.support_labels()[0].tolist(), episodes.query_labels()[0].tolist()
    ([0, 1], [0, 0, 1, 1])
    """

    classes: np.ndarray
    support: np.ndarray
    query: np.ndarray

    @property
    def ways(self):
        return self.classes.shape[1]

    @property
    def shots(self):
        return self.support.shape[2]

    @property
    def queries(self):
        return self.query.shape[2]

    def __len__(self):
        return self.classes.shape[0]

    def support_labels(self):
        """int `[episodes, ways * shots]`: each support example's label within its episode."""
        return np.broadcast_to(np.repeat(np.arange(self.ways), self.shots), (len(self), self.ways * self.shots))

    def query_labels(self):
        """int `[episodes, ways * queries]`: each query example's label within its episode."""
        return np.broadcast_to(np.repeat(np.arange(self.ways), self.queries), (len(self), self.ways * self.queries))


def sample_episodes(labels, *, ways=5, shots=1, queries=15, episodes=600, seed=0, class_names=None):
    """Draws N-way K-shot episodes (see the module doc).

    Each episode draws `ways` distinct classes uniformly, then `shots +
    queries` distinct examples of each class without replacement: the first
    `shots` are its support, the rest its queries.

    Args:
        labels: int class ids `[N]` of the labelled set.
        ways: classes per episode (N).
        shots: support examples per class (K).
        queries: query examples per class.
        episodes: how many episodes to draw.
        seed: the seed of the draw.
        class_names: names of the class ids, for error messages; None names
            them by id.

    Returns:
        An `Episodes`.

    Raises:
        ValueError: a setting is not a whole number >= 1, fewer than `ways`
            classes, or a class with fewer than `shots + queries` examples.

    Examples:

    >>> labels = np.repeat([0, 1, 2], 4)
    >>> episodes = sample_episodes(labels, ways=2, shots=1, queries=3, episodes=10, seed=0)
    >>> episodes.support.shape, episodes.query.shape
    ((10, 2, 1), (10, 2, 3))
    >>> bool((labels[episodes.support[:, :, 0]] == episodes.classes).all())
    True
    """
    for name, value in (("ways", ways), ("shots", shots), ("queries", queries), ("episodes", episodes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} is a whole number >= 1. Received: {name}={value!r}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or (labels.size and labels.min() < 0):
        raise ValueError(
            "Episodes are drawn from single-label class ids: int labels of shape [N], each >= 0. "
            f"Received labels of shape {labels.shape} and dtype {labels.dtype}."
        )
    members = _members(labels)
    _check_counts(members, ways, shots + queries, class_names)
    present = np.array(sorted(members))
    rng = np.random.default_rng(seed)
    classes = np.empty((episodes, ways), dtype=np.int64)
    drawn = np.empty((episodes, ways, shots + queries), dtype=np.int64)
    for e in range(episodes):
        classes[e] = rng.choice(present, size=ways, replace=False)
        for w, class_id in enumerate(classes[e]):
            drawn[e, w] = rng.choice(members[class_id], size=shots + queries, replace=False)
    return Episodes(classes=classes, support=drawn[:, :, :shots], query=drawn[:, :, shots:])


def _members(labels):
    """class id -> the indices of its examples, for every class with one or more."""
    order = np.argsort(labels, kind="stable")
    ids, starts = np.unique(labels[order], return_index=True)
    return {int(c): part for c, part in zip(ids, np.split(order, starts[1:]))}


def _check_counts(members, ways, needed, class_names):
    def name(class_id):
        return repr(class_names[class_id]) if class_names is not None else str(class_id)

    if len(members) < ways:
        raise ValueError(
            f"A {ways}-way episode needs {ways} classes; the labelled set has {len(members)} "
            f"({', '.join(name(c) for c in members)}). Lower ways to at most {len(members)}, or add classes."
        )
    short = {c: len(m) for c, m in members.items() if len(m) < needed}
    if short:
        listed = ", ".join(f"{name(c)}: {count}" for c, count in short.items())
        smallest = min(short.values())
        raise ValueError(
            f"Every class needs shots + queries = {needed} examples for an episode; "
            f"{len(short)} {'class has' if len(short) == 1 else 'classes have'} fewer ({listed}). Lower shots or queries so their sum is at most "
            f"{smallest}, or leave those classes out of the data."
        )
