"""`run_demo`: a real transfer experiment on images shipped inside scikit-learn.

Source task: handwritten digits 0-4 (UCI digits, 8x8 pixels, upscaled). A
backbone is trained on it from random weights; its BatchNorm statistics are
recomputed at the end (without that, inference-mode accuracy stays at chance).

Target task: digits 5-9 with only a few labels per class, evaluated on the
same held-out target images for every method:

- transfer: the source network fine-tuned, everything trained;
- scratch: the same architecture from random weights, trained the same way
  (the same stage, learning rate and number of steps: only the starting
  weights differ, so the gap is what the source weights are worth);
- head only: a head on the frozen source features (feature extraction).

Why the head-only row is low: a backbone trained on 5 classes from 721 images
keeps little more than what separates those 5 classes. Measured by
`bench/transfer_recipes.py`, a logistic regression on its pooled features
scores 0.61 on digits 5-9 with 5 labels per class, where the same probe on a
random network's standardised features scores 0.80. Its weights are a much
better starting point than its features are a representation (docs/demo.md).

Nothing is downloaded; on 2 CPU cores the default run takes 2 to 3 minutes.
"""

import dataclasses
import math
import os
import time

import keras
import numpy as np

from tfl.backbones import save_backbone
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.data import load_digits
from tfl.data import stratified_split
from tfl.demo.seeds import Seeds
from tfl.evaluate import evaluate_model
from tfl.evaluate import format_table
from tfl.evaluate import plot_transfer_vs_scratch
from tfl.evaluate import save_figure
from tfl.evaluate import write_json
from tfl.io import save_keras as save_model
from tfl.model import build_model
from tfl.run_folder import prepare_output_dir
from tfl.train import fit_stages

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)


METHODS = ("transfer", "scratch", "head only")
PLOT_FILE = "transfer_vs_scratch.png"


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """The demo's knobs. The defaults are what `tfl demo` runs.

    Args:
        backbone: the architecture of every model.
        image_size: the digits (8x8) are upscaled to this size.
        labels_per_class: target labels per class, one comparison for each.
        draws: random draws of the labelled images per comparison; the
            table shows the mean (and the range when draws > 1).
        source_epochs: epochs of source training.
        steps: optimizer steps of each target training run.
        learning_rate: learning rate of every target training run.
        batch_size: examples per batch.
        seed: seed of splits, label draws and initialisation.
    """

    backbone: str = "mobilenet_v3_small"
    image_size: int = 32
    labels_per_class: tuple = (2, 5)
    draws: int = 1
    source_epochs: int = 15
    steps: int = 300
    learning_rate: float = 1e-3
    batch_size: int = 32
    seed: int = 0


MIN_STEPS_PER_EPOCH = 10


def _with_epochs_of_at_least(data, steps, batch_size):
    """Repeats a tiny training set so an epoch has at least `steps` steps.

    With 10 images an epoch is one step; 300 one-step epochs spend most of
    their time on the validation pass after each epoch.
    """
    per_epoch = math.ceil(data.num_train / batch_size)
    repeats = math.ceil(steps / per_epoch)
    if repeats == 1:
        return data, per_epoch
    return dataclasses.replace(data, train=data.train.repeat(repeats)), per_epoch * repeats


def _epochs_for(steps, steps_per_epoch):
    return max(1, math.ceil(steps / steps_per_epoch))


def _subset(images, labels, classes):
    keep = np.isin(labels, classes)
    mapping = {c: i for i, c in enumerate(classes)}
    return images[keep], np.array([mapping[c] for c in labels[keep]], dtype=np.int32)


def _few_labels(labels, per_class, seed):
    rng = np.random.RandomState(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)]
    return np.sort(np.concatenate(picked))


def _summarise(runs, labels_per_class):
    rows = []
    for per_class in labels_per_class:
        for method in METHODS:
            mine = [r for r in runs if r["labels_per_class"] == per_class and r["method"] == method]
            accuracy = [r["accuracy"] for r in mine]
            rows.append({
                "labels_per_class": per_class,
                "method": method,
                "accuracy": float(np.mean(accuracy)),
                "accuracy_min": float(np.min(accuracy)),
                "accuracy_max": float(np.max(accuracy)),
                "macro_f1": float(np.mean([r["macro_f1"] for r in mine])),
                "seconds": float(np.mean([r["seconds"] for r in mine])),
                "draws": len(mine),
            })
    return rows


def _train_and_evaluate(model, data, stages, verbose):
    """Trains without a validation pass after each epoch (30 of them over the
    449 test images cost more than the training steps), then scores once."""
    start = time.perf_counter()
    history = fit_stages(model, dataclasses.replace(data, validation=None), stages, verbose=verbose)
    seconds = time.perf_counter() - start
    report = evaluate_model(model, data.validation, data.class_names)
    report.update({"seconds": seconds, "stages": history.to_dict()["stages"]})
    return report


def run_demo(output_dir, settings=DemoSettings(), *, overwrite=False, verbose=0, log=print):
    """Runs the transfer-vs-scratch demo and writes everything under `output_dir`.

    Writes `source/` (model.keras, backbone.weights.h5, report.json), one
    `target-K/` folder per labels-per-class value with a report per method and
    draw, `summary.json` with the table that is printed, and
    `transfer_vs_scratch.png`, its accuracies as curves.

    Returns:
        The summary dict: source accuracy, a row per K and method (mean over
        draws), and every run.
    """
    prepare_output_dir(output_dir, overwrite)
    started = time.perf_counter()
    s = settings
    digits, labels = load_digits()
    source_data, source_report, backbone_file = _source(digits, labels, output_dir, s, verbose, log)

    # Target: digits 5-9; half held out as the test set, labels drawn from the rest.
    target_x, target_y = _subset(digits, labels, TARGET_CLASSES)
    pool_index, test_index = stratified_split(target_y, 0.5, s.seed)
    pool = (target_x[pool_index], target_y[pool_index])
    test = (target_x[test_index], target_y[test_index])
    runs, runner = [], _Runner()
    for per_class in s.labels_per_class:
        folder = os.path.join(output_dir, f"target-{per_class}")
        os.makedirs(folder, exist_ok=True)
        for draw in range(s.draws):
            runs.extend(_target_draw(pool, test, per_class, draw, backbone_file, folder, s, runner, verbose, log))
    summary = {
        "settings": dataclasses.asdict(settings),
        "source": {"accuracy": source_report["accuracy"], "seconds": source_report["seconds"],
                   "num_train": source_data.num_train, "num_test": source_report["num_examples"]},
        "target_test_images": len(test_index),
        "rows": _summarise(runs, s.labels_per_class),
        "runs": runs,
        "seconds": time.perf_counter() - started,
        "plots": [PLOT_FILE],
    }
    _write_summary(output_dir, summary, s, log)
    return summary


def _source(digits, labels, output_dir, s, verbose, log):
    """Source: digits 0-4, trained from random weights (BatchNorm recalibrated),
    saved to `output_dir/source`. Returns `(data, report, backbone weights file)`."""
    size = (s.image_size, s.image_size)
    source_x, source_y = _subset(digits, labels, SOURCE_CLASSES)
    source_data = from_arrays(
        source_x, source_y, image_size=size, class_names=[str(c) for c in SOURCE_CLASSES],
        batch_size=s.batch_size, seed=s.seed,
    )
    log(f"Source task: digits 0-4, {source_data.num_train} training images, "
        f"{s.backbone} from random weights, {s.source_epochs} epochs ...")
    keras.utils.set_random_seed(s.seed)
    source_model = build_model(
        ModelConfig(backbone=s.backbone, weights=None, image_size=size), source_data.class_names, seed=s.seed
    )
    source_stage = Stage(unfreeze="all", epochs=s.source_epochs, learning_rate=1e-3, train_batchnorm=True)
    source_report = _train_and_evaluate(source_model, source_data, [source_stage], verbose)
    source_dir = os.path.join(output_dir, "source")
    os.makedirs(source_dir, exist_ok=True)
    save_model(source_model, os.path.join(source_dir, "model.keras"))
    backbone_file = save_backbone(source_model, os.path.join(source_dir, "backbone.weights.h5"))
    write_json(os.path.join(source_dir, "report.json"), source_report)
    log(f"  source accuracy {source_report['accuracy']:.4f} on {source_report['num_examples']} held-out "
        f"images ({source_report['seconds']:.0f} s)")
    return source_data, source_report, backbone_file


class _Runner:
    """One model object for all target runs, each started from the values of
    its own freshly built model (weights, BatchNorm statistics and seeds: the
    run is the one that model would make). Runs with the same stage then share
    the runner's traced training step (`tfl.train.compiled_step`): the four
    transfer and scratch runs trace it once, not four times (8-9 s each on
    2 cores). Its `seeds` seed each run without clearing that trace
    (`tfl.demo.seeds`)."""

    def __init__(self):
        self.model = None
        self.seeds = Seeds()

    def start_from(self, fresh):
        if self.model is None:
            self.model = fresh
            return fresh
        for variable, value in zip(self.model.variables, fresh.variables, strict=True):
            variable.assign(value)
        return self.model


def _target_draw(pool, test, per_class, draw, backbone_file, folder, s, runner, verbose, log):
    """One draw of `per_class` labelled target images, trained by every method; returns its runs."""
    size = (s.image_size, s.image_size)
    target_names = [str(c) for c in TARGET_CLASSES]
    chosen = _few_labels(pool[1], per_class, s.seed + draw)
    data = from_arrays(
        pool[0][chosen], pool[1][chosen], image_size=size, class_names=target_names,
        validation_data=test, batch_size=s.batch_size, seed=s.seed + draw,
    )
    data, steps_per_epoch = _with_epochs_of_at_least(data, MIN_STEPS_PER_EPOCH, s.batch_size)
    epochs = _epochs_for(s.steps, steps_per_epoch)
    plans = {
        "transfer": (backbone_file, Stage("all", epochs, s.learning_rate, train_batchnorm=True)),
        "scratch": (None, Stage("all", epochs, s.learning_rate, train_batchnorm=True)),
        "head only": (backbone_file, Stage("none", epochs, s.learning_rate)),
    }
    runs = []
    for method, (weights, stage) in plans.items():
        log(f"Target task: digits 5-9, {per_class} labels per class, draw {draw + 1}/{s.draws}, {method} ...")
        runner.seeds.set(s.seed + draw)
        fresh = build_model(ModelConfig(backbone=s.backbone, weights=weights, image_size=size), target_names, seed=s.seed)
        model = runner.start_from(fresh)
        report = _train_and_evaluate(model, data, [stage], verbose)
        write_json(os.path.join(folder, f"{method.replace(' ', '_')}-draw{draw}.json"), report)
        runs.append({"labels_per_class": per_class, "draw": draw, "method": method,
                     "accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "seconds": report["seconds"]})
        log(f"  {method}: accuracy {report['accuracy']:.4f} ({report['seconds']:.0f} s)")
    return runs


def comparison_figure(rows, s):
    """`transfer_vs_scratch.png`: the image demo's accuracies, titled with its data and network."""
    return plot_transfer_vs_scratch(
        rows, title=f"Images: transfer vs scratch on digits 5-9 ({s.backbone}, {s.image_size}x{s.image_size})"
    )


def _write_summary(output_dir, summary, s, log):
    write_json(os.path.join(output_dir, "summary.json"), summary)
    save_figure(comparison_figure(summary["rows"], s), os.path.join(output_dir, PLOT_FILE))
    log("")
    log(f"Transfer vs scratch on digits 5-9 ({summary['target_test_images']} held-out test images), "
        f"{s.backbone} at {s.image_size}x{s.image_size}:")
    columns = ["labels_per_class", "method", "accuracy", "macro_f1", "seconds"]
    if s.draws > 1:
        columns[3:3] = ["accuracy_min", "accuracy_max"]
    log(format_table(summary["rows"], columns))
    if s.draws == 1:
        log("(One draw of the labelled images: with 10-25 images, accuracies move by several points "
            "from draw to draw. `tfl demo --draws 3` averages three.)")
    log(f"Source (digits 0-4) accuracy {summary['source']['accuracy']:.4f}. Total {summary['seconds']:.0f} s. "
        f"Everything is in {output_dir}")
