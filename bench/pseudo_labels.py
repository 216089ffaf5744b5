"""Pseudo-labelling with 10% of the labels: does self-training beat the labels alone?

The 244 training photos of `../shared/data/hymenoptera` (ants, bees): for each
seed, 10% of each class keep their label (12 ants, 12 bees), the other 220
are unlabelled (their true labels only score the pseudo-labels). The model is
the real ImageNet MobileNet 0.25 (`mobilenet_025`, 224 px) with a linear probe
(`Stage("probe")`): round 0 fits it on the 24 labels, and each of 3 rounds
pseudo-labels the unlabelled photos (top probability >= threshold: 0.7 and
0.9; classes in the labelled proportions) and fits it again on labels + pseudo-labels
(`tfl.train.fit_self_training`, on cached features). Accuracy on the 153
held-out photos of hymenoptera/val, after round 0 (labels only) and after the
last round (pseudo-labels), per seed; the probe on all 244 labels is the
ceiling.

    nice python bench/pseudo_labels.py            # writes bench/pseudo_labels.json
"""

import argparse
import glob
import os
import platform
import time

import keras
import numpy as np

import tfl
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.data import load_images
from tfl.data import unlabeled_images
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.train import fit_self_training
from tfl.train import fit_stages

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_DATA = os.environ.get("TFL_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
WEIGHTS = os.path.join(SHARED_DATA, "weights", "mobilenet_2_5_224_tf_no_top.h5")
SIZE = 224
SEEDS = (0, 1, 2)
CLASSES = ("ants", "bees")


def _photos(split):
    folder = os.path.join(SHARED_DATA, "hymenoptera", split)
    paths = sorted(p for name in CLASSES for p in glob.glob(os.path.join(folder, name, "*")))
    labels = np.array([CLASSES.index(os.path.basename(os.path.dirname(p))) for p in paths])
    return load_images(paths, SIZE).numpy().astype(np.uint8), labels


def keep_labels(labels, fraction, seed):
    """A seeded choice of `fraction` of each class (at least one)."""
    rng = np.random.default_rng(seed)
    kept = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        kept.extend(rng.permutation(members)[: max(1, round(fraction * len(members)))])
    return np.sort(np.array(kept))


def one_seed(model, train, held_out, seed, threshold, args):
    images, labels = train
    kept = keep_labels(labels, args.fraction, seed)
    rest = np.setdiff1d(np.arange(len(labels)), kept)
    data = from_arrays(
        images[kept], labels[kept], class_names=list(CLASSES), validation_data=held_out,
        image_size=SIZE, batch_size=32, seed=seed,
    )
    unlabeled = unlabeled_images(images[rest], image_size=SIZE, true_labels=labels[rest], class_names=CLASSES)
    keras.utils.set_random_seed(seed)
    record = fit_self_training(
        model, data, unlabeled, [Stage("probe")], rounds=args.rounds, threshold=threshold,
        balance=args.balance, verbose=0, seed=seed,
    )
    last = record.per_round[-1]
    return {
        "threshold": threshold,
        "seed": seed,
        "labels": len(kept),
        "unlabelled": len(rest),
        "labels_only": record.per_round[0]["validation_accuracy"],
        "pseudo_labels": last["validation_accuracy"],
        "pseudo_labels_taken": last["pseudo_labels"]["accepted"],
        "pseudo_label_accuracy": last["pseudo_labels"]["accuracy"],
        "seconds": record.seconds,
        "rounds": record.to_dict()["per_round"],
    }


def ceiling(model, train, held_out):
    """The probe on every training label."""
    images, labels = train
    data = from_arrays(images, labels, class_names=list(CLASSES), validation_data=held_out, image_size=SIZE)
    fit_stages(model, data, [Stage("probe")], verbose=0)
    probabilities = model.predict({"images": held_out[0]}, verbose=0)
    return float(np.mean(probabilities.argmax(axis=1) == held_out[1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.1, help="labels kept per class")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--thresholds", default="0.7,0.9", help="comma-separated pseudo-label thresholds")
    parser.add_argument("--balance", default="proportional")
    parser.add_argument("--json", default=os.path.join(HERE, "pseudo_labels.json"))
    args = parser.parse_args()
    start = time.perf_counter()
    train, held_out = _photos("train"), _photos("val")
    model = tfl.build_model(ModelConfig(backbone="mobilenet_025", weights=WEIGHTS, image_size=SIZE), list(CLASSES))
    thresholds = [float(t) for t in args.thresholds.split(",")]
    rows, means = [], []
    for threshold in thresholds:
        mine = [one_seed(model, train, held_out, seed, threshold, args) for seed in SEEDS]
        mean = {key: float(np.mean([row[key] for row in mine])) for key in ("labels_only", "pseudo_labels")}
        rows += mine + [{"threshold": threshold, "seed": "mean", **mean}]
        means.append({"threshold": threshold, **mean})
    top = ceiling(model, train, held_out)
    columns = ["threshold", "seed", "labels", "unlabelled", "labels_only", "pseudo_labels", "pseudo_labels_taken",
               "pseudo_label_accuracy", "seconds"]
    print(format_table(rows, columns))
    print(f"probe on all {len(train[1])} labels: {top:.4f}; held-out photos: {len(held_out[1])}")
    write_json(args.json, {
        "what": "hymenoptera, mobilenet_025 ImageNet 224 px, linear probe; labels only vs self-training",
        "fraction": args.fraction, "rounds": args.rounds, "balance": args.balance,
        "held_out": len(held_out[1]), "runs": [row for row in rows if row["seed"] != "mean"], "mean": means,
        "all_labels": top, "seconds": time.perf_counter() - start, "machine": platform.platform(),
    })


if __name__ == "__main__":
    main()
