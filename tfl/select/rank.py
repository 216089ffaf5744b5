"""`rank`: which backbone (or text encoder) to fine-tune, decided before fine-tuning any.

Each candidate is built as a tfl classifier (its own preprocessing or
tokenizer, its pooled features through `model.feature_model()`), its frozen
features of the same training examples are extracted once, and they are
scored two ways:

- LogME (`tfl.select.logme`): the evidence of a Bayesian linear model on
  the features, one-vs-rest per class; no training, a fraction of a second.
- A linear probe (`tfl.train.fit_linear_probe`, L2 1 / N by default, or
  chosen by inner cross-validation with `probe_l2="cv"`) under stratified
  k-fold cross-validation on the training examples: the mean held-out
  accuracy.

Only the training split is read: nothing is chosen on held-out data. Beside
the scores stand the costs: parameters, milliseconds per example of the
feature model after warm-up on this machine, and the seconds extraction took.
With a budget (`max_params`, `max_latency_ms`) a candidate over it is
skipped before its features are extracted; without named candidates, every
registered backbone with ImageNet weights is a candidate, and a budget is
then required.
"""

import dataclasses
import gc
import logging
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfl.backbones import WeightsUnavailableError
from tfl.backbones.encoders import EncoderUnavailableError
from tfl.evaluate.plots import save_figure
from tfl.evaluate.selection_plot import plot_rank
from tfl.io import write_json
from tfl.model import build_model
from tfl.select.candidates import parse_candidates
from tfl.select.candidates import registered_candidates
from tfl.select.examples import ScoredExamples
from tfl.select.logme import logme
from tfl.select.result import CandidateScore
from tfl.select.result import RankResult
from tfl.select.result import check_tolerance
from tfl.select.result import recommend
from tfl.select.result import sort_scores
from tfl.traced import traced
from tfl.train.transfer_check import cross_validated_probe
from tfl.train.transfer_check import stratified_folds

logger = logging.getLogger("tfl")

MAX_EXAMPLES = 1000
FOLDS = 5
TOLERANCE = 0.01
LATENCY_BATCH = 16
LATENCY_REPEATS = 3
# The probe: L2 1 / N (scikit-learn's C = 1) and a looser tolerance than a
# training probe's. Random-weight features are badly conditioned (a
# MobileNetV2's, 1280 wide: 5 folds took 23 s to converge at 1e-5 on 1000
# digits, 2.6 s at 1e-4, accuracy 0.962 against 0.959); "cv" nests
# fit_linear_probe's own 5-fold choice of L2 in every fold, 10 times slower.
PROBE_L2 = None
PROBE_TOL = 1e-4
PROBE_MAX_ITER = 200


def rank(
    candidates=None,
    data=None,
    *,
    image_size=None,
    sequence_length=128,
    max_examples=MAX_EXAMPLES,
    folds=FOLDS,
    max_params=None,
    max_latency_ms=None,
    tolerance=TOLERANCE,
    sort_by="logme",
    probe_l2=PROBE_L2,
    batch_size=32,
    seed=0,
    output=None,
):
    """Scores candidate backbones (or text encoders) on `data` without fine-tuning (see the module doc).

    Args:
        candidates: `BACKBONE[:WEIGHTS]` names (text: encoder names), as a
            list or one comma-separated string, or `Candidate`s; None: every
            registered backbone with ImageNet weights (text: every encoder
            known by name) that fits the budget.
        data: an `ImageData` (its `train` split is scored), or a source
            `tfl.data.load_data` or `load_text_data` reads: a folder of class
            folders, "digits", a .csv/.tsv/.jsonl file, "tweets" or
            "tfds:NAME" (the training part of its split is scored).
        image_size: images: `(height, width)` or an int every candidate runs
            at. None: `data.image_size` for an `ImageData`, else 224.
        sequence_length: text: tokens per example.
        max_examples: score at most this many training examples (a shuffled
            pass of the training pipeline, cut there).
        folds: stratified cross-validation folds of the probe.
        max_params: skip candidates with more parameters.
        max_latency_ms: skip candidates slower per example on this machine.
        tolerance: the probe accuracy (0.01: 1 point) a cheaper candidate may
            give up against the best and still be recommended.
        sort_by: "logme" or "probe_accuracy": the order of `candidates`.
        probe_l2: the probe's L2 weight: None (1 / N, scikit-learn's C = 1),
            a number, or "cv" (chosen by inner cross-validation in every fold:
            about 10 times slower).
        batch_size: examples per batch of the extraction.
        seed: the fold seed, and the seed of every random initialisation
            (a random-weight candidate is the same network on every run).
        output: a folder to write `rank.json` and `rank.png` to, or None.

    Returns:
        A `RankResult`: `.candidates` best first, `.recommendation`.

    Examples:

    >>> result = rank("mobilenet_v3_small:none,mobilenet_025:none", "flowers/", image_size=32, folds=3)
    >>> sorted(candidate.name for candidate in result.candidates)
    ['mobilenet_025:none', 'mobilenet_v3_small:none']
    >>> result.recommendation.name in [candidate.name for candidate in result.candidates]
    True

    On real photos the ImageNet weights rank first (docs/model_selection.md):
    `rank("mobilenet_025:imagenet,mobilenet_025:none", "hymenoptera/train")`.
    """
    start = time.perf_counter()
    sort_scores([], sort_by)  # checks sort_by before anything is built
    _check_folds(folds)
    check_tolerance(tolerance)  # before any candidate is scored: recommend needs it at the end
    if max_latency_ms is not None and not max_latency_ms > 0:
        raise ValueError(
            "max_latency_ms is the most milliseconds per example a candidate may take, > 0 (--max-latency-ms "
            f"with tfl rank), or None for no limit. Received: max_latency_ms={max_latency_ms!r}"
        )
    examples = ScoredExamples(
        data, image_size=image_size, max_examples=max_examples, batch_size=batch_size, sequence_length=sequence_length
    )
    candidates = _candidates(candidates, examples.task, max_params, max_latency_ms)
    settings = dict(
        folds=folds, batch_size=batch_size, max_params=max_params, max_latency_ms=max_latency_ms,
        probe_l2=probe_l2, seed=seed,
    )
    scores, skipped = [], []
    for candidate in candidates:
        score = _score(candidate, examples, **settings)
        if isinstance(score, str):
            skipped.append((candidate.name, score))
            logger.info("Skipped %s: %s", candidate.name, score)
        else:
            scores.append(score)
            logger.info("Scored %s: LogME %.4f, probe %.3f", score.name, score.logme, score.probe_accuracy)
    if not scores:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped)
        raise ValueError(f"No candidate was scored: {reasons}. Raise the budget or name other candidates.")
    result = RankResult(
        candidates=tuple(sort_scores(scores, sort_by)),
        recommendation=recommend(scores, tolerance),
        sort_by=sort_by,
        examples=len(examples.labels),
        folds=int(_folds(examples.labels, folds, seed).max()) + 1,
        image_size=examples.image_size,
        skipped=tuple(skipped),
        seconds=time.perf_counter() - start,
        task=examples.task,
    )
    if output is not None:
        write_rank(result, output)
    return result


def write_rank(result, output):
    """Writes `rank.json` and `rank.png` (score against cost) to the folder `output`."""
    os.makedirs(output, exist_ok=True)
    write_json(os.path.join(output, "rank.json"), result.to_dict())
    rows = [c.to_dict() for c in result.candidates]
    save_figure(plot_rank(rows, recommended=result.recommendation.name), os.path.join(output, "rank.png"))


def _candidates(candidates, task, max_params, max_latency_ms):
    if candidates is not None:
        return parse_candidates(candidates, task)
    if max_params is None and max_latency_ms is None:
        raise ValueError(
            "Without named candidates every registered backbone is one, and the large ones take hours on "
            "a CPU: give a budget (max_params, max_latency_ms; --max-params, --max-latency-ms with tfl rank) or "
            "name candidates as BACKBONE[:WEIGHTS] (--candidates). "
            "Received: candidates=None, max_params=None, max_latency_ms=None"
        )
    return registered_candidates(task)


def _check_folds(folds):
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        raise ValueError(f"folds is an int >= 2 (--folds with tfl rank). Received: folds={folds!r}")


def _folds(labels, folds, seed):
    """The stratified fold of every example, checked: single-label classes with 2+ examples each."""
    if labels.ndim != 1:
        raise ValueError(
            "rank scores single-label classification; the data is multi-label. "
            f"Received: labels of shape {labels.shape}"
        )
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    if len(counts) < 2 or counts.min() < 2:
        raise ValueError(
            "The probe's cross-validation needs 2 or more classes with 2 or more training examples each. "
            f"Received: {len(labels)} examples, class counts {counts.tolist()}"
        )
    return stratified_folds(labels, min(folds, int(counts.min())), np.random.default_rng(seed))


def _score(candidate, examples, *, folds, batch_size, max_params, max_latency_ms, probe_l2, seed):
    """The candidate's `CandidateScore`, or the reason it was skipped (a string)."""
    if max_params is not None and examples.task == "image" and candidate.weights is not None:
        # Counted on a random copy first: no large weights file is downloaded only to be skipped.
        random_copy = dataclasses.replace(candidate, weights=None)
        over = _over_budget(_build(random_copy, examples).count_params(), max_params)
        if over:
            return over
    keras.utils.set_random_seed(seed)  # a random-weight candidate is the same network on every run
    try:
        inputs = examples.inputs_for(candidate)
        start = time.perf_counter()  # from building the model: reading the data is not the candidate's cost
        model = _build(candidate, examples)
    except (WeightsUnavailableError, EncoderUnavailableError) as error:
        return f"weights unavailable ({str(error).split('. ')[0]})"
    parameters = int(model.count_params())
    over = _over_budget(parameters, max_params)
    if over:
        return over
    extract = _extractor(model, inputs)
    latency_ms = _latency_ms(extract, inputs)
    if max_latency_ms is not None and latency_ms > max_latency_ms:
        return f"{latency_ms:.2f} ms per example, over max_latency_ms={max_latency_ms:g}"
    features = extract_features(extract, inputs, batch_size)
    feature_seconds = time.perf_counter() - start
    del model, extract
    gc.collect()
    labels = examples.labels
    log_loss, accuracy = probe_scores(features, labels, _folds(labels, folds, seed), len(examples.class_names),
                                      probe_l2)
    return CandidateScore(
        name=candidate.name,
        backbone=candidate.backbone,
        weights=candidate.weights,
        logme=logme(features, labels),
        probe_accuracy=accuracy,
        probe_log_loss=log_loss,
        parameters=parameters,
        latency_ms=latency_ms,
        feature_seconds=feature_seconds,
        feature_dim=int(features.shape[1]),
    )


def _build(candidate, examples):
    return build_model(examples.model_config(candidate), examples.class_names, task=examples.task,
                       text_pairs=examples.text_pairs)


def _over_budget(parameters, max_params):
    """Why a model of `parameters` is skipped, or None within the budget."""
    if max_params is not None and parameters > max_params:
        return f"{parameters:,} parameters, over max_params={max_params:,}"
    return None


def probe_scores(features, labels, fold_of, num_classes, l2=PROBE_L2):
    """Mean held-out `(log_loss, accuracy)` of linear probes over the folds.

    The features are first centred and divided by their overall spread
    (label-free, and the probe's own scaling): raw features of a random
    network sit near 1e-17 around a large common mean, and the probe's
    float32 kernel would otherwise lose the differences to rounding.
    """
    centred = features - features.mean(axis=0)
    centred /= np.sqrt(np.mean(centred * centred)) or 1.0
    return cross_validated_probe(
        centred, labels, fold_of, num_classes, l2=l2, tol=PROBE_TOL, max_iter=PROBE_MAX_ITER
    )


def _extractor(model, inputs):
    """The model's frozen feature model as one traced function for any batch size."""
    feature_model = model.feature_model()
    signature = [{key: tf.TensorSpec((None, *value.shape[1:]), _dtype(key, value)) for key, value in inputs.items()}]
    return traced(lambda batch: feature_model(batch, training=False), input_signature=signature)


def _dtype(key, value):
    return tf.float32 if key == "images" else tf.as_dtype(value.dtype)


def _batch(inputs, start, stop):
    return {key: tf.constant(value[start:stop], _dtype(key, value)) for key, value in inputs.items()}


def extract_features(extract, inputs, batch_size):
    """float64 features `[n, D]` of every example of `inputs`, `batch_size` at a time."""
    n = len(next(iter(inputs.values())))
    features = [extract(_batch(inputs, i, i + batch_size)).numpy() for i in range(0, n, batch_size)]
    return np.concatenate(features).astype(np.float64)


def _latency_ms(extract, inputs):
    """Milliseconds per example: the best of a few timed batches, after a warm-up call."""
    batch = _batch(inputs, 0, LATENCY_BATCH)
    size = len(next(iter(batch.values())))
    extract(batch)  # traces and warms up
    best = float("inf")
    for _ in range(LATENCY_REPEATS):
        start = time.perf_counter()
        extract(batch).numpy()
        best = min(best, time.perf_counter() - start)
    return 1000 * best / size
