"""Scores of a model on unlabelled target data, for choosing a model without target labels.

Two scores, both higher-is-better:

- Information maximization (IM): `H(mean_i p_i) - mean_i H(p_i)`, the mutual
  information between inputs and predicted classes. High when each
  prediction is confident (low entropy per example) and the classes are
  used evenly (high entropy of the mean prediction). This is the negative
  of the IM loss that SHOT minimises (Liang et al. 2020, "Do We Really Need
  to Access the Source Data?"). Range [0, log K].
- Soft neighbourhood density (SND, Saito et al. 2021, "Tune it the Right
  Way: Unsupervised Validation of Domain Adaptation via Soft Neighborhood
  Density"): the mean entropy of each example's softmax over its
  temperature-scaled cosine similarities to the other examples. High when
  examples sit in dense neighbourhoods of similar predictions (clusters),
  low when the space is spread out or collapsed to a few isolated points.
  Range [0, log(N - 1)]: compare it only across models scored on the same
  examples.

`UnsupervisedScores` computes them at the end of every epoch and logs them
as `target_im` and `target_snd`, so `EarlyStopping(monitor="target_snd",
mode="max")` and `ModelCheckpoint` can use them.
"""

import keras
import numpy as np

SCORES = ("im", "snd")
SND_TEMPERATURE = 0.05


def information_maximization(probabilities):
    """The IM score `H(mean_i p_i) - mean_i H(p_i)` of predicted probabilities (higher is better).

    Args:
        probabilities: array of shape (N, K), rows summing to 1.

    Returns:
        A float in [0, log K] (natural logarithm).

    Examples:

    >>> information_maximization(np.eye(3))  # confident and balanced: log 3
    1.0986...
    >>> information_maximization(np.full((3, 3), 1 / 3))  # uniform
    0.0
    """
    p = _probabilities(probabilities)
    mean_entropy = float(np.mean(_entropy(p)))
    entropy_of_mean = float(_entropy(p.mean(axis=0)))
    return max(entropy_of_mean - mean_entropy, 0.0)


def soft_neighborhood_density(vectors, temperature=SND_TEMPERATURE):
    """The SND score of Saito et al. 2021 (higher is better).

    Each vector is L2-normalised; `S_ij` is the cosine similarity of
    examples i and j (i != j); row i of `softmax(S / temperature)` spreads
    example i over its neighbours, and the score is the mean entropy of
    these rows.

    Args:
        vectors: array of shape (N, D), N >= 3: predicted probabilities (as in
            the paper) or features of the target examples.
        temperature: the softmax temperature (0.05 in the paper).

    Returns:
        A float in [0, log(N - 1)].

    Examples:

    >>> clusters = np.repeat(np.eye(3), 4, axis=0)  # 3 tight clusters of 4
    >>> spread = np.random.default_rng(0).dirichlet(np.ones(3), 12)
    >>> soft_neighborhood_density(clusters) > soft_neighborhood_density(spread)
    True
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or len(v) < 3:
        raise ValueError(
            f"soft_neighborhood_density() needs vectors of shape (N, D) with N >= 3. Received shape {v.shape}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0. Received: temperature={temperature!r}")
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    logits = (v @ v.T) / temperature
    np.fill_diagonal(logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=1, keepdims=True)
    return float(np.mean(_entropy(weights)))


def unsupervised_scores(probabilities, scores=SCORES, temperature=SND_TEMPERATURE):
    """`{"im": ..., "snd": ...}` (the requested scores) of predicted probabilities.

    Args:
        probabilities: array of shape (N, K).
        scores: names among "im" and "snd".
        temperature: SND's temperature.

    Examples:

    >>> sorted(unsupervised_scores(np.eye(3)))
    ['im', 'snd']
    """
    scores = _check_scores(scores)
    functions = {
        "im": information_maximization,
        "snd": lambda p: soft_neighborhood_density(p, temperature),
    }
    return {name: functions[name](probabilities) for name in scores}


class UnsupervisedScores(keras.callbacks.Callback):
    """Logs IM and SND on unlabelled target data after each epoch; keeps the best weights if asked.

    The scores are computed from the model's predicted probabilities on
    `data` and written into the epoch's `logs` as `target_im` and
    `target_snd`. Put this callback before any callback that monitors them
    (`EarlyStopping(monitor="target_snd", mode="max")`): callbacks see
    `logs` in list order. With `restore_best`, the weights of the epoch with
    the highest chosen score are restored when training ends.

    Args:
        data: unlabelled target inputs: a `tf.data.Dataset` of inputs or of
            `(inputs, labels)` (labels ignored), or arrays/dicts that
            `model.predict` accepts.
        scores: which scores to log, among "im" and "snd".
        temperature: SND's softmax temperature.
        restore_best: None, or the score ("im" or "snd") whose best epoch's
            weights are restored at the end of training.
        prefix: prefix of the log keys.

    Examples:

    >>> scores = UnsupervisedScores({"images": images}, restore_best="snd")
    >>> stop = keras.callbacks.EarlyStopping(monitor="target_snd", mode="max", patience=3)
    >>> scores.set_model(model)  # what `fit(..., callbacks=[scores, stop])` does
    >>> logs = {}
    >>> scores.on_epoch_end(0, logs)
    >>> sorted(logs)
    ['target_im', 'target_snd']
    """

    def __init__(self, data, scores=SCORES, temperature=SND_TEMPERATURE, restore_best=None, prefix="target_"):
        super().__init__()
        self.data = data
        self.scores = _check_scores(scores)
        if restore_best is not None and restore_best not in self.scores:
            raise ValueError(
                f"restore_best names one of the logged scores ({', '.join(self.scores)}) or is None. "
                f"Received: restore_best={restore_best!r}"
            )
        self.temperature = temperature
        self.restore_best = restore_best
        self.prefix = prefix
        self.history = []
        self.best_epoch = None
        self.best_score = None
        self._best_weights = None

    def on_train_begin(self, logs=None):
        self.history = []
        self.best_epoch = None
        self.best_score = None
        self._best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        probabilities = self.model.predict(self.data, verbose=0)
        values = unsupervised_scores(probabilities, self.scores, self.temperature)
        self.history.append(values)
        if logs is not None:
            logs.update({self.prefix + name: value for name, value in values.items()})
        if self.restore_best is not None:
            score = values[self.restore_best]
            if self.best_score is None or score > self.best_score:
                self.best_score = score
                self.best_epoch = epoch
                self._best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)


def _probabilities(probabilities):
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"Expected probabilities of shape (N, K), N >= 1. Received shape {p.shape}")
    return p


def _entropy(p):
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def _check_scores(scores):
    if isinstance(scores, str):
        scores = (scores,)
    scores = tuple(scores)
    unknown = [s for s in scores if s not in SCORES]
    if unknown or not scores:
        raise ValueError(
            f"Unknown score {unknown[0] if unknown else None!r}. Known: {', '.join(SCORES)}. Received: scores={scores!r}"
        )
    return scores
