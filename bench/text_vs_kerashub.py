"""Fine-tuning MiniLM on tweets: tfl vs KerasHub's `BertTextClassifier`, sentences/s and accuracy.

Both fine-tune the same all-MiniLM-L6-v2 checkpoint (the offline
`all_minilm_l6_v2` folder) on the same tweets (`tfl.data.load_tweets`, 3
classes, `--train-per-class` training and `--test-per-class` held-out tweets
per class, drawn once with seed 0), at the same sequence length, batch size,
number of epochs and learning rate (AdamW, Keras defaults otherwise):

- tfl: `build_model(task="text")` (mean pooling, dropout 0.2, softmax head),
  data from `from_texts` (tokenized once and cached, shuffled each epoch with
  the seed, each batch trimmed to its longest text: the defaults), one
  `Stage("all", epochs, lr, optimizer="adamw")` run by `fit_stages`;
- tfl, grouped: the same with `group_by_length=True` (batches of similar
  length, so trimming cuts more);
- KerasHub: `BertTextClassifier` (its pooled [CLS] output, dropout 0.1, logits)
  on the backbone `BertBackbone.from_preset(folder)`, with a
  `BertTextClassifierPreprocessor` built with the sequence length explicitly
  (`BertTextClassifier.from_preset` keeps 256 for a Hugging Face folder), on a
  `tf.data` pipeline of raw strings shuffled with the seed (KerasHub's `fit`
  does not shuffle arrays); the task tokenizes each batch, every epoch, as its
  `fit` does.

Both see the held-out tweets as `validation_data` each epoch (as tfl's runs
do); the training rate counts only the time from an epoch's start to its last
training batch, so validation is left out. The first epoch (tracing the
training step, and tfl's tokenizing into the cache) is reported apart from the
steady-state epochs. Each seed (model initialisation, dropout and shuffle)
runs both, in alternating order.

    python bench/text_vs_kerashub.py [--seeds 0,1,2] [--epochs 3] [--sequence-length 64]
        [--batch-size 32] [--learning-rate 5e-5] [--train-per-class 200] [--test-per-class 100]
        [--json bench/text_vs_kerashub.json]

Prints a table and writes JSON.
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tfl.backbones.encoders import MINILM
from tfl.backbones.encoders import minilm_path
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_texts
from tfl.data import load_tweets
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import apply_stage
from tfl.train import fit_stages
from tfl.train.optimizers import make_optimizer

CLASSES = ("negative", "neutral", "positive")


class EpochTimer(keras.callbacks.Callback):
    """Seconds from each epoch's start to its last training batch (validation left out)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(self._last - self._start)


def draw_tweets(train_per_class, test_per_class, min_confidence):
    """Balanced train and test tweets, drawn once with seed 0."""
    tweets = load_tweets(min_confidence=min_confidence)
    rng = np.random.default_rng(0)
    train, test = [], []
    for label in CLASSES:
        index = rng.permutation(np.flatnonzero(tweets.labels == label))
        train += [(str(tweets.texts[i]), label) for i in index[:train_per_class]]
        test += [(str(tweets.texts[i]), label) for i in index[train_per_class : train_per_class + test_per_class]]
    order = rng.permutation(len(train))
    return [train[i] for i in order], test


def run_tfl(train, test, args, seed, grouped=False):
    keras.utils.set_random_seed(seed)
    model = build_model(ModelConfig(encoder=MINILM, sequence_length=args.sequence_length), CLASSES, task="text")
    data = from_texts(
        [t for t, _ in train],
        [label for _, label in train],
        class_names=CLASSES,
        validation_data=([t for t, _ in test], [label for _, label in test]),
        preprocessor=model.preprocessor,
        batch_size=args.batch_size,
        seed=seed,
        group_by_length=grouped,
    )
    timer = EpochTimer()
    stage = Stage("all", epochs=args.epochs, learning_rate=args.learning_rate, optimizer="adamw")
    fit_stages(model, data, [stage], callbacks=[timer], verbose=0)
    accuracy = model.evaluate(data.validation, verbose=0, return_dict=True)["accuracy"]
    return timer.seconds, accuracy


def run_kerashub(train, test, args, seed):
    keras.utils.set_random_seed(seed)
    folder = minilm_path()
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
        folder, sequence_length=args.sequence_length
    )
    tokens = preprocessor(tf.constant(["check the length"]))
    assert tokens["token_ids"].shape[-1] == args.sequence_length, tokens["token_ids"].shape
    classifier = keras_hub.models.BertTextClassifier(
        backbone=keras_hub.models.BertBackbone.from_preset(folder),
        num_classes=len(CLASSES),
        preprocessor=preprocessor,
    )
    classifier.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=args.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )

    def dataset(rows, shuffle):
        labels = np.array([CLASSES.index(label) for _, label in rows], dtype=np.int32)
        ds = tf.data.Dataset.from_tensor_slices((tf.constant([t for t, _ in rows]), labels))
        if shuffle:
            ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(args.batch_size)

    timer = EpochTimer()
    test_ds = dataset(test, shuffle=False)
    classifier.fit(
        dataset(train, shuffle=True), validation_data=test_ds, epochs=args.epochs, callbacks=[timer], verbose=0
    )
    accuracy = classifier.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]
    return timer.seconds, accuracy


def fixed_shape_steps(args, repeats=6):
    """Seconds per training step of both models on the same full-length batch
    (median of alternating steps): the models' own cost, padding aside."""
    shape = [args.batch_size, args.sequence_length]
    batch = {
        "token_ids": tf.fill(shape, 2000),
        "segment_ids": tf.zeros(shape, tf.int32),
        "padding_mask": tf.ones(shape, tf.bool),
    }
    labels = tf.zeros([args.batch_size], tf.int32)
    ours = build_model(ModelConfig(encoder=MINILM, sequence_length=args.sequence_length), CLASSES, task="text")
    stage = Stage("all", 1, args.learning_rate, optimizer="adamw")
    ours.compile(make_optimizer(stage, 1, apply_stage(ours, stage).lr_multipliers))
    hub = keras_hub.models.BertTextClassifier(
        backbone=keras_hub.models.BertBackbone.from_preset(minilm_path()), num_classes=len(CLASSES), preprocessor=None
    )
    hub.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=args.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    models = {"tfl": ours, "keras_hub": hub}
    for model in models.values():
        model.train_on_batch(batch, labels)  # traces
    seconds = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(batch, labels)
            seconds[name].append(time.perf_counter() - start)
    return {name: round(statistics.median(values), 3) for name, values in seconds.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--train-per-class", type=int, default=200)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--min-confidence", type=float, default=0.6)
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "text_vs_kerashub.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()
    train, test = draw_tweets(args.train_per_class, args.test_per_class, args.min_confidence)
    steps = fixed_shape_steps(args)
    print(f"  one training step on the same [{args.batch_size}, {args.sequence_length}] batch: {steps} s")
    runners = {
        "tfl": run_tfl,
        "tfl, group_by_length=True": lambda *a: run_tfl(*a, grouped=True),
        "keras_hub": run_kerashub,
    }
    runs = []
    for index, seed in enumerate(int(s) for s in args.seeds.split(",")):
        names = list(runners) if index % 2 == 0 else list(runners)[::-1]  # alternate who goes first
        for name in names:
            seconds, accuracy = runners[name](train, test, args, seed)
            runs.append({"library": name, "seed": seed, "epoch_seconds": seconds, "accuracy": accuracy})
            print(f"  {name} seed {seed}: epochs {[round(s, 1) for s in seconds]} s, accuracy {accuracy:.4f}")

    def steady_rate(run):
        return len(train) / statistics.median(run["epoch_seconds"][1:])

    rows = []
    for name in runners:
        mine = [r for r in runs if r["library"] == name]
        steady = [s for r in mine for s in r["epoch_seconds"][1:]]
        hub = [r for r in runs if r["library"] == "keras_hub"]
        # Each seed's runs are back to back: the ratio within a seed shares its load.
        ratios = [steady_rate(a) / steady_rate(b) for a, b in zip(mine, hub)]
        rows.append(
            {
                "library": name,
                "first_epoch_sent_s": round(len(train) / statistics.median(r["epoch_seconds"][0] for r in mine), 1),
                "steady_sent_s": round(len(train) / statistics.median(steady), 1),
                "accuracy_mean": round(statistics.mean(r["accuracy"] for r in mine), 4),
                "accuracies": " ".join(f"{r['accuracy']:.3f}" for r in mine),
                "vs_keras_hub": " ".join(f"{r:.2f}x" for r in ratios),
            }
        )
    print(
        f"MiniLM fine-tuning (all layers, AdamW {args.learning_rate:g}), sequence length "
        f"{args.sequence_length}, batch {args.batch_size}, {args.epochs} epochs, {len(train)} train / "
        f"{len(test)} test tweets (3 classes), seeds {args.seeds}, {os.cpu_count()} CPU cores; "
        "steady = median of epochs 2+ over seeds, validation excluded; vs_keras_hub = steady "
        "rate over KerasHub's, per seed:"
    )
    print(
        format_table(
            rows, ["library", "first_epoch_sent_s", "steady_sent_s", "vs_keras_hub", "accuracy_mean", "accuracies"]
        )
    )
    write_json(
        args.json,
        {
            "encoder": MINILM,
            "sequence_length": args.sequence_length,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "num_train": len(train),
            "num_test": len(test),
            "min_confidence": args.min_confidence,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "seconds": round(time.perf_counter() - started, 1),
            "fixed_shape_step_seconds": steps,
            "runs": runs,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
