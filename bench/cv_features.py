"""Cross-validation's fixed cost of frozen features: are the folds' features computed once?

`tfl.cross_validate` of a linear-probe plan (`train.stages: [probe]`, the
stage that reads only frozen features) with the real ImageNet MobileNet 0.25
at 224 px on the 244 ants-vs-bees training photos of `../shared/data`, K
stratified folds, in a fresh output folder. Each fold's run folder records, per
stage, how long its features took (`feature_seconds`) and, since the per-example
cache, where they came from (`feature_origin`). Run it on two checkouts (with
`PYTHONPATH=<checkout>`) to compare them; prints a per-fold table and the total.

    python bench/cv_features.py [--folds 5] [--json bench/cv_features.json]
"""

import argparse
import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from real_transfer import SHARED_DATA
from real_transfer import keras_home_with_weights

import tfl
from tfl.config import Config
from tfl.io import write_json

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", default=os.path.join(HERE, "cv_features.json"))
    args = parser.parse_args()
    keras_home_with_weights()
    config = Config.from_dict({
        "data": {"source": os.path.join(SHARED_DATA, "hymenoptera", "train"), "batch_size": 32},
        "model": {"backbone": "mobilenet_025", "weights": "imagenet", "image_size": 224},
        "train": {"stages": ["probe"]},
    })
    with tempfile.TemporaryDirectory(prefix="tfl-cv-features-") as output:
        start = time.perf_counter()
        cv = tfl.cross_validate(config, folds=args.folds, output_dir=output)
        total = time.perf_counter() - start
        rows = []
        for fold in cv.folds:
            name = f"fold-{fold['repeat']}-{fold['fold']}"
            with open(os.path.join(output, name, "report.json"), encoding="utf-8") as f:
                stage = json.load(f)["stages"][0]
            rows.append({"fold": name, "images": fold["num_train"] + fold["num_held_out"],
                         "feature_s": stage["feature_seconds"], "origin": stage.get("feature_origin", "(not recorded)"),
                         "fold_s": fold["seconds"], "accuracy": fold["accuracy"]})
    print(f"{'fold':<10}{'images':>7}{'features s':>12}  {'origin':<18}{'fold s':>8}{'accuracy':>10}")
    for r in rows:
        print(f"{r['fold']:<10}{r['images']:>7}{r['feature_s']:>12.2f}  {r['origin']:<18}{r['fold_s']:>8.1f}"
              f"{r['accuracy']:>10.3f}")
    print(f"total {total:.1f} s for {args.folds} folds (cross_validate, from the folders to cv.json); "
          f"features {sum(r['feature_s'] for r in rows):.1f} s of it")
    write_json(args.json, {"folds": rows, "total_seconds": total, "code": tfl.__file__,
                           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"})


if __name__ == "__main__":
    main()
