"""`run_demo`: a real transfer experiment on images shipped inside scikit-learn.

Source task: handwritten digits 0-4 (UCI digits, 8x8 pixels, upscaled). A
backbone is trained on it from random weights; its BatchNorm statistics are
recomputed at the end (without that, inference-mode accuracy stays at chance).

Target task: digits 5-9 with only a few labels per class. The same
architecture is trained twice on the same labels and for the same number of
steps: once from the source backbone (transfer: the head on frozen features,
then the top stages fine-tuned), once from random weights (scratch). Both are
evaluated on the same held-out target images.

Nothing is downloaded; on 2 CPU cores the whole demo takes a few minutes.
"""

import dataclasses
import math
import os
import time

import numpy as np

from tfl.backbones import save_backbone
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.data import load_digits
from tfl.data import stratified_split
from tfl.evaluate import evaluate_model
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.experiment import prepare_output_dir
from tfl.experiment import save_model
from tfl.model import build_model
from tfl.train import fit_stages

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """The demo's knobs. The defaults are what `tfl demo` runs.

    Args:
        backbone: the architecture of source, transfer and scratch models.
        image_size: the digits (8x8) are upscaled to this size.
        labels_per_class: target labels per class, one comparison for each.
        source_epochs: epochs of source training.
        head_steps: optimizer steps of the transfer's head stage.
        finetune_steps: optimizer steps of the transfer's fine-tuning stage;
            scratch training gets head_steps + finetune_steps.
        batch_size: examples per batch.
        seed: seed of splits, label sampling and initialisation.
    """

    backbone: str = "mobilenet_v3_small"
    image_size: int = 32
    labels_per_class: tuple = (5, 20)
    source_epochs: int = 15
    head_steps: int = 150
    finetune_steps: int = 150
    batch_size: int = 32
    seed: int = 0


def _epochs_for(steps, num_examples, batch_size):
    return max(1, math.ceil(steps / math.ceil(num_examples / batch_size)))


def _subset(images, labels, classes):
    keep = np.isin(labels, classes)
    mapping = {c: i for i, c in enumerate(classes)}
    return images[keep], np.array([mapping[c] for c in labels[keep]], dtype=np.int32)


def _few_labels(labels, per_class, seed):
    rng = np.random.RandomState(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)]
    return np.sort(np.concatenate(picked))


def _train_and_evaluate(model, data, stages, verbose):
    start = time.perf_counter()
    history = fit_stages(model, data, stages, verbose=verbose)
    seconds = time.perf_counter() - start
    report = evaluate_model(model, data.validation, data.class_names)
    report.update({"seconds": seconds, "stages": history.to_dict()["stages"]})
    return report


def run_demo(output_dir, settings=DemoSettings(), *, overwrite=False, verbose=0, log=print):
    """Runs the transfer-vs-scratch demo and writes everything under `output_dir`.

    Writes `source/` (model.keras, backbone.weights.h5, report.json), one
    `target-K/` folder per labels-per-class value with `transfer.json` and
    `scratch.json`, and `summary.json` with the table that is printed.

    Returns:
        The summary dict (source accuracy, and a row per method and K).
    """
    prepare_output_dir(output_dir, overwrite)
    started = time.perf_counter()
    s = settings
    size = (s.image_size, s.image_size)
    digits, labels = load_digits()

    # Source: digits 0-4, trained from random weights (BatchNorm recalibrated).
    source_x, source_y = _subset(digits, labels, SOURCE_CLASSES)
    source_data = from_arrays(
        source_x, source_y, image_size=size, class_names=[str(c) for c in SOURCE_CLASSES],
        batch_size=s.batch_size, seed=s.seed,
    )
    log(f"Source task: digits 0-4, {source_data.num_train} training images, "
        f"{s.backbone} from random weights, {s.source_epochs} epochs ...")
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

    # Target: digits 5-9; half held out as the test set, labels drawn from the rest.
    target_x, target_y = _subset(digits, labels, TARGET_CLASSES)
    pool_index, test_index = stratified_split(target_y, 0.5, s.seed)
    pool_x, pool_y = target_x[pool_index], target_y[pool_index]
    test = (target_x[test_index], target_y[test_index])
    target_names = [str(c) for c in TARGET_CLASSES]
    rows = []
    for per_class in s.labels_per_class:
        chosen = _few_labels(pool_y, per_class, s.seed)
        data = from_arrays(
            pool_x[chosen], pool_y[chosen], image_size=size, class_names=target_names,
            validation_data=test, batch_size=s.batch_size, seed=s.seed,
        )
        head_epochs = _epochs_for(s.head_steps, data.num_train, s.batch_size)
        tune_epochs = _epochs_for(s.finetune_steps, data.num_train, s.batch_size)
        plans = {
            "transfer": (
                backbone_file,
                [
                    Stage(unfreeze="none", epochs=head_epochs, learning_rate=1e-3),
                    Stage(unfreeze="top 2", epochs=tune_epochs, learning_rate=1e-4),
                ],
            ),
            "scratch": (
                None,
                [Stage(unfreeze="all", epochs=head_epochs + tune_epochs, learning_rate=1e-3, train_batchnorm=True)],
            ),
        }
        folder = os.path.join(output_dir, f"target-{per_class}")
        os.makedirs(folder, exist_ok=True)
        for method, (weights, stages) in plans.items():
            log(f"Target task: digits 5-9, {per_class} labels per class ({data.num_train} images), {method} ...")
            model = build_model(
                ModelConfig(backbone=s.backbone, weights=weights, image_size=size), target_names, seed=s.seed
            )
            report = _train_and_evaluate(model, data, stages, verbose)
            write_json(os.path.join(folder, f"{method}.json"), report)
            rows.append(
                {
                    "labels_per_class": per_class,
                    "method": method,
                    "accuracy": report["accuracy"],
                    "macro_f1": report["macro_f1"],
                    "seconds": report["seconds"],
                }
            )
            log(f"  {method}: accuracy {report['accuracy']:.4f} ({report['seconds']:.0f} s)")

    summary = {
        "settings": dataclasses.asdict(settings),
        "source": {"accuracy": source_report["accuracy"], "seconds": source_report["seconds"],
                   "num_train": source_data.num_train, "num_test": source_report["num_examples"]},
        "target_test_images": int(len(test_index)),
        "rows": rows,
        "seconds": time.perf_counter() - started,
    }
    write_json(os.path.join(output_dir, "summary.json"), summary)
    log("")
    log(f"Transfer vs scratch on digits 5-9 ({summary['target_test_images']} held-out test images), "
        f"{s.backbone} at {s.image_size}x{s.image_size}:")
    log(format_table(rows, ["labels_per_class", "method", "accuracy", "macro_f1", "seconds"]))
    log(f"Source (digits 0-4) accuracy {source_report['accuracy']:.4f}. Total {summary['seconds']:.0f} s. "
        f"Everything is in {output_dir}")
    return summary
