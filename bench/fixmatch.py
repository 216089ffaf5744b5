"""FixMatch with 10% of the labels: the same set-up as bench/pseudo_labels.py, on the model route.

Per seed, 12 ants and 12 bees of hymenoptera/train keep their label, the other
220 photos are unlabelled. The real ImageNet MobileNet 0.25 (224 px): a
linear probe on the 24 labels, then a head stage of `--epochs` at 1e-3 on
the model route (the backbone runs every step: the views are augmented
photos), either on the labels alone (`lambda_u=0`: the same steps, the
unlabelled loss switched off) or with FixMatch (`lambda_u=1`, `mu=7`,
threshold 0.95). Accuracy on the 153 held-out photos of hymenoptera/val.

    nice python bench/fixmatch.py             # writes bench/fixmatch.json
"""

import argparse
import os
import platform
import time

import keras
import numpy as np

import tfl
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.data import unlabeled_images
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.train import fit_fixmatch
from tfl.train import fit_stages

from pseudo_labels import CLASSES
from pseudo_labels import HERE
from pseudo_labels import SEEDS
from pseudo_labels import SIZE
from pseudo_labels import WEIGHTS
from pseudo_labels import _photos
from pseudo_labels import keep_labels


def _accuracy(model, held_out):
    probabilities = model.predict({"images": held_out[0]}, verbose=0, batch_size=64)
    return float(np.mean(probabilities.argmax(axis=1) == held_out[1]))


def one_seed(model, start, train, held_out, seed, args):
    images, labels = train
    kept = keep_labels(labels, args.fraction, seed)
    rest = np.setdiff1d(np.arange(len(labels)), kept)
    data = from_arrays(images[kept], labels[kept], class_names=list(CLASSES), validation_data=held_out,
                       image_size=SIZE, batch_size=8, seed=seed)
    unlabeled = unlabeled_images(images[rest], image_size=SIZE, true_labels=labels[rest], class_names=CLASSES)
    row = {"seed": seed, "labels": len(kept), "unlabelled": len(rest)}
    stage = Stage("none", epochs=args.epochs, learning_rate=1e-3)
    for name, lambda_u in (("labels_only", 0.0), ("fixmatch", 1.0)):
        model.set_weights(start)
        keras.utils.set_random_seed(seed)
        fit_stages(model, data, [Stage("probe")], verbose=0)
        row.setdefault("probe", _accuracy(model, held_out))
        started = time.perf_counter()
        record = fit_fixmatch(model, data, unlabeled, [stage], threshold=args.threshold, lambda_u=lambda_u,
                              mu=args.mu, feature_cache="off", verbose=0, seed=seed)
        row[name] = _accuracy(model, held_out)
        row[f"{name}_seconds"] = time.perf_counter() - started
        if lambda_u:
            last = record.stages[0]
            row["mask_rate"] = last["history"]["mask_rate"][-1]
            row["pseudo_label_accuracy"] = last["history"]["pseudo_label_accuracy"][-1]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--mu", type=int, default=7)
    parser.add_argument("--json", default=os.path.join(HERE, "fixmatch.json"))
    args = parser.parse_args()
    start_time = time.perf_counter()
    train, held_out = _photos("train"), _photos("val")
    model = tfl.build_model(ModelConfig(backbone="mobilenet_025", weights=WEIGHTS, image_size=SIZE), list(CLASSES))
    start = model.get_weights()
    rows = [one_seed(model, start, train, held_out, seed, args) for seed in SEEDS]
    mean = {key: float(np.mean([row[key] for row in rows])) for key in ("probe", "labels_only", "fixmatch")}
    columns = ["seed", "labels", "unlabelled", "probe", "labels_only", "fixmatch", "mask_rate",
               "pseudo_label_accuracy", "fixmatch_seconds"]
    print(format_table(rows + [{"seed": "mean", **mean}], columns))
    write_json(args.json, {
        "what": "hymenoptera, mobilenet_025 ImageNet 224 px: probe, then a head stage on labels only vs FixMatch",
        "fraction": args.fraction, "epochs": args.epochs, "threshold": args.threshold, "mu": args.mu,
        "held_out": len(held_out[1]), "seeds": rows, "mean": mean,
        "seconds": time.perf_counter() - start_time, "machine": platform.platform(),
    })


if __name__ == "__main__":
    main()
