"""Class weights on imbalanced data: `train.class_weight="balanced"` against the default loss.

The ants-vs-bees photos of `../shared/data` with the bees of `train/` cut to a
tenth (every tenth bee, sorted by name: 12 of 121; all 123 ants), trained with
tfl's default plan (linear probe, then the top 2 stages) on the genuine Keras
ImageNet weights of `MobileNet(alpha=0.25)`, and scored on the untouched,
balanced `val/` (70 ants, 83 bees). Each seed runs both settings from the same
weights and data; the only difference is `class_weight`.

    python bench/class_imbalance.py [--seeds 0,1,2] [--keep 10]

Prints a table (per setting: mean macro-F1, accuracy, bee recall, and each
seed's macro-F1) and writes `bench/class_imbalance.json`.
"""

import argparse
import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from real_transfer import BACKBONE
from real_transfer import SHARED_DATA
from real_transfer import keras_home_with_weights

from tfl.config import Config
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.experiment import run_experiment

SETTINGS = {"default": None, "balanced": "balanced"}


def imbalanced_copy(folder, keep):
    """`folder`/train with every `keep`-th bee only (symlinks), in a temporary folder."""
    root = tempfile.mkdtemp(prefix="imbalanced_")
    for name in ("ants", "bees"):
        os.makedirs(os.path.join(root, name))
        files = sorted(os.listdir(os.path.join(folder, "train", name)))
        for file in files[::keep] if name == "bees" else files:
            os.symlink(os.path.join(folder, "train", name, file), os.path.join(root, name, file))
    return root


def run(train_folder, val_folder, seed, class_weight):
    config = Config.from_dict(
        {
            "data": {"source": train_folder, "validation_source": val_folder, "seed": seed},
            "model": {"backbone": BACKBONE, "weights": "imagenet"},
            "train": {"class_weight": class_weight},
        }
    )
    report = run_experiment(config, verbose=0).report
    return {
        "macro_f1": report["macro_f1"],
        "accuracy": report["accuracy"],
        "bee_recall": report["per_class"]["bees"]["recall"],
        "seconds": report["seconds"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--keep", type=int, default=10, help="keep every KEEP-th bee of train/")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "class_imbalance.json"))
    args = parser.parse_args()
    folder = os.path.join(SHARED_DATA, "hymenoptera")
    home = keras_home_with_weights()
    train_folder = imbalanced_copy(folder, args.keep)
    try:
        counts = {name: len(os.listdir(os.path.join(train_folder, name))) for name in ("ants", "bees")}
        runs = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            for setting, class_weight in SETTINGS.items():
                result = run(train_folder, os.path.join(folder, "val"), seed, class_weight)
                runs.append({"setting": setting, "seed": seed, **result})
                print(f"seed {seed} {setting}: macro-F1 {result['macro_f1']:.3f}", flush=True)
    finally:
        shutil.rmtree(train_folder, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    rows = []
    for setting in SETTINGS:
        mine = [r for r in runs if r["setting"] == setting]
        rows.append(
            {
                "class_weight": setting,
                "macro_f1": np.mean([r["macro_f1"] for r in mine]),
                "accuracy": np.mean([r["accuracy"] for r in mine]),
                "bee_recall": np.mean([r["bee_recall"] for r in mine]),
                "s": np.mean([r["seconds"] for r in mine]),
                "per_seed_f1": " ".join(f"{r['macro_f1']:.3f}" for r in mine),
            }
        )
    print(f"\nTrain: {counts['ants']} ants, {counts['bees']} bees (every {args.keep}th); val: 70 ants, 83 bees")
    print(format_table(rows, ["class_weight", "macro_f1", "accuracy", "bee_recall", "s", "per_seed_f1"]))
    write_json(args.output, {"train_counts": counts, "keep": args.keep, "rows": rows, "runs": runs})


if __name__ == "__main__":
    main()
