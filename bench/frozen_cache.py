"""The frozen phase: tfl's feature cache against the Keras transfer-learning guide's recipe.

The guide (keras.io "Transfer learning & fine-tuning") keeps the frozen base
inside the model and calls `fit` for E epochs: every epoch runs the backbone
over every image again. tfl runs the backbone once, caches the pooled
features and trains the same head on them (`fit_stages` with
`Stage("none", epochs=E)`). Both train the same head (dropout 0.2, Dense
softmax, Adam 1e-3, batch 32) on the same in-memory pipeline, so they reach
the same validation accuracy; the table shows it. A third row is tfl's
default first stage, the linear probe on the same cached features.

Images: the 1,797 embedded 8x8 digits, upscaled to 224x224 RGB (the speed of
a backbone does not depend on what the pixels show). Weights are random
(`weights=None`; no ImageNet weights offline), so the accuracies measure
nothing about transfer: a random MobileNetV3Small's features are ~1e-10 and
the Adam-trained head stays near chance, while the probe standardises them.

    python bench/frozen_cache.py [--backbones mobilenet_v3_small,resnet50] [--epochs 10] [--repeats 3]

The guide's E-epoch time is measured as its first epoch (tracing included)
plus E-1 times its median steady epoch (`--guide-epochs` epochs are run; 0
runs all E): every epoch does the same work. Prints a table and writes JSON.
About 6 minutes on 2 CPU cores with the defaults.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.data import load_digits
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import fit_stages

SIZE = 224


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch of a `fit`, validation included."""

    def on_train_begin(self, logs=None):
        self.seconds = []
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.seconds.append(now - self.start)
        self.start = now


def guide_model(preprocessing, backbone_model, num_classes):
    """The guide's recipe, written out: the backbone's preprocessing, the frozen
    base called with training=False, average pooling, dropout 0.2, a Dense softmax."""
    backbone_model.trainable = False
    inputs = keras.Input((SIZE, SIZE, 3), name="images")
    x = preprocessing({"images": inputs})
    x = backbone_model(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model({"images": inputs}, outputs)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_guide(name, data, epochs, measured):
    keras.utils.set_random_seed(0)
    tfl_model = build_model(ModelConfig(backbone=name, weights=None, image_size=SIZE), data.class_names)
    # The same backbone and preprocessing, assembled as the guide does.
    model = guide_model(tfl_model.backbone_input_model(), tfl_model.backbone, len(data.class_names))
    timer = EpochTimer()
    start = time.perf_counter()
    history = model.fit(
        data.train, validation_data=data.validation, epochs=measured or epochs, callbacks=[timer], verbose=0
    )
    wall = time.perf_counter() - start
    first, rest = timer.seconds[0], timer.seconds[1:]
    steady = statistics.median(rest) if rest else first
    total = wall if not measured or measured >= epochs else first + (epochs - 1) * steady
    return {
        "seconds": total,
        "first_epoch": first,
        "steady_epoch": steady,
        "projected": bool(measured and measured < epochs),
        "val_accuracy": history.history["val_accuracy"][-1] if not measured or measured >= epochs else None,
    }


def run_tfl(name, data, epochs, stage):
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(backbone=name, weights=None, image_size=SIZE), data.class_names)
    start = time.perf_counter()
    history = fit_stages(model, data, [stage], verbose=0)
    total = time.perf_counter() - start
    record = history.stages[0]
    return {
        "seconds": total,
        "features": record.feature_seconds,
        "head": total - record.feature_seconds,
        "val_accuracy": record.history["val_accuracy"][-1],
        "cache": record.feature_cache,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", default="mobilenet_v3_small,resnet50")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--guide-epochs", type=int, default=2, help="guide epochs actually run (0: all)")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "frozen_cache.json"))
    args = parser.parse_args()

    images, labels = load_digits()
    data = from_arrays(images, labels, image_size=SIZE, batch_size=32, seed=0)
    print(f"{data.num_train} training and {data.num_validation} validation images at {SIZE}x{SIZE}", flush=True)
    rows, runs = [], []
    for name in args.backbones.split(","):
        for repeat in range(args.repeats):  # interleaved, so load changes hit both recipes
            guide = run_guide(name, data, args.epochs, args.guide_epochs)
            cached = run_tfl(name, data, args.epochs, Stage("none", epochs=args.epochs, learning_rate=1e-3))
            probe = run_tfl(name, data, args.epochs, Stage(linear_probe=True))
            runs.append({"backbone": name, "repeat": repeat, "guide": guide, "tfl_cache": cached, "tfl_probe": probe})
            print(
                f"{name} #{repeat}: guide {guide['seconds']:.1f} s (first epoch {guide['first_epoch']:.1f} s, "
                f"then {guide['steady_epoch']:.1f} s), tfl cache {cached['seconds']:.1f} s "
                f"(features {cached['features']:.1f} s), probe {probe['seconds']:.1f} s; "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        mine = [r for r in runs if r["backbone"] == name]
        guide_s = statistics.median(r["guide"]["seconds"] for r in mine)
        steady = statistics.median(r["guide"]["steady_epoch"] for r in mine)
        first = statistics.median(r["guide"]["first_epoch"] for r in mine)
        for label, key in (
            ("tfl: cached features, E head epochs", "tfl_cache"),
            ("tfl: linear probe on cached features", "tfl_probe"),
        ):
            seconds = statistics.median(r[key]["seconds"] for r in mine)
            features = statistics.median(r[key]["features"] for r in mine)
            rows.append(
                {
                    "backbone": name,
                    "recipe": label,
                    "seconds": seconds,
                    "of_which_features": features,
                    "speedup": guide_s / seconds,
                    "val_accuracy": statistics.median(r[key]["val_accuracy"] for r in mine),
                }
            )
        guide_acc = [r["guide"]["val_accuracy"] for r in mine if r["guide"]["val_accuracy"] is not None]
        rows.insert(
            len(rows) - 2,
            {
                "backbone": name,
                "recipe": f"Keras guide: frozen base in the model, {args.epochs} epochs",
                "seconds": guide_s,
                "of_which_features": None,
                "speedup": 1.0,
                "val_accuracy": statistics.median(guide_acc) if guide_acc else None,
            },
        )
        # The limit: one backbone pass plus E head passes, against E backbone passes.
        limit = (args.epochs * steady) / (statistics.median(r["tfl_cache"]["features"] for r in mine) + 1e-9)
        print(
            f"{name}: guide first epoch {first:.1f} s, steady epoch {steady:.1f} s; "
            f"E steady epochs / one feature pass = {limit:.1f}x",
            flush=True,
        )
    print(format_table(rows, ["backbone", "recipe", "seconds", "of_which_features", "speedup", "val_accuracy"]))
    write_json(
        args.json,
        {
            "settings": vars(args),
            "num_train": data.num_train,
            "num_validation": data.num_validation,
            "image_size": SIZE,
            "cpu_count": os.cpu_count(),
            "rows": rows,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
