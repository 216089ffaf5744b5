"""Image transfer on real ImageNet weights: tfl's plans against the Keras guide's recipe.

The genuine Keras ImageNet weights of `MobileNet(alpha=0.25)` (tfl's
`mobilenet_025`) transferred to the ants-vs-bees photos of the PyTorch
transfer-learning tutorial (244 training, 153 held-out images), both from
`../shared/data` (see its PROVENANCE.md). Each plan runs once per seed, from
the same weights file, and is scored on the 153 `val/` images:

- `default`: `tfl train --data train/ --val-data val/ --backbone mobilenet_025
  --weights imagenet`, nothing else (LP-FT: the linear probe, then the top 2
  stages);
- `fine_tune`: the same with `--plan fine_tune` (fastai's plan after the
  transfer check);
- `head`: the head alone on the frozen backbone, `--stages none:EPOCHS:1e-3`;
- `probe`: the linear probe alone, `--stages probe`;
- `keras_guide`: the recipe of the Keras transfer-learning guide
  (keras.io/guides/transfer_learning), written out here with Keras alone:
  frozen base called with `training=False`, GlobalAveragePooling2D, Dropout
  0.2, Dense; Adam 1e-3 for 10 epochs; then `base_model.trainable = True` and
  everything at 1e-5 for 10 epochs; RandomFlip("horizontal") +
  RandomRotation(0.1) augmentation; images from
  `keras.utils.image_dataset_from_directory` at 224x224, batch 32;
  MobileNet's own `preprocess_input`.

Every row's seconds are the wall time from reading the folders to the held-out
score (data, model, training, evaluation), in this one process, so the ratios
compare like with like. `--resize stretch` runs tfl's plans with the plain
resize instead of the default centre crop; `--tta` also scores each tfl plan's
model with flip test-time augmentation (`evaluate_held_out(..., tta=True)`,
not counted in its seconds).

    python bench/real_transfer.py [--seeds 0,1,2] [--plans default,fine_tune,head,probe,keras_guide]

Prints a table (per plan: mean accuracy, macro-F1 and seconds, each seed's
accuracy) and writes JSON. 6 to 10 minutes on 2 CPU cores with every plan (the
guide's recipe is most of it); the `default` and `probe` rows take 1 to 2 minutes for 3 seeds.
"""

import argparse
import os
import platform
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from tfl.config import Config
from tfl.evaluate import classification_metrics
from tfl.evaluate import evaluate_held_out
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.experiment import run_experiment

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_DATA = os.environ.get("TFL_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
WEIGHTS_FILE = "mobilenet_2_5_224_tf_no_top.h5"
IMAGE_SIZE = 224
BACKBONE = "mobilenet_025"
PLANS = ("default", "fine_tune", "head", "probe", "keras_guide")


def tfl_config(plan, folder, seed, resize, head_epochs):
    """The config `tfl train --data train/ --val-data val/ --backbone mobilenet_025
    --weights imagenet [plan flags]` builds."""
    train = {}
    if plan == "fine_tune":
        train["plan"] = "fine_tune"
    elif plan == "head":
        train["stages"] = [{"unfreeze": "none", "epochs": head_epochs, "learning_rate": 1e-3}]
    elif plan == "probe":
        train["stages"] = [{"unfreeze": "none", "linear_probe": True}]
    model = {"backbone": BACKBONE, "weights": "imagenet"}
    if resize is not None:
        model["resize"] = resize
    return Config.from_dict(
        {
            "data": {
                "source": os.path.join(folder, "train"),
                "validation_source": os.path.join(folder, "val"),
                "seed": seed,
            },
            "model": model,
            "train": train,
        }
    )


def run_tfl(plan, folder, seed, resize, head_epochs, tta=False):
    start = time.perf_counter()
    result = run_experiment(tfl_config(plan, folder, seed, resize, head_epochs), verbose=0)
    seconds = time.perf_counter() - start
    report = result.report
    extra = {}
    if tta:  # the same model scored again with flip test-time augmentation, outside the timed part
        extra["accuracy_tta"] = evaluate_held_out(result.model, result.data.validation, tta=True).report["accuracy"]
    return {
        **extra,
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "seconds": seconds,
        "stages": [stage["unfreeze"] for stage in report["config"]["train"]["stages"]],
        "transfer_check": report.get("transfer_check"),
    }


def run_keras_guide(folder, seed, frozen_epochs=10, fine_tune_epochs=10, batch_size=32):
    """The Keras transfer-learning guide's recipe, with Keras alone."""
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    size = (IMAGE_SIZE, IMAGE_SIZE)
    train = keras.utils.image_dataset_from_directory(
        os.path.join(folder, "train"), image_size=size, batch_size=batch_size, seed=seed, verbose=False
    )
    val = keras.utils.image_dataset_from_directory(
        os.path.join(folder, "val"), image_size=size, batch_size=batch_size, shuffle=False, verbose=False
    )
    class_names = train.class_names
    train, val = train.prefetch(tf.data.AUTOTUNE), val.cache().prefetch(tf.data.AUTOTUNE)

    base_model = keras.applications.MobileNet(
        alpha=0.25, include_top=False, weights="imagenet", input_shape=(*size, 3)
    )
    base_model.trainable = False
    augmentation = keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1)])
    inputs = keras.Input(shape=(*size, 3))
    x = augmentation(inputs)
    x = keras.applications.mobilenet.preprocess_input(x)
    x = base_model(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(len(class_names), activation="softmax")(x)
    model = keras.Model(inputs, outputs)

    def fit(rate, epochs):
        model.compile(
            optimizer=keras.optimizers.Adam(rate),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=[keras.metrics.SparseCategoricalAccuracy()],
        )
        model.fit(train, epochs=epochs, validation_data=val, verbose=0)

    fit(1e-3, frozen_epochs)
    frozen = _score(model, val, class_names)
    base_model.trainable = True
    fit(1e-5, fine_tune_epochs)
    scores = _score(model, val, class_names)
    return {
        **scores,
        "seconds": time.perf_counter() - start,
        "accuracy_after_frozen_phase": frozen["accuracy"],
    }


def _score(model, val, class_names):
    y_true = np.concatenate([labels.numpy() for _, labels in val])
    y_prob = model.predict(val, verbose=0)
    metrics = classification_metrics(y_true, y_prob, class_names)
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}


def keras_home_with_weights():
    """A temporary KERAS_HOME whose models/ holds the real weights under Keras' own
    name, so `weights="imagenet"` loads them offline through Keras' own code."""
    source = os.path.join(SHARED_DATA, "weights", WEIGHTS_FILE)
    if not os.path.isfile(source):
        raise SystemExit(f"Needs {source} (../shared/data beside the repository; see its PROVENANCE.md).")
    home = tempfile.mkdtemp(prefix="keras_home_")
    os.makedirs(os.path.join(home, "models"))
    shutil.copy(source, os.path.join(home, "models", WEIGHTS_FILE))
    os.environ["KERAS_HOME"] = home
    keras.src.backend.config._KERAS_DIR = home  # Keras read KERAS_HOME at import
    return home


def real_photos_and_weights(folder):
    """Checks that the photos are at `folder` (a hymenoptera-style folder with
    train/ and val/) and makes `weights="imagenet"` load the real weights
    offline (`keras_home_with_weights`); exits with what is missing."""
    if not os.path.isdir(folder):
        raise SystemExit(f"Needs the photos at {folder} (../shared/data/hymenoptera; see PROVENANCE.md).")
    return keras_home_with_weights()


def _mean_or_none(values):
    return None if None in values else float(np.mean(values))


def summarize(runs, plans):
    rows = []
    default_seconds = np.mean([r["seconds"] for r in runs if r["plan"] == "default"] or [np.nan])
    guide = [r for r in runs if r["plan"] == "keras_guide"]
    guide_seconds = np.mean([r["seconds"] for r in guide]) if guide else np.nan
    for plan in plans:
        mine = [r for r in runs if r["plan"] == plan]
        if not mine:
            continue
        seconds = float(np.mean([r["seconds"] for r in mine]))
        rows.append(
            {
                "plan": plan,
                "accuracy": float(np.mean([r["accuracy"] for r in mine])),
                "macro_f1": float(np.mean([r["macro_f1"] for r in mine])),
                "seconds": seconds,
                "guide_seconds_ratio": float(guide_seconds / seconds) if guide else None,
                "per_seed_accuracy": [round(r["accuracy"], 3) for r in mine],
                "accuracy_tta": _mean_or_none([r.get("accuracy_tta") for r in mine]),
            }
        )
    return rows, {"default_seconds": float(default_seconds), "keras_guide_seconds": float(guide_seconds)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--plans", default=",".join(PLANS))
    parser.add_argument("--resize", choices=("crop", "stretch"), default=None, help="tfl plans only (default: tfl's)")
    parser.add_argument("--head-epochs", type=int, default=5, help="epochs of the `head` plan (tfl's default 5)")
    parser.add_argument("--tta", action="store_true", help="also score tfl's plans with flip test-time augmentation")
    parser.add_argument("--data", default=os.path.join(SHARED_DATA, "hymenoptera"))
    parser.add_argument("--json", default=os.path.join(HERE, "real_transfer.json"))
    args = parser.parse_args()
    plans = [p.strip() for p in args.plans.split(",") if p.strip()]
    unknown = sorted(set(plans) - set(PLANS))
    if unknown:
        raise SystemExit(f"Unknown plan(s) {', '.join(unknown)}. Known: {', '.join(PLANS)}.")
    real_photos_and_weights(args.data)
    seeds = [int(s) for s in args.seeds.split(",")]

    runs = []
    for seed in seeds:
        for plan in plans:
            if plan == "keras_guide":
                run = run_keras_guide(args.data, seed)
            else:
                run = run_tfl(plan, args.data, seed, args.resize, args.head_epochs, args.tta)
            runs.append({"plan": plan, "seed": seed, **run})
            print(f"seed {seed} {plan:<12} accuracy {run['accuracy']:.3f}  {run['seconds']:.1f} s", flush=True)

    rows, totals = summarize(runs, plans)
    print()
    table = [
        {
            "plan": r["plan"],
            "accuracy": r["accuracy"],
            "macro_f1": r["macro_f1"],
            "seconds": r["seconds"],
            "guide s / plan s": "-" if r["guide_seconds_ratio"] is None else f"{r['guide_seconds_ratio']:.1f}x",
            "per seed": ", ".join(f"{a:.3f}" for a in r["per_seed_accuracy"]),
            "with flip TTA": "-" if r["accuracy_tta"] is None else f"{r['accuracy_tta']:.4f}",
        }
        for r in rows
    ]
    columns = ["plan", "accuracy", "macro_f1", "seconds", "guide s / plan s", "per seed"]
    print(format_table(table, columns + (["with flip TTA"] if args.tta else [])))
    write_json(
        args.json,
        {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
            "backbone": BACKBONE,
            "image_size": IMAGE_SIZE,
            "resize": args.resize or "tfl default",
            "seeds": seeds,
            "summary": rows,
            **totals,
            "runs": runs,
        },
    )
    print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()
