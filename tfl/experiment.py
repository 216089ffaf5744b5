"""`run_experiment`: a `Config` in, a run folder out (model, report, config).

What `tfl train` does, callable from Python and notebooks. Every decision is
made first, by `tfl.run_plan.plan_run`; this module only executes the plan:

    data -> model -> stages -> adaptation -> evaluation on the held-out split -> run folder

The run folder's files are described in `tfl.run_folder`.
"""

import dataclasses
import time

import keras
import tensorflow as tf

from tfl.adapt import check_target_labels
from tfl.adapt import fit_adaptation
from tfl.backbones.encoders import build_text_preprocessor
from tfl.data import load_data
from tfl.data import load_text_data
from tfl.data.image.target import load_target_images
from tfl.data.unlabeled import load_unlabeled
from tfl.evaluate import evaluate_held_out
from tfl.evaluate import evaluate_model
from tfl.model import build_model
from tfl.model.fusion_classifier import FusionClassifier
from tfl.run_folder import prepare_output_dir
from tfl.run_folder import removed_if_left_empty
from tfl.run_folder import write_run
from tfl.run_plan import RunPlan
from tfl.run_plan import plan_run
from tfl.train import FitOptions
from tfl.train import fine_tune_stages
from tfl.train import fit_stages
from tfl.train import resolve_unfreeze
from tfl.train import with_early_stopping
from tfl.train.distribute import replica_batch_size
from tfl.train.distribute import resolve_strategy
from tfl.train.fine_tune import decide_pretrained
from tfl.train.fixmatch import fit_fixmatch
from tfl.train.fusion_weights import FusionWeightLogger
from tfl.train.self_training import fit_self_training


@dataclasses.dataclass
class ExperimentResult:
    """What `run_experiment` made: the trained model and its report."""

    model: keras.Model
    data: object
    history: object
    report: dict
    output_dir: str | None


def seed_everything(config):
    """Seeds Python, NumPy, TensorFlow and Keras with `config.data.seed`, and
    with `config.train.deterministic` makes TensorFlow's ops deterministic."""
    keras.utils.set_random_seed(config.data.seed)
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()


def run_experiment(
    config, output_dir=None, *, overwrite=False, verbose="auto", strategy=None, resume="auto", log=None
):
    """Trains and evaluates the image or text classifier `config` describes.

    Args:
        config: a `tfl.config.Config`, or the `RunPlan` that `plan_run` made of one.
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
        log: where the run's own messages go (a resumed run, the plan
            `fine_tune` chose): a callable taking a str; None prints them
            unless `verbose` is 0.

    Returns:
        An `ExperimentResult`. Its `report` holds the held-out metrics
        (accuracy, macro_f1, auc_roc, confusion_matrix, per_class, ...), the
        per-stage history and seconds, and the resolved config.

    Examples:

    >>> config = Config.from_dict({"data": {"source": "flowers/", "batch_size": 4},
    ...     "model": {"backbone": "mobilenet_v3_small", "weights": None, "image_size": 32},
    ...     "train": {"stages": ["none:1:1e-3"]}})
    >>> result = run_experiment(config, "runs/experiment", verbose=0)
    >>> result.report["class_names"], 0.0 <= result.report["accuracy"] <= 1.0
    (['daisy', 'roses', 'tulips'], True)
    """
    with removed_if_left_empty(output_dir):  # a run that fails before writing leaves no empty folder
        return _run_experiment(config, output_dir, overwrite, verbose, strategy, resume, log)


def _run_experiment(config, output_dir, overwrite, verbose, strategy, resume, log):
    start = time.perf_counter()
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs anything.
    plan = config if isinstance(config, RunPlan) else plan_run(config)
    log = log or (print if verbose else lambda message: None)
    strategy = resolve_strategy(strategy or plan.config.train.strategy)
    replica_batch_size(plan.config.data.batch_size, strategy)
    checkpoint = None
    if output_dir is not None:
        checkpoint = prepare_output_dir(output_dir, overwrite, config=plan.requested, resume=resume)
        if checkpoint.exists():
            log(f"Continuing the unfinished run in {output_dir} (--no-resume starts over).")
    seed_everything(plan.config)
    data, description = _load_data(plan)
    target = _load_target(plan, data)
    unlabeled = _load_unlabeled(plan, data, description["preprocessor"])
    config = plan.config.replace(**{"model.multi_label": data.multi_label})
    with strategy.scope():
        model = build_model(
            config.model, data.class_names, task=plan.task, seed=config.data.seed, text_pairs=description["text_pairs"]
        )
        train = config.train  # the loss options every stage keeps
        model.compile(label_smoothing=train.label_smoothing, class_weight=train.class_weight, weight_decay=train.weight_decay)
    stages, check = _decide_stages(plan, model, data, log)
    config = config.replace(**{"train.stages": stages})
    history, self_training = _fit(config, model, (data, unlabeled), stages, (strategy, checkpoint), verbose)
    adapted = _adapt(config, model, data, target, verbose)
    evaluation = evaluate_held_out(model, data.validation)
    report = {
        **evaluation.report,
        "evaluated_on": "validation",
        "task": plan.task,
        **description["model"],
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
    if self_training is not None:
        report["self_training"] = self_training.to_dict()
    if adapted is not None:
        report["adaptation"] = adapted.to_dict()
        if target.test is not None:
            report["target"] = evaluate_model(model, target.test, data.class_names)
    if isinstance(model, FusionClassifier):
        report["fusion"] = model.fusion.weights_summary()
    if output_dir is not None:
        report["seconds"] = time.perf_counter() - start
        write_run(output_dir, model, config, report, evaluation, data)
        checkpoint.remove()  # the results are complete: nothing left to resume
    return ExperimentResult(model=model, data=data, history=history, report=report, output_dir=output_dir)


def _load_data(plan):
    """The run's data, and what the report says of it and the model."""
    config = plan.config
    if plan.task == "text":
        preprocessor = build_text_preprocessor(config.model.encoder, config.model.sequence_length)
        data = load_text_data(config.data, preprocessor)
        model = {
            "encoder": config.model.encoder,
            "sequence_length": config.model.sequence_length,
            "truncated": data.truncated,
            "skipped_rows": len(data.skipped_rows),
        }
        return data, {"model": model, "text_pairs": data.text_pairs, "preprocessor": preprocessor}
    data = load_data(config.data, plan.image_size, config.model.resize)
    model = {
        "backbone": config.model.backbone,
        "image_size": list(plan.image_size),
        "resize": config.model.resize,
        "skipped_files": list(data.skipped_files),
    }
    return data, {"model": model, "text_pairs": False, "preprocessor": None}


def _load_target(plan, data):
    """The target domain's images for adaptation (a bad folder fails before training), or None."""
    if not plan.adapt:
        return None
    config = plan.config
    target = load_target_images(
        config.data.target_source,
        image_size=plan.image_size,
        class_names=data.class_names,
        resize=config.model.resize,
        labels_per_class=config.train.adaptation.labels_per_class,
        batch_size=config.data.batch_size,
        validation_split=config.data.validation_split,
        seed=config.data.seed,
        cache=config.data.cache,
        skip_bad_files=config.data.skip_bad_files,
    )
    adaptation = config.train.adaptation
    check_target_labels(
        target, method=adaptation.method, align_weight=adaptation.align_weight, source=config.data.target_source
    )
    return target


def _load_unlabeled(plan, data, preprocessor):
    """The unlabelled examples for self-training (a bad source fails before training), or None."""
    if not plan.self_training:
        return None
    c = plan.config.data
    return load_unlabeled(
        c.unlabeled_source,
        plan.task,
        class_names=data.class_names,
        batch_size=c.batch_size,
        image_size=plan.image_size,
        resize=plan.config.model.resize,
        preprocessor=preprocessor,
        text_column=c.text_column,
        text_pair_column=c.text_pair_column,
        label_column=c.label_column,
        skip_bad_files=c.skip_bad_files,
    )


def _fit(config, model, data, stages, where, verbose):
    """The plan on `data = (labelled, unlabelled or None)`, under `where = (strategy, checkpoint)`:
    `fit_stages`, self-training rounds or FixMatch (no checkpoint to resume from).
    Returns `(history of the last fit, SelfTrainingRecord, FixMatchRecord or None)`."""
    (labelled, unlabeled), (strategy, checkpoint) = data, where
    if unlabeled is None:
        with strategy.scope():
            return fit_stages(model, labelled, stages, _fit_options(config, model, checkpoint, verbose)), None
    settings = config.train.self_training
    if settings.method == "fixmatch":
        record = fit_fixmatch(
            model, labelled, unlabeled, stages, threshold=settings.threshold, lambda_u=settings.lambda_u,
            mu=settings.mu, options=_fit_options(config, model, None, verbose),
        )
        return record.history, record
    record = fit_self_training(
        model, labelled, unlabeled, stages, rounds=settings.rounds, threshold=settings.threshold,
        balance=settings.balance, options=_fit_options(config, model, None, verbose),
    )
    return record.history, record


def _decide_stages(plan, model, data, log):
    """The stages to run: the plan's, or `fine_tune`'s now that the model
    exists; every stage name checked against the model. Returns `(stages,
    transfer check or None)`."""
    stages, check = plan.stages, None
    if plan.fine_tune:
        pretrained, linear_probe, check = decide_pretrained(model, data, plan.pretrained)
        stages = fine_tune_stages(
            model, data, epochs=plan.config.train.epochs, pretrained=pretrained, linear_probe=linear_probe
        )
        if check is not None:
            log(f"fine_tune: {check}; plan: {', '.join(stage.unfreeze for stage in stages)}")
    stages = with_early_stopping(stages, plan.config.train.early_stopping)
    for stage in stages:  # text and fusion: the stage names are known once the model is built
        resolve_unfreeze(stage.unfreeze, model.stage_layers())
    if plan.adapt:
        resolve_unfreeze(plan.config.train.adaptation.unfreeze, model.stage_layers())
    return tuple(stages), check


def _fit_options(config, model, checkpoint, verbose):
    callbacks = []
    if isinstance(model, FusionClassifier) and model.fusion.mode == "weighted":
        callbacks.append(FusionWeightLogger(model.fusion, model.branch_names))
    return FitOptions(
        callbacks=callbacks,
        verbose=verbose,
        feature_cache=config.train.feature_cache,
        cache_dir=config.train.feature_cache_dir,
        augmented_views=config.train.augmented_views,
        jit_compile=config.train.jit_compile,
        seed=config.data.seed,
        mixup=config.train.mixup,
        cutmix=config.train.cutmix,
        checkpoint=checkpoint,
    )


def _adapt(config, model, data, target, verbose):
    """The domain-adaptation phase after the stages, or None without one."""
    if target is None:
        return None
    adaptation = config.train.adaptation
    return fit_adaptation(
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
