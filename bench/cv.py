"""Cross-validation on real photos: ImageNet MobileNet 0.25 against the same plan from scratch.

`tfl cv --data hymenoptera/train --backbone mobilenet_025 --weights <ImageNet file>
--image-size 160 --folds K --compare-backbone :none`, in Python: the default
plan (LP-FT for pretrained weights, the whole model for weights none) on K
stratified folds of the 244 ants-vs-bees training photos of `../shared/data`,
the second plan on the same folds, and the paired difference per fold.

Keras has MobileNet ImageNet files for 128, 160, 192 and 224 px only, and
`../shared/data` holds the 224 one: at 160 px `weights="imagenet"` would ask for
the 160 px file (a download), so the weights are that 224 px file's path, which
loads at any size (every layer is convolutional). The path is part of the
config: keep it the same to continue a cross-validation.

    python bench/cv.py [--folds 5] [--image-size 160] [--output runs/bench-cv] [--weights FILE]

Prints a per-fold table and the summary (mean, std, 95% t-interval) and writes
`bench/cv.json`. Running it again with the same --output reads finished folds back.
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf

from real_transfer import SHARED_DATA
from real_transfer import WEIGHTS_FILE
from tfl import cross_validate
from tfl.config import Config
from tfl.evaluate import format_table
from tfl.evaluate import write_json

HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = ("accuracy", "macro_f1", "auc_roc")


def fold_rows(cv):
    rows = []
    for fold in cv.folds:
        row = {"fold": f"{fold['repeat']}-{fold['fold']}", "held_out": fold["num_held_out"]}
        for metric in METRICS:
            row[f"imagenet_{metric}"] = fold[metric]
            row[f"scratch_{metric}"] = fold["compare"][metric]
        row["accuracy_difference"] = fold["accuracy"] - fold["compare"]["accuracy"]
        row["seconds"] = fold["seconds"]
        row["scratch_seconds"] = fold["compare"]["seconds"]
        rows.append(row)
    return rows


def summary_rows(cv):
    rows = []
    for label, summary in (("imagenet", cv.summary), ("scratch", cv.compare), ("difference", cv.difference)):
        for metric in METRICS:
            s = summary[metric]
            low, high = s["ci95"] if s["ci95"] is not None else (None, None)
            rows.append({"plan": label, "metric": metric, "mean": s["mean"], "std": s["std"], "ci95_low": low, "ci95_high": high})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=os.path.join("runs", "bench-cv"))
    parser.add_argument("--weights", default=os.path.join(SHARED_DATA, "weights", WEIGHTS_FILE))
    args = parser.parse_args()
    if not os.path.isfile(args.weights):
        raise SystemExit(f"Needs {args.weights} (../shared/data beside the repository; see its PROVENANCE.md).")
    config = Config.from_dict(
        {
            "data": {"source": os.path.join(SHARED_DATA, "hymenoptera", "train"), "seed": args.seed},
            "model": {
                "backbone": "mobilenet_025",
                "weights": args.weights,
                "image_size": args.image_size,
            },
        }
    )
    scratch = config.replace(**{"model.weights": None})
    start = time.perf_counter()
    cv = cross_validate(config, folds=args.folds, compare=scratch, output_dir=args.output, log=print)
    seconds = time.perf_counter() - start
    folds, summary = fold_rows(cv), summary_rows(cv)
    columns = ["fold", "held_out", "imagenet_accuracy", "scratch_accuracy", "accuracy_difference", "seconds", "scratch_seconds"]
    print(format_table(folds, columns))
    print()
    print(format_table(summary, ["plan", "metric", "mean", "std", "ci95_low", "ci95_high"]))
    print(f"\n{seconds:.0f} s in this call (finished folds are read back, not timed again)")
    write_json(
        os.path.join(HERE, "cv.json"),
        {
            "folds": folds,
            "summary": summary,
            "k": args.folds,
            "image_size": args.image_size,
            "seed": args.seed,
            "seconds_this_call": seconds,
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "tensorflow": tf.__version__},
        },
    )


if __name__ == "__main__":
    main()
