"""Which transfer recipe works from a small source? The numbers behind docs/demo.md.

Trains the demo's source backbone (digits 0-4, from random weights), then, on
digits 5-9 with K labels per class and several label draws, every recipe
below for the same number of steps, and evaluates each on the same 449
held-out target images. Also probes the features themselves: a logistic
regression (scikit-learn, standardised features) on the source backbone's
pooled features and on a random network's.

    python bench/transfer_recipes.py [--draws 3] [--first-draw 0] [--labels-per-class 2,5]
        [--recipes WORD,...] [--no-probes] [--json out.json]

`--recipes` keeps the recipes whose name contains one of the words (e.g.
`fine_tune,transfer`); `--no-probes` skips the two logistic regressions.

Prints a table (mean accuracy and range over draws) and writes JSON. Takes
about 25 minutes on 2 CPU cores.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from tfl.backbones import save_backbone
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.data import load_digits
from tfl.data import stratified_split
from tfl.demo.image import MIN_STEPS_PER_EPOCH
from tfl.demo.image import SOURCE_CLASSES
from tfl.demo.image import TARGET_CLASSES
from tfl.demo.image import _epochs_for
from tfl.demo.image import _few_labels
from tfl.demo.image import _subset
from tfl.demo.image import _with_epochs_of_at_least
from tfl.evaluate import evaluate_model
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import fine_tune
from tfl.train import fit_stages

BACKBONE = "mobilenet_v3_small"
SIZE = (32, 32)
STEPS = 300


def recipes(epochs):
    """name -> (pretrained?, stages). Every recipe gets the same number of steps."""
    half = max(1, epochs // 2)
    return {
        "scratch (all, BN trained, 1e-3)": (False, [Stage("all", epochs, 1e-3, train_batchnorm=True)]),
        "transfer (all, BN trained, 1e-3)": (True, [Stage("all", epochs, 1e-3, train_batchnorm=True)]),
        "head 1e-3, then all 1e-3 (BN frozen)": (True, [Stage("none", half, 1e-3), Stage("all", half, 1e-3)]),
        "head 1e-3, then top 2 1e-4 (default plan)": (True, [Stage("none", half, 1e-3), Stage("top 2", half, 1e-4)]),
        "head only 1e-3 (feature extraction)": (True, [Stage("none", epochs, 1e-3)]),
        # fine_tune's own plan (1 head epoch, then everything): the same number of steps.
        "tfl.fine_tune, defaults": (True, {"epochs": epochs - 1}),
        "tfl.fine_tune, lr_mult=1": (True, {"epochs": epochs - 1, "lr_mult": 1}),
        "tfl.fine_tune, linear_probe=True": (True, {"epochs": epochs, "linear_probe": True}),
        "tfl.fine_tune, train_batchnorm=True": (True, {"epochs": epochs - 1, "train_batchnorm": True}),
        "tfl.fine_tune, train_batchnorm=True, lr_mult=1": (
            True, {"epochs": epochs - 1, "train_batchnorm": True, "lr_mult": 1}),
    }


def linear_probe(model, train_images, train_labels, test_images, test_labels):
    features = model.feature_model()
    train = features.predict({"images": train_images}, verbose=0)
    test = features.predict({"images": test_images}, verbose=0)
    scaler = StandardScaler().fit(train)
    probe = LogisticRegression(C=1.0, max_iter=5000).fit(scaler.transform(train), train_labels)
    return float((probe.predict(scaler.transform(test)) == test_labels).mean())


def as_images(digits):
    return keras.ops.convert_to_numpy(
        keras.ops.image.resize(np.repeat(digits[..., None], 3, -1).astype("float32"), SIZE)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--first-draw", type=int, default=0, help="label draws first-draw, first-draw+1, ...")
    parser.add_argument("--labels-per-class", default="2,5")
    parser.add_argument("--recipes", default=None, help="comma-separated words; keep recipes whose name has one")
    parser.add_argument("--no-probes", action="store_true", help="skip the logistic regressions on features")
    parser.add_argument("--json", default="bench/transfer_recipes.json")
    args = parser.parse_args()
    ks = [int(k) for k in args.labels_per_class.split(",")]
    words = [w.strip() for w in args.recipes.split(",")] if args.recipes else []

    digits, labels = load_digits()
    source_x, source_y = _subset(digits, labels, SOURCE_CLASSES)
    target_x, target_y = _subset(digits, labels, TARGET_CLASSES)
    pool_index, test_index = stratified_split(target_y, 0.5, 0)
    pool_x, pool_y = target_x[pool_index], target_y[pool_index]
    test_x, test_y = target_x[test_index], target_y[test_index]
    names = [str(c) for c in TARGET_CLASSES]

    keras.utils.set_random_seed(0)
    source_data = from_arrays(source_x, source_y, image_size=SIZE, class_names=[str(c) for c in SOURCE_CLASSES])
    source = build_model(ModelConfig(backbone=BACKBONE, weights=None, image_size=SIZE), source_data.class_names)
    fit_stages(source, source_data, [Stage("all", 15, 1e-3, train_batchnorm=True)], verbose=0)
    source_accuracy = evaluate_model(source, source_data.validation, source_data.class_names)["accuracy"]
    weights = save_backbone(source, "/tmp/tfl_bench_source.weights.h5")
    print(f"source (digits 0-4) accuracy {source_accuracy:.4f}", flush=True)

    runs = []
    for k in ks:
        for draw in range(args.first_draw, args.first_draw + args.draws):
            chosen = _few_labels(pool_y, k, draw)
            data = from_arrays(pool_x[chosen], pool_y[chosen], image_size=SIZE, class_names=names,
                               validation_data=(test_x, test_y), seed=draw)
            data, steps_per_epoch = _with_epochs_of_at_least(data, MIN_STEPS_PER_EPOCH, 32)
            epochs = _epochs_for(STEPS, steps_per_epoch)
            for name, (pretrained, stages) in recipes(epochs).items():
                if words and not any(word in name for word in words):
                    continue
                keras.utils.set_random_seed(draw)
                model = build_model(
                    ModelConfig(backbone=BACKBONE, weights=weights if pretrained else None, image_size=SIZE), names
                )
                start = time.perf_counter()
                if isinstance(stages, dict):  # fine_tune's options
                    history = fine_tune(model, data, verbose=0, **stages)
                else:
                    history = fit_stages(model, data, stages, verbose=0)
                accuracy = evaluate_model(model, data.validation, names)["accuracy"]
                runs.append({"k": k, "draw": draw, "recipe": name, "accuracy": accuracy,
                             "seconds": time.perf_counter() - start,
                             "plan": [f"{s.unfreeze}:{s.epochs}:{s.learning_rate:g}" for s in history.plan],
                             "transfer_check": history.transfer_check})
                print(f"k={k} draw={draw} {name}: {accuracy:.4f}", flush=True)
            probes = () if args.no_probes else (
                ("linear probe: source features", weights), ("linear probe: random features", None))
            for which, path in probes:
                keras.utils.set_random_seed(draw)
                model = build_model(ModelConfig(backbone=BACKBONE, weights=path, image_size=SIZE), names)
                accuracy = linear_probe(model, as_images(pool_x[chosen]), pool_y[chosen], as_images(test_x), test_y)
                runs.append({"k": k, "draw": draw, "recipe": which, "accuracy": accuracy, "seconds": 0.0})
                print(f"k={k} draw={draw} {which}: {accuracy:.4f}", flush=True)

    rows = []
    for k in ks:
        for name in dict.fromkeys(r["recipe"] for r in runs):
            values = [r["accuracy"] for r in runs if r["k"] == k and r["recipe"] == name]
            rows.append({"labels_per_class": k, "recipe": name, "mean": float(np.mean(values)),
                         "min": float(np.min(values)), "max": float(np.max(values))})
    print()
    print(f"digits 5-9, {len(test_y)} held-out images, {args.draws} label draws, {STEPS} steps per run, {BACKBONE}:")
    print(format_table(rows, ["labels_per_class", "recipe", "mean", "min", "max"]))
    write_json(args.json, {"source_accuracy": source_accuracy, "rows": rows, "runs": runs})


if __name__ == "__main__":
    main()
