"""`run_experiment`: a `Config` in, a run folder out (model, report, config).

What `tfl train` does, callable from Python and notebooks:

    data -> model -> staged training -> evaluation on the held-out split -> files

The run folder holds `model.keras`, `report.json`, `config.yaml`,
`interpretation.json` (the held-out examples with the highest loss, the most
confused class pairs, per-class F1) and the figures `training.png` (loss and
accuracy by epoch, stages marked), `confusion_matrix.png` (single-label runs)
and `top_losses.png`, each written to a temporary name and renamed into place,
so an interrupted run never leaves a truncated file.
"""

import dataclasses
import os
import time

import keras
import tensorflow as tf

from tfl.backbones import get_backbone_spec
from tfl.backbones import resolve_image_size
from tfl.backbones.encoders import build_text_preprocessor
from tfl.data import detect_task
from tfl.data import load_data
from tfl.data import load_text_data
from tfl.data.target import load_target_images
from tfl.evaluate import classification_metrics
from tfl.evaluate import evaluate_model
from tfl.evaluate import gather_examples
from tfl.evaluate import interpret
from tfl.evaluate import predict_dataset
from tfl.evaluate import write_interpretation
from tfl.evaluate import write_json
from tfl.evaluate.adaptation_plot import plot_adaptation
from tfl.evaluate.interpretation import TOP_LOSSES_PLOT
from tfl.evaluate.plots import FUSION_WEIGHT_PREFIX
from tfl.evaluate.plots import plot_confusion_matrix
from tfl.evaluate.plots import plot_fusion_weights
from tfl.evaluate.plots import plot_training
from tfl.evaluate.plots import save_figure
from tfl.evaluate.report import write_atomically
from tfl.model import build_model
from tfl.model.fusion_classifier import FusionClassifier
from tfl.train import TrainingCheckpoint
from tfl.train import default_stages
from tfl.train import fine_tune_plan
from tfl.train import fit_stages
from tfl.train import resolve_unfreeze
from tfl.train.adaptation import fit_adaptation
from tfl.train.distribute import replica_batch_size
from tfl.train.distribute import resolve_strategy
from tfl.train.fusion_weights import FusionWeightLogger

MODEL_FILE = "model.keras"
REPORT_FILE = "report.json"
CONFIG_FILE = "config.yaml"
TRAINING_PLOT = "training.png"
CONFUSION_MATRIX_PLOT = "confusion_matrix.png"
ADAPTATION_PLOT = "adaptation.png"
FUSION_WEIGHTS_PLOT = "fusion_weights.png"
CHECKPOINT_DIR = "checkpoint"


@dataclasses.dataclass
class ExperimentResult:
    """What `run_experiment` made: the trained model and its report."""

    model: keras.Model
    data: object
    history: object
    report: dict
    output_dir: str | None


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


def save_model(model, path):
    """Saves `model` as `.keras` atomically: a temporary file, then a rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.partial.keras")
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    return write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def seed_everything(config):
    """Seeds Python, NumPy, TensorFlow and Keras with `config.data.seed`, and
    with `config.train.deterministic` makes TensorFlow's ops deterministic."""
    keras.utils.set_random_seed(config.data.seed)
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()


def resolved_task(config):
    """The config's task, or the one its data source implies."""
    return config.task or detect_task(config.data.source, tfds_data_dir=config.data.tfds_data_dir)


def resolved_stages(config, task="image"):
    """The stages a config runs: its own, or the default plan for its task,
    weights and augmentation."""
    return config.train.stages or default_stages(
        config.model.weights,
        config.train.epochs,
        task=task,
        augmentation=task == "image" and config.model.augmentation.enabled,
    )


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


def run_experiment(config, output_dir=None, *, overwrite=False, verbose="auto", strategy=None, resume="auto"):
    """Trains and evaluates the image or text classifier `config` describes.

    Args:
        config: a `tfl.config.Config`.
        output_dir: the run folder to write; None writes nothing.
        overwrite: allow a non-empty `output_dir` (tfl's files are replaced).
        verbose: Keras verbosity; 0 is silent.
        resume: with `output_dir`, the model and optimizer are saved to
            `output_dir/checkpoint` after every epoch and stage. "auto"
            continues an unfinished run of the same config found there (after
            a crash or a kill) from its last finished epoch, True requires
            one, False discards it and starts over. The checkpoint is removed
            once the results are written.
        strategy: a `tf.distribute.Strategy` (or its name) to train under;
            None uses `config.train.strategy`. The model is built and trained
            in its scope; `data.batch_size` is the global batch.

    Returns:
        An `ExperimentResult`. Its `report` holds the held-out metrics
        (accuracy, macro_f1, auc_roc, confusion_matrix, per_class, ...), the
        per-stage history and seconds, and the resolved config.

    Examples:

    >>> config = Config.from_dict({"data": {"source": "digits"},
    ...     "model": {"backbone": "mobilenet_v3_small", "weights": None, "image_size": 32}})
    >>> result = run_experiment(config, "runs/digits")
    >>> result.report["accuracy"]
    """
    start = time.perf_counter()
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs anything.
    strategy = resolve_strategy(strategy or config.train.strategy)
    replica_batch_size(config.data.batch_size, strategy)
    checkpoint = None
    if output_dir is not None:
        checkpoint = prepare_output_dir(output_dir, overwrite, config=config, resume=resume)
    task = resolved_task(config)
    planned = config.train.stages is None and config.train.plan == "fine_tune"
    stages = resolved_stages(config, task)
    if task == "text":
        config = config.replace(**{"task": task, "train.stages": stages})
        seed_everything(config)
        preprocessor = build_text_preprocessor(config.model.encoder, config.model.sequence_length)
        data = load_text_data(config.data, preprocessor)
        model_description = {
            "encoder": config.model.encoder,
            "sequence_length": config.model.sequence_length,
            "truncated": data.truncated,
            "skipped_rows": len(data.skipped_rows),
        }
    else:
        spec = get_backbone_spec(config.model.backbone)
        image_size = resolve_image_size(spec, config.model.image_size)
        if config.model.fusion.mode is None:
            for stage in stages:  # a stage name the backbone lacks fails now, not after loading data
                resolve_unfreeze(stage.unfreeze, spec.stage_names)
        config = config.replace(
            **{
                "task": task,
                "model.backbone": spec.name,
                "model.image_size": list(image_size),
                "train.stages": stages,
            }
        )
        seed_everything(config)
        data = load_data(config.data, image_size, config.model.resize)
        model_description = {
            "backbone": spec.name,
            "image_size": list(image_size),
            "resize": config.model.resize,
            "skipped_files": list(getattr(data, "skipped_files", ())),
        }
    adaptation = config.train.adaptation
    target = None
    if adaptation.method is not None:  # a bad target folder fails before training
        target = load_target_images(
            config.data.target_source,
            image_size=image_size,
            class_names=data.class_names,
            resize=config.model.resize,
            labels_per_class=adaptation.labels_per_class,
            batch_size=config.data.batch_size,
            validation_split=config.data.validation_split,
            seed=config.data.seed,
            cache=config.data.cache,
            skip_bad_files=config.data.skip_bad_files,
        )
    if data.multi_label != config.model.multi_label:
        config = config.replace(**{"model.multi_label": data.multi_label})
    with strategy.scope():
        model = build_model(
            config.model,
            data.class_names,
            task=task,
            seed=config.data.seed,
            text_pairs=getattr(data, "text_pairs", False),
        )
    check = None
    if planned:  # fine_tune's plan depends on the model (its stages, augmentation) and, for images, the data
        pretrained = None if task == "text" or config.model.weights is not None else False
        stages, check = fine_tune_plan(model, data, epochs=config.train.epochs, pretrained=pretrained)
        if check is not None and verbose:
            print(f"fine_tune: {check}; plan: {', '.join(stage.unfreeze for stage in stages)}")
        config = config.replace(**{"train.stages": stages})
    for stage in stages:  # text and fusion: the stage names are known once the model is built
        resolve_unfreeze(stage.unfreeze, model.stage_layers())
    if target is not None:
        resolve_unfreeze(adaptation.unfreeze, model.stage_layers())
    callbacks = []
    if isinstance(model, FusionClassifier) and model.fusion.mode == "weighted":
        callbacks.append(FusionWeightLogger(model.fusion, model.branch_names))
    with strategy.scope():
        history = fit_stages(
            model,
            data,
            stages,
            callbacks=callbacks,
            verbose=verbose,
            feature_cache=config.train.feature_cache,
            cache_dir=config.train.feature_cache_dir,
            augmented_views=config.train.augmented_views,
            jit_compile=config.train.jit_compile,
            seed=config.data.seed,
            checkpoint=checkpoint,
        )
    adapted = None
    if target is not None:
        adapted = fit_adaptation(
            model,
            data,
            target,
            method=adaptation.method,
            alpha=adaptation.alpha,
            beta=adaptation.beta,
            align_weight=adaptation.align_weight,
            epochs=adaptation.epochs,
            learning_rate=adaptation.learning_rate,
            unfreeze=adaptation.unfreeze,
            restore_best=adaptation.restore_best,
            verbose=verbose,
        )
    y_true, y_prob = predict_dataset(model, data.validation)
    evaluation = classification_metrics(y_true, y_prob, data.class_names, multi_label=data.multi_label)

    report = dict(evaluation)
    report.update(
        {
            "evaluated_on": "validation",
            "task": task,
            **model_description,
            "num_train": data.num_train,
            "num_validation": data.num_validation,
            "stages": history.to_dict()["stages"],
            "boundaries": history.boundaries,
            "training_seconds": history.seconds,
            "transfer_check": None if check is None else check.to_dict(),
            "replicas": strategy.num_replicas_in_sync,
            "seconds": time.perf_counter() - start,
            "config": config.to_dict(),
        }
    )
    if adapted is not None:
        report["adaptation"] = adapted.to_dict()
        if target.test is not None:
            report["target"] = evaluate_model(model, target.test, data.class_names)
    if isinstance(model, FusionClassifier):
        report["fusion"] = model.fusion.weights_summary()
    if output_dir is not None:
        save_model(model, os.path.join(output_dir, MODEL_FILE))
        write_text(os.path.join(output_dir, CONFIG_FILE), config.to_yaml())
        report["plots"] = write_plots(report, output_dir)
        interpretation = interpret(y_true, y_prob, data.class_names, multi_label=data.multi_label)
        indices = [record["index"] for record in interpretation["top_losses"]]
        shown = gather_examples(
            data.validation,
            indices,
            texts=getattr(data, "validation_texts", None),
            text_pairs=getattr(data, "validation_text_pairs", None),
        )
        write_interpretation(output_dir, interpretation, images=shown.get("images"), texts=shown.get("texts"))
        report["plots"].append(TOP_LOSSES_PLOT)
        report["seconds"] = time.perf_counter() - start
        write_json(os.path.join(output_dir, REPORT_FILE), report)
        checkpoint.remove()  # the results are complete: nothing left to resume
    return ExperimentResult(model=model, data=data, history=history, report=report, output_dir=output_dir)


__all__ = [
    "ExperimentResult",
    "prepare_output_dir",
    "resolved_stages",
    "resolved_task",
    "run_experiment",
    "save_model",
    "seed_everything",
    "write_plots",
]
