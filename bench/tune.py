"""`tfl tune` on the ants-vs-bees photos with the real ImageNet MobileNet 0.25.

The search (KerasTuner, Bayesian or Hyperband) trains on `hymenoptera/train`
only, each trial scored on a seeded 20% split of it; `hymenoptera/val` is the
held-out folder, never read by the search. Afterwards the default plan and
the best config are each trained on all of `train/` with `tfl train`'s code
and scored on `val/`, to see whether the search's choice holds on data it
never saw.

    python bench/tune.py [--trials 10] [--tuner bayesian] [--image-size 224] [--no-held-out]

Needs ../shared/data (weights and photos; `TFL_SHARED_DATA` elsewhere).
Prints the trials table and the summary, and writes JSON.
"""

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED = os.environ.get("TFL_SHARED_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
WEIGHTS_FILE = "mobilenet_2_5_224_tf_no_top.h5"


def keras_home():
    """A temporary Keras home whose `models/` holds the real weights under Keras' own name."""
    home = tempfile.mkdtemp(prefix="keras-home-")
    os.makedirs(os.path.join(home, "models"))
    shutil.copy(os.path.join(SHARED, "weights", WEIGHTS_FILE), os.path.join(home, "models", WEIGHTS_FILE))
    os.environ["KERAS_HOME"] = home  # read when keras is imported: set before any tfl import
    return home


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--tuner", choices=("bayesian", "hyperband"), default="bayesian")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--output", default=None, help="the search folder (default: a temporary one)")
    parser.add_argument("--no-held-out", action="store_true", help="skip training both plans on all of train/")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "tune.json"))
    args = parser.parse_args()
    home = keras_home()
    from tfl.config import Config
    from tfl.experiment import run_experiment
    from tfl.io import write_json
    from tfl.tuning import tune

    data = os.path.join(SHARED, "hymenoptera")
    config = Config.from_dict(
        {
            "data": {"source": os.path.join(data, "train"), "validation_source": os.path.join(data, "val"),
                     "batch_size": 32, "seed": 1337},
            "model": {"backbone": "mobilenet_025", "weights": "imagenet", "image_size": args.image_size},
        }
    )  # fmt: skip
    output = args.output or tempfile.mkdtemp(prefix="tfl-tune-bench-")
    result = tune(config, max_trials=args.trials, tuner=args.tuner, output_dir=output)
    print(result.table())
    searched = [row for row in result.trials[1:] if row["score"] is not None]
    summary = {
        "tuner": args.tuner,
        "trials": len(searched),
        "image_size": args.image_size,
        "search_seconds": result.seconds,
        "default_seconds": result.trials[0]["seconds"],
        "trial_seconds_median": sorted(row["seconds"] for row in searched)[len(searched) // 2],
        "default_val_accuracy": result.default_score,
        "best_val_accuracy": result.best_score,
        "best_searched_val_accuracy": max(row["score"] for row in searched),
        "best_plan": next(row for row in result.trials if row["score"] == result.best_score)["plan"],
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    if not args.no_held_out:
        best = result.best_config.replace(**{"data.validation_source": config.data.validation_source})
        for name, trained in (("default", config), ("best", best)):  # all of train/, scored on val/
            start = time.perf_counter()
            report = run_experiment(trained, None, verbose=0).report
            summary[f"{name}_held_out_accuracy"] = report["accuracy"]
            summary[f"{name}_held_out_seconds"] = time.perf_counter() - start
    print()
    for key, value in summary.items():
        print(f"{key:>28}: {value:.4f}" if isinstance(value, float) else f"{key:>28}: {value}")
    write_json(args.json, {"summary": summary, "trials": result.trials})
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
