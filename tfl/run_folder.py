"""The run folder of `tfl train`: created once, written once at the end.

It holds `model.keras`, `report.json`, `config.yaml`, `interpretation.json`
(the held-out examples with the highest loss, the most confused class pairs,
per-class F1) and the figures `training.png` (loss and accuracy by epoch,
stages marked), `confusion_matrix.png` (single-label runs), `top_losses.png`
(with Grad-CAM heatmaps over the images of image runs),
and where they apply `fusion_weights.png` and `adaptation.png`, each written
to a temporary name and renamed into place, so an interrupted run never
leaves a truncated file. While it trains, `checkpoint/` holds what a killed
run continues from.
"""

import contextlib
import dataclasses
import os

from tfl.evaluate import plot_adaptation
from tfl.evaluate import plot_confusion_matrix
from tfl.evaluate import plot_fusion_weights
from tfl.evaluate import plot_training
from tfl.evaluate import save_figure
from tfl.evaluate import write_held_out
from tfl.evaluate.interpretation import TOP_LOSSES_PLOT
from tfl.evaluate.plots import FUSION_WEIGHT_PREFIX
from tfl.explanation import heatmap_function
from tfl.io import save_keras
from tfl.io import write_json
from tfl.io import write_text
from tfl.train import TrainingCheckpoint

MODEL_FILE = "model.keras"
REPORT_FILE = "report.json"
CONFIG_FILE = "config.yaml"
TRAINING_PLOT = "training.png"
CONFUSION_MATRIX_PLOT = "confusion_matrix.png"
ADAPTATION_PLOT = "adaptation.png"
FUSION_WEIGHTS_PLOT = "fusion_weights.png"
CHECKPOINT_DIR = "checkpoint"
# The plots a run writes only where they apply (`write_plots`).
OPTIONAL_PLOTS = (CONFUSION_MATRIX_PLOT, FUSION_WEIGHTS_PLOT, ADAPTATION_PLOT)


def run_checkpoint(output_dir, config):
    """The `TrainingCheckpoint` of a run folder: `<output_dir>/checkpoint`,
    keyed by the config as given (before defaults are resolved)."""
    return TrainingCheckpoint(os.path.join(os.fspath(output_dir), CHECKPOINT_DIR), config.to_dict())


def prepare_output_dir(path, overwrite=False, *, config=None, resume="auto"):
    """Creates `path`, refusing a folder that holds files unless `overwrite`
    or it holds an unfinished run of `config` to continue.

    With `overwrite`, tfl replaces its own files there and leaves others alone.

    Args:
        path: the run folder.
        overwrite: allow a non-empty folder.
        config: the run's `Config`; with it, an unfinished run of the same
            config in `path/checkpoint` is continued (see `resume`).
        resume: "auto" continues an unfinished run of the same config and
            refuses one of another config; True requires one to continue;
            False discards it and starts over.

    Returns:
        The run's `TrainingCheckpoint` when `config` is given (it `exists()`
        when the run continues), else the path.
    """
    path = os.fspath(path)
    if resume not in ("auto", True, False):
        raise ValueError(f"resume must be 'auto', True or False. Received: resume={resume!r}")
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(f"--output {path} is a file, not a folder. Choose another path.")
    checkpoint = None if config is None else run_checkpoint(path, config)
    if checkpoint is not None and checkpoint.exists():
        if resume is False:
            checkpoint.remove()
        else:
            checkpoint.load()  # refuses a run of another config, naming the keys
        return checkpoint
    if resume is True:
        raise FileNotFoundError(
            f"--resume: {path} holds no unfinished run to continue (no {CHECKPOINT_DIR}/state.json). "
            "Run without --resume to start one."
        )
    if os.path.isdir(path) and os.listdir(path) and not overwrite:
        raise FileExistsError(
            f"--output {path} is not empty. Choose a new folder, or pass --overwrite "
            "(overwrite=True) to replace tfl's files in it."
        )
    os.makedirs(path, exist_ok=True)
    return path if checkpoint is None else checkpoint


@contextlib.contextmanager
def removed_if_left_empty(path):
    """Removes, when the block fails, the folder `path` and the parents it needed
    if the block created them and no file was written in them: a failed run
    leaves no empty run folder behind.

    Only folders that did not exist before the block are removed, and only
    when `path` holds no file at all (empty folders inside it go too), so
    nothing a user made, and nothing the run wrote (a checkpoint to resume
    from), is lost. With `path` None the block runs as it is.

    Examples:

    >>> with removed_if_left_empty("runs/exp1"):
    ...     prepare_output_dir("runs/exp1")
    ...     raise ValueError("bad data")
    Traceback (most recent call last):
    ...
    ValueError: bad data
    >>> os.path.exists("runs/exp1")
    False
    """
    new = [] if path is None else _missing_folders(os.path.abspath(os.fspath(path)))
    try:
        yield
    except BaseException:
        if new:
            _remove_empty_folders(new)
        raise


def _missing_folders(path):
    """`path` and its parents that do not exist yet, innermost first."""
    missing = []
    while not os.path.exists(path) and os.path.dirname(path) != path:
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def _remove_empty_folders(new):
    """Removes `new[0]` when it holds folders only (no file anywhere), then the
    parents in `new`, innermost first, up to the first that holds anything."""
    tree = list(os.walk(new[0], topdown=False))
    if any(files for _, _, files in tree):
        return
    for folder in [root for root, _, _ in tree] + new[1:]:
        try:
            os.rmdir(folder)  # refuses a folder that is not empty: nothing is lost
        except OSError:
            return


def write_plots(report, output_dir):
    """Writes `training.png`, for single-label runs `confusion_matrix.png`, for
    weighted fusion `fusion_weights.png`, and with domain adaptation
    `adaptation.png`.

    Returns:
        The file names written, relative to `output_dir`.
    """
    save_figure(plot_training(report["stages"], report["boundaries"]), os.path.join(output_dir, TRAINING_PLOT))
    written = [TRAINING_PLOT]
    if report.get("confusion_matrix") is not None:
        figure = plot_confusion_matrix(report["confusion_matrix"], report["class_names"])
        save_figure(figure, os.path.join(output_dir, CONFUSION_MATRIX_PLOT))
        written.append(CONFUSION_MATRIX_PLOT)
    if any(key.startswith(FUSION_WEIGHT_PREFIX) for stage in report["stages"] for key in stage["history"]):
        figure = plot_fusion_weights(report["stages"], report["boundaries"])
        save_figure(figure, os.path.join(output_dir, FUSION_WEIGHTS_PLOT))
        written.append(FUSION_WEIGHTS_PLOT)
    if report.get("adaptation") is not None:
        save_figure(plot_adaptation(report["adaptation"]), os.path.join(output_dir, ADAPTATION_PLOT))
        written.append(ADAPTATION_PLOT)
    return written


DATA_PATHS = "data_paths"  # report.json: the run's data as absolute paths


def data_paths(data_config):
    """`{field: absolute path}` of the data files and folders `data_config`
    names (`source`, `validation_source`, `unlabeled_source`) that exist:
    config.yaml keeps them as given, often relative to the folder training
    ran in, and `tfl evaluate` in another folder must still know the run's
    own data (its held-out split) when it is given it.

    Examples:

    >>> data_paths(DataConfig(source="flowers/"))
    {'source': '/home/me/flowers'}
    """
    paths = {}
    for field in ("source", "validation_source", "unlabeled_source"):
        value = getattr(data_config, field)
        if isinstance(value, str) and os.path.exists(value):
            paths[field] = os.path.abspath(value)
    return paths


def with_data_paths(data_config, report):
    """`data_config` (a run's) with each path the run recorded
    (`report[DATA_PATHS]`) in place of the one it was given, where that
    absolute path still exists."""
    recorded = {field: path for field, path in report.get(DATA_PATHS, {}).items() if os.path.exists(path)}
    return dataclasses.replace(data_config, **recorded) if recorded else data_config


def write_run(output_dir, model, config, report, evaluation, data):
    """Writes the finished run into `output_dir`: the model, the config, the
    plots, the interpretation and, last, the report (with the plots' names).
    A plot this run does not make (`OPTIONAL_PLOTS`), left by an earlier run
    in the folder, is removed: every plot there is this run's.

    Args:
        output_dir: the run folder.
        model: the trained classifier.
        config: the resolved `Config` (written as `config.yaml`).
        report: the report dict; `plots` is added to it.
        evaluation: the `tfl.evaluate.HeldOutEvaluation` on `data.validation`.
        data: the run's `ImageData` or `TextData`.
    """
    save_keras(model, os.path.join(output_dir, MODEL_FILE))
    write_text(os.path.join(output_dir, CONFIG_FILE), config.to_yaml())
    report[DATA_PATHS] = data_paths(config.data)
    report["plots"] = write_plots(report, output_dir)
    for name in OPTIONAL_PLOTS:  # left by an earlier run in the folder (--overwrite): not this run's
        if name not in report["plots"]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(output_dir, name))
    text = report["task"] == "text"
    write_held_out(
        output_dir,
        evaluation,
        data.validation,
        texts=data.validation_texts if text else None,
        text_pairs=data.validation_text_pairs if text else None,
        heatmaps=heatmap_function(model),
    )
    report["plots"].append(TOP_LOSSES_PLOT)
    write_json(os.path.join(output_dir, REPORT_FILE), report)
