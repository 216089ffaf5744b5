"""Pseudo-labelling on text: MiniLM on the demo tweets with 8% of the labels.

The demo's confident tweets (negative, neutral, positive): a class-balanced
pool of 300 per class and 150 held-out per class (the demo's split). Per
seed, 24 pool tweets per class keep their label (8%), the other 828 are
unlabelled (their true labels only score the pseudo-labels). The offline
MiniLM encoder (sequence length 64) with a linear probe: round 0 on the 72
labels, then 3 pseudo-label rounds (threshold 0.7 and 0.9, classes in the
labelled proportions) on cached features. Accuracy on the 450 held-out tweets.

    nice python bench/pseudo_labels_text.py   # writes bench/pseudo_labels_text.json
"""

import argparse
import os
import platform
import time

import keras
import numpy as np

from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_texts
from tfl.data import load_tweets
from tfl.data import unlabeled_texts
from tfl.demo.text import TextDemoSettings
from tfl.demo.text import _balanced_split
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import fit_self_training

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ("negative", "neutral", "positive")
SEEDS = (0, 1, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-per-class", type=int, default=24)
    parser.add_argument("--thresholds", default="0.7,0.9")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=os.path.join(HERE, "pseudo_labels_text.json"))
    args = parser.parse_args()
    start = time.perf_counter()
    s = TextDemoSettings()
    tweets = load_tweets(min_confidence=s.min_confidence)
    pool, test = _balanced_split(tweets.labels, CLASSES, 300, 150, s.seed)
    model = build_model(ModelConfig(encoder=s.encoder, sequence_length=s.sequence_length), CLASSES, task="text")
    held_out = (list(tweets.texts[test]), list(tweets.labels[test]))
    rows, means = [], []
    for threshold in (float(t) for t in args.thresholds.split(",")):
        mine = []
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            pool_labels = tweets.labels[pool]
            kept = np.sort(np.concatenate([
                rng.permutation(np.flatnonzero(pool_labels == name))[: args.labels_per_class] for name in CLASSES
            ]))
            rest = np.setdiff1d(np.arange(len(pool)), kept)
            data = from_texts(list(tweets.texts[pool][kept]), list(pool_labels[kept]), validation_data=held_out,
                              class_names=CLASSES, preprocessor=model.preprocessor, batch_size=32, seed=seed)
            truth = np.searchsorted(CLASSES, pool_labels[rest])
            unlabeled = unlabeled_texts(list(tweets.texts[pool][rest]), preprocessor=model.preprocessor,
                                        true_labels=truth, class_names=CLASSES)
            keras.utils.set_random_seed(seed)
            record = fit_self_training(model, data, unlabeled, [Stage("probe")], rounds=args.rounds,
                                       threshold=threshold, verbose=0, seed=seed)
            last = record.per_round[-1]
            row = {
                "threshold": threshold, "seed": seed, "labels": len(kept), "unlabelled": len(rest),
                "labels_only": record.per_round[0]["validation_accuracy"], "pseudo_labels": last["validation_accuracy"],
                "pseudo_labels_taken": last["pseudo_labels"]["accepted"],
                "pseudo_label_accuracy": last["pseudo_labels"]["accuracy"], "seconds": record.seconds,
                "rounds": record.to_dict()["per_round"],
            }
            print(format_table([row], ["threshold", "seed", "labels_only", "pseudo_labels", "seconds"]), flush=True)
            mine.append(row)
        mean = {key: float(np.mean([row[key] for row in mine])) for key in ("labels_only", "pseudo_labels")}
        rows += mine + [{"threshold": threshold, "seed": "mean", **mean}]
        means.append({"threshold": threshold, **mean})
    columns = ["threshold", "seed", "labels", "unlabelled", "labels_only", "pseudo_labels", "pseudo_labels_taken",
               "pseudo_label_accuracy", "seconds"]
    print(format_table(rows, columns))
    write_json(args.json, {
        "what": "demo tweets, MiniLM (sequence length 64), linear probe; labels only vs self-training",
        "labels_per_class": args.labels_per_class, "rounds": args.rounds, "held_out": len(test),
        "runs": [row for row in rows if row["seed"] != "mean"], "mean": means,
        "seconds": time.perf_counter() - start, "machine": platform.platform(),
    })


if __name__ == "__main__":
    main()
