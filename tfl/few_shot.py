"""Few-shot transfer, measured the field's way: N-way K-shot episodes on frozen features.

`evaluate_few_shot` (`tfl fewshot`) extracts the frozen features of every
labelled example once (images: a backbone with its weights; text: an
encoder), draws `episodes` N-way K-shot episodes of them
(`tfl.data.sample_episodes`), and scores three classifiers on each episode's
queries (`tfl.train.episode_classifiers`):

- `prototypes`: the nearest class mean by cosine similarity (Snell et al.
  2017; with a pretrained encoder, as Chen et al. 2019 and Tian et al. 2020).
- `linear_probe`: L2 logistic regression on the support set (`C = 1`).
- `fine_tune`: a linear head initialised from the prototypes and trained 100
  full-batch steps on the support features. The backbone stays frozen: this
  fine-tunes the head on frozen features (Chen et al.'s baseline).

Each method's episode accuracies give a mean and the field's 95% interval,
`1.96 · sd / √episodes` (`tfl.evaluate.intervals.episode_interval`).
`evaluate_few_shot_features` does the same on features you already have.
"""

import dataclasses
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tfl.backbones.encoders import MINILM
from tfl.backbones.encoders import build_text_preprocessor
from tfl.config import DataConfig
from tfl.config import ModelConfig
from tfl.data import ImageData
from tfl.data import detect_task
from tfl.data import load_data
from tfl.data import load_text_data
from tfl.data.episodes import sample_episodes
from tfl.data.image.pipeline import normalize_image_size
from tfl.evaluate.compare import format_table
from tfl.evaluate.intervals import episode_interval
from tfl.io import write_json
from tfl.model import build_model
from tfl.select.examples import collect_examples
from tfl.select.rank import extract_features
from tfl.traced import traced
from tfl.train.episode_classifiers import fine_tune_predictions
from tfl.train.episode_classifiers import probe_predictions
from tfl.train.episode_classifiers import prototype_predictions

METHODS = ("prototypes", "linear_probe", "fine_tune")
FEW_SHOT_FILE = "fewshot.json"
_PREDICT = {"prototypes": prototype_predictions, "linear_probe": probe_predictions, "fine_tune": fine_tune_predictions}


@dataclasses.dataclass
class FewShotResult:
    """What `evaluate_few_shot` measured.

    Attributes:
        settings: what was asked: ways, shots, queries, episodes, seed,
            methods, and the features' source (backbone, weights, ...).
        results: method -> shots -> `{"mean", "std", "plus_minus", "ci95",
            "episodes"}` of the episode accuracies.
        accuracies: method -> shots -> float `[episodes]`, each episode's
            query accuracy (the same episodes for every method).
        seconds: the time the episodes took (extraction excluded).

    Examples:

    >>> labels = np.repeat(np.arange(3), 6)
    >>> result = evaluate_few_shot_features(np.eye(3)[labels], labels, ways=2, shots=1, queries=2, episodes=5,
    ...                                     methods="prototypes")
    >>> print(result.table())
    method      1-shot
    prototypes  100.00 ± 0.00
    >>> result.accuracies["prototypes"][1].tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """

    settings: dict
    results: dict
    accuracies: dict
    seconds: float

    def to_dict(self):
        """The contents of `fewshot.json`."""
        return {
            "settings": self.settings,
            "results": {m: {str(k): summary for k, summary in by_shot.items()} for m, by_shot in self.results.items()},
            "interval": "mean ± 1.96 · std / √episodes (std with ddof=1), over the episodes' query accuracies",
            "seconds": self.seconds,
        }

    def table(self):
        """A text table: one row per method, one column per shot count, `mean ± plus_minus`."""
        shots = list(next(iter(self.results.values())))
        rows = [
            {"method": method, **{f"{k}-shot": _cell(by_shot[k]) for k in shots}}
            for method, by_shot in self.results.items()
        ]
        return format_table(rows, ["method", *(f"{k}-shot" for k in shots)])


def _cell(summary):
    return f"{100 * summary['mean']:.2f} ± {100 * summary['plus_minus']:.2f}"


def evaluate_few_shot_features(
    features, labels, *, ways=5, shots=(1, 5), queries=15, episodes=600, seed=0, methods=METHODS, class_names=None
):
    """Scores few-shot classifiers on N-way K-shot episodes of `features` (see the module doc).

    Every method sees the same episodes; each shot count draws its own
    (seeded by `seed`).

    Args:
        features: float `[N, D]`: one feature row per labelled example.
        labels: int class ids `[N]`.
        ways: classes per episode.
        shots: support examples per class: an int or several.
        queries: query examples per class and episode.
        episodes: episodes per shot count (the field reports 600 or more).
        seed: the seed of the episodes.
        methods: a subset of `METHODS`, in the order of the table.
        class_names: names of the class ids, for error messages.

    Returns:
        A `FewShotResult`.

    Examples:

    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(4), 10)
    >>> features = np.eye(4)[labels] * 3 + rng.normal(size=(40, 4))
    >>> result = evaluate_few_shot_features(features, labels, ways=3, shots=(1, 2), queries=5, episodes=20)
    >>> sorted(result.results), sorted(result.results["prototypes"])
    (['fine_tune', 'linear_probe', 'prototypes'], [1, 2])
    >>> result.results["prototypes"][2]["mean"] > 0.8
    True
    """
    shots = _shot_counts(shots)
    methods = _methods(methods)
    features = np.asarray(features)
    labels = np.asarray(labels)
    if features.ndim != 2 or labels.shape != (len(features),):
        raise ValueError(
            f"features is [N, D] and labels [N], one per row. Received shapes {features.shape} and {labels.shape}."
        )
    # One positive number for every row: no method's predictions change, but features of a
    # random network (around 1e-17) leave the range where float32 norms and squares work.
    features = features.astype(np.float64)
    features /= np.sqrt(np.mean(np.sum(features**2, axis=1))) or 1.0
    start = time.perf_counter()
    results, accuracies = {m: {} for m in methods}, {m: {} for m in methods}
    for k in shots:
        drawn = sample_episodes(labels, ways=ways, shots=k, queries=queries, episodes=episodes, seed=seed,
                                class_names=class_names)
        support = features[drawn.support.reshape(len(drawn), -1)]
        query = features[drawn.query.reshape(len(drawn), -1)]
        query_labels = drawn.query_labels()
        for method in methods:
            predicted = _PREDICT[method](support, drawn.support_labels(), query, ways)
            accuracies[method][k] = np.mean(predicted == query_labels, axis=1)
            results[method][k] = episode_interval(accuracies[method][k])
    settings = dict(ways=ways, shots=list(shots), queries=queries, episodes=episodes, seed=seed, methods=list(methods),
                    examples=len(labels), classes=len(np.unique(labels)), feature_dim=int(features.shape[1]))
    return FewShotResult(settings, results, accuracies, time.perf_counter() - start)


def _shot_counts(shots):
    counts = (shots,) if isinstance(shots, (int, np.integer)) and not isinstance(shots, bool) else tuple(shots)
    if not counts or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in counts):
        raise ValueError(f"shots is a whole number >= 1 or several, e.g. (1, 5). Received: shots={shots!r}")
    return tuple(int(k) for k in counts)


def _methods(methods):
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"Unknown few-shot method {unknown or methods!r}. Known: {', '.join(METHODS)}.")
    return methods


def evaluate_few_shot(
    data,
    *,
    backbone=None,
    weights="imagenet",
    image_size=None,
    encoder=None,
    sequence_length=128,
    text_column=None,
    label_column=None,
    text_pair_column=None,
    ways=5,
    shots=(1, 5),
    queries=15,
    episodes=600,
    seed=0,
    methods=METHODS,
    batch_size=32,
    output=None,
):
    """Few-shot accuracy of a frozen backbone (or text encoder) on `data`, by episodes.

    Every labelled example of `data` (its training and held-out parts alike:
    episodes draw their own support and query sets) is passed once through
    the frozen backbone, then `evaluate_few_shot_features` scores the
    methods on the features.

    Args:
        data: images: a folder of class folders, "digits", "tfds:NAME" or an
            `ImageData`; text: a .csv/.tsv/.jsonl file, "tweets" or
            "tfds:NAME".
        backbone: images: a registered backbone name (`tfl backbones`).
        weights: images: "imagenet", None (random, seeded by `seed`) or a
            weights file.
        image_size: images: int or `(height, width)`; None: 224 (an
            `ImageData`: its own).
        encoder: text: an encoder name; None: all_minilm_l6_v2.
        sequence_length: text: tokens per example.
        text_column, label_column: text: the file's columns (default "text",
            "label").
        text_pair_column: text: the column of a second text, for data of
            sentence pairs: each example is the pair through the encoder,
            as `tfl train --text-pair-column` trains on it.
        ways, shots, queries, episodes, seed, methods: as
            `evaluate_few_shot_features`.
        batch_size: examples per batch of the extraction.
        output: a folder to write `fewshot.json` to, or None.

    Returns:
        A `FewShotResult` (its `settings` also name the data, backbone and
        weights, and the extraction's seconds).

    Examples:

    >>> result = evaluate_few_shot("flowers/", backbone="mobilenet_v3_small", weights=None, image_size=32,
    ...                            ways=2, shots=1, queries=2, episodes=4)
    >>> result.settings["backbone"], sorted(result.results)
    ('mobilenet_v3_small', ['fine_tune', 'linear_probe', 'prototypes'])
    """
    shots, methods = _shot_counts(shots), _methods(methods)
    start = time.perf_counter()
    features, labels, source = frozen_features(
        data, backbone=backbone, weights=weights, image_size=image_size, encoder=encoder,
        sequence_length=sequence_length, text_column=text_column, label_column=label_column,
        text_pair_column=text_pair_column, batch_size=batch_size, seed=seed,
        check=lambda labels, names: sample_episodes(labels, ways=ways, shots=max(shots), queries=queries,
                                                    episodes=1, class_names=names),
    )
    extraction = time.perf_counter() - start
    result = evaluate_few_shot_features(features, labels, ways=ways, shots=shots, queries=queries,
                                        episodes=episodes, seed=seed, methods=methods,
                                        class_names=source["class_names"])
    result.settings = {**source, **result.settings, "extraction_seconds": extraction}
    if output is not None:
        write_few_shot(result, output)
    return result


def write_few_shot(result, output):
    """Writes `fewshot.json` into the folder `output` (created if missing), atomically."""
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, FEW_SHOT_FILE)
    write_json(path, result.to_dict())
    return path



def frozen_features(data, *, backbone, weights, image_size, encoder, sequence_length, text_column, label_column,
                    batch_size, seed, check=None, text_pair_column=None):
    """`(features [N, D], labels [N], source)`: every labelled example through the frozen feature model.

    `check(labels, class_names)`, if given, runs before the model is built
    (a wrong setting fails before the extraction's cost).

    `source` names what made the features: data, task, class_names, and the
    backbone, weights and image size (text: encoder and sequence length).
    """
    task = "image" if isinstance(data, ImageData) else _task(data)
    if task == "image":
        given = [k for k, v in (("text_column", text_column), ("label_column", label_column),
                                ("text_pair_column", text_pair_column)) if v]
        if given:
            raise ValueError(
                f"{', '.join(given)} name columns of a text file, and {os.fspath(data) if not isinstance(data, ImageData) else 'data'} "
                f"holds images (their labels are their class folders). Remove {', '.join(given)} "
                f"({', '.join('--' + k.replace('_', '-') for k in given)} with `tfl fewshot`)."
            )
        if backbone is None:
            raise ValueError("Images need a backbone: pass backbone= (`tfl backbones` lists them). Received: backbone=None")
        images = data if isinstance(data, ImageData) else load_data(
            DataConfig(source=os.fspath(data), batch_size=batch_size),
            normalize_image_size(224 if image_size is None else image_size),
        )
        size = tuple(images.image_size)
        config = ModelConfig(backbone=backbone, weights=weights, image_size=size)
        source = dict(task="image", backbone=backbone, weights=weights, image_size=list(size))
        splits, class_names, text_pairs = (images.train, images.validation), images.class_names, False
    else:
        encoder = encoder or MINILM
        columns = {k: v for k, v in (("text_column", text_column), ("label_column", label_column),
                                     ("text_pair_column", text_pair_column)) if v}
        text = load_text_data(
            DataConfig(source=os.fspath(data), batch_size=batch_size, trim_padding=False, **columns),
            build_text_preprocessor(encoder, sequence_length),
        )
        config = ModelConfig(encoder=encoder, sequence_length=sequence_length)
        source = dict(task="text", encoder=encoder, sequence_length=sequence_length,
                      **({"text_pair_column": text_pair_column} if text_pair_column else {}))
        splits, class_names, text_pairs = (text.train, text.validation), text.class_names, text.text_pairs
    inputs, labels = _every_example(splits)
    if check is not None:
        check(labels, class_names)
    keras.utils.set_random_seed(seed)  # random weights are the same network on every run
    model = build_model(config, class_names, task=task, text_pairs=text_pairs)
    feature_model = model.feature_model()
    signature = [{k: tf.TensorSpec((None, *v.shape[1:]), tf.float32 if k == "images" else tf.as_dtype(v.dtype))
                  for k, v in inputs.items()}]
    extract = traced(lambda batch: feature_model(batch, training=False), input_signature=signature)
    features = extract_features(extract, inputs, batch_size)
    name = data if isinstance(data, (str, os.PathLike)) else type(data).__name__
    return features, labels, {"data": os.fspath(name), **source, "class_names": list(class_names)}


def _task(data):
    if not isinstance(data, (str, os.PathLike)):
        raise ValueError(
            "data is an ImageData or a source: a folder of class folders, 'digits', a .csv/.tsv/.jsonl file, "
            f"'tweets' or 'tfds:NAME'. Received: data of type {type(data).__name__}"
        )
    path = os.fspath(data)
    if not (path in ("digits", "tweets") or path.startswith("tfds:") or os.path.exists(path)):
        raise FileNotFoundError(
            f"No such folder or file: {path!r}. Pass a folder of class folders, a .csv/.tsv/.jsonl file, "
            "'digits', 'tweets' or 'tfds:NAME'."
        )
    return detect_task(path)


def _every_example(splits):
    """The inputs and labels of every example of the given pipelines (None ones skipped), concatenated."""
    parts = [collect_examples(split, sys.maxsize) for split in splits if split is not None]
    if any(labels.ndim != 1 for _, labels in parts):
        raise ValueError("Few-shot episodes need single-label data; this data is multi-label.")
    inputs = {key: np.concatenate([part[key] for part, _ in parts]) for key in parts[0][0]}
    return inputs, np.concatenate([labels for _, labels in parts])
