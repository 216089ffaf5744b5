"""`tune`: hyperparameter search over a config's plan, with KerasTuner.

KerasTuner proposes the values (its Bayesian optimisation or Hyperband
oracle, its state kept in the output folder so a search resumes); tfl runs
each trial. A trial is a `Config`: `PlanSpace.build` maps the values to the
config's fields (the stages' learning rates and epochs, how many backbone
stages the second stage unfreezes, `model.dropout`, `train.label_smoothing`,
`train.weight_decay`), and `score_config` trains it with `run_experiment`,
the code `tfl train` runs, so the best trial's YAML reproduces its score.

The score is measured on a validation split of the training data only:
`search_config` drops the held-out folder (`data.validation_source`) and
splits `data.validation_split` of each class of `data.source` off instead
(stratified, seeded with `data.seed`). The held-out images never reach the
search. Head stages train on cached features (one feature cache on disk for
every trial), so a trial without fine-tuning costs seconds.

The output folder is `tfl.tune_folder`'s (what it holds, and when a search
in it may continue).
"""

import dataclasses
import json
import os
import tempfile
import time

import keras
import keras_tuner

from tfl.backbones import get_backbone_spec
from tfl.config import Config
from tfl.config import Stage
from tfl.experiment import run_experiment
from tfl.io import write_json
from tfl.io import write_text
from tfl.model import build_model
from tfl.run_plan import plan_run
from tfl.train import head_can_be_probed
from tfl.tune_folder import PROJECT
from tfl.tune_folder import prepare_search_folder
from tfl.tune_folder import search_settings
from tfl.tune_folder import write_results

TUNERS = ("bayesian", "hyperband")
OBJECTIVES = ("accuracy", "macro_f1")
WEIGHT_DECAYS = (0.0, 1e-5, 1e-4, 1e-3)


@dataclasses.dataclass
class TuneResult:
    """What `tune` found.

    Attributes:
        best_config: the best `Config` (the default plan where nothing beat it).
        best_score: its validation score (`objective`).
        default_score: the score of the config's own plan on the same split.
        objective: "accuracy" or "macro_f1", on the search's validation split.
        trials: one dict per trial, the default first: `trial_id`, `status`,
            `score`, `val_accuracy`, `val_macro_f1`, `seconds`, `plan`,
            `dropout`, `label_smoothing`, `weight_decay`, `values`.
        seconds: wall time of this call.
        output_dir: the folder written, or None.

    Examples:

    >>> result = TuneResult(best_config=Config(), best_score=0.9, default_score=0.8, objective="accuracy",
    ...     trials=[{"trial_id": "default", "score": 0.8, "seconds": 5.0, "plan": "probe,top2:5:0.0001",
    ...     "dropout": 0.2, "label_smoothing": 0.0, "weight_decay": None}], seconds=5.0, output_dir=None)
    >>> print(result.table())
       trial val accuracy  seconds  plan  (dropout, smoothing, decay)
    default*       0.8000      5.0  probe,top2:5:0.0001  (0.2, 0.0, None)
    """

    best_config: Config
    best_score: float
    default_score: float
    objective: str
    trials: list
    seconds: float
    output_dir: str | None

    def table(self):
        """The trials as a text table, best marked with `*`."""
        best = max(self.trials, key=_sort_key)
        lines = [f"{'trial':>8} {'val ' + self.objective:>12} {'seconds':>8}  plan  (dropout, smoothing, decay)"]
        for row in self.trials:
            score = "failed" if row["score"] is None else f"{row['score']:.4f}"
            mark = "*" if row is best else " "
            seconds = "" if row["seconds"] is None else f"{row['seconds']:.1f}"
            lines.append(
                f"{row['trial_id']:>7}{mark} {score:>12} {seconds:>8}  {row['plan']}  "
                f"({row['dropout']}, {row['label_smoothing']}, {row['weight_decay']})"
            )
        return "\n".join(lines)


def search_config(config, validation_split=None):
    """The config a search trains: `data.source` only, `validation_split` of
    each of its classes split off (seeded by `data.seed`) for scoring; the
    held-out `data.validation_source` is left out.

    Args:
        config: a `Config` whose `data.validation_source` holds the held-out images.
        validation_split: the fraction of each class scored on; None keeps
            `data.validation_split`.

    Examples:

    >>> config = Config.from_dict({"data": {"source": "train/", "validation_source": "test/"}})
    >>> searched = search_config(config, validation_split=0.25)
    >>> searched.data.source, searched.data.validation_source, searched.data.validation_split
    ('train/', None, 0.25)
    """
    data = config.data
    if data.validation_source is None:
        raise ValueError(
            "tfl tune scores trials on a split of the training data and keeps the held-out data out of "
            "the search, so it needs the held-out data apart: give the training data as data.source "
            "(--data) and the held-out images or file as data.validation_source (--val-data). "
            f"Received: data.source={data.source!r}, data.validation_source=None"
        )
    if validation_split is not None and (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not 0 < validation_split < 1
    ):
        raise ValueError(
            "validation_split is the fraction of each class of the training data that scores the trials, in "
            "(0, 1), e.g. 0.2 (--search-split with tfl tune; None keeps data.validation_split). "
            f"Received: validation_split={validation_split!r}"
        )
    split = data.validation_split if validation_split is None else validation_split
    return config.replace(**{"data.validation_source": None, "data.validation_split": split})


class PlanSpace(keras_tuner.HyperModel):
    """The search space over a config's plan, as a KerasTuner `HyperModel`
    whose `build(hp)` returns a `Config` (a trial), not a model.

    The values: `head` ("probe": a linear probe; "fit": a head stage of
    `head_epochs` at `head_learning_rate`), `unfreeze` (0: no second stage;
    N: the top N backbone stages for `fine_tune_epochs` at
    `fine_tune_learning_rate`), `dropout`, `label_smoothing` and
    `weight_decay`. With Hyperband, both stages train for the epochs of the
    trial's budget (`tuner/epochs`) instead of searched epochs.

    Args:
        config: the searched `Config` (see `search_config`).
        max_unfreeze: the most backbone stages a trial unfreezes.
        max_epochs: the most epochs of a stage.
        hyperband: take the epochs from Hyperband's budget.
        probe: whether the head may be a linear probe; False leaves only
            head stages (`tfl.train.head_can_be_probed`: a fusion layer or
            LSTM pooling trains with the head).

    Examples:

    >>> space = PlanSpace(Config(), max_unfreeze=1)
    >>> trial = space.build(keras_tuner.HyperParameters())
    >>> [(stage.unfreeze, stage.linear_probe) for stage in trial.train.stages]
    [('none', True), ('top 1', False)]
    """

    def __init__(self, config, max_unfreeze=2, max_epochs=10, hyperband=False, probe=True):
        super().__init__(name="tfl_plan")
        _check_count(max_unfreeze, "max_unfreeze", 0)
        _check_count(max_epochs, "max_epochs", 1)
        self.config = config
        self.max_unfreeze = max_unfreeze
        self.max_epochs = max_epochs
        self.hyperband = hyperband
        self.heads = ["probe", "fit"] if probe else ["fit"]

    def build(self, hp):
        epochs = min(self.config.train.epochs, self.max_epochs)
        head = hp.Choice("head", self.heads)
        head_rate = hp.Float("head_learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        unfreeze = hp.Int("unfreeze", 0, self.max_unfreeze, default=min(2, self.max_unfreeze))
        fine_tune_rate = hp.Float("fine_tune_learning_rate", 1e-5, 1e-3, sampling="log", default=1e-4)
        if self.hyperband:
            head_epochs = fine_tune_epochs = int(hp.values.get("tuner/epochs", epochs))
        else:
            head_epochs = hp.Int("head_epochs", 1, self.max_epochs, default=epochs)
            fine_tune_epochs = hp.Int("fine_tune_epochs", 1, self.max_epochs, default=epochs)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.2)
        smoothing = hp.Float("label_smoothing", 0.0, 0.2, step=0.05, default=0.0)
        decay = hp.Choice("weight_decay", list(WEIGHT_DECAYS))
        stages = [Stage("none", linear_probe=True) if head == "probe" else Stage("none", head_epochs, head_rate)]
        if unfreeze:
            stages.append(Stage(f"top {unfreeze}", fine_tune_epochs, fine_tune_rate))
        return self.config.replace(
            **{
                "train.stages": stages,
                "model.dropout": round(dropout, 4),
                "train.label_smoothing": round(smoothing, 4),
                "train.weight_decay": decay or None,
            }
        )


class PlanTuner(keras_tuner.Tuner):
    """A KerasTuner `Tuner` whose trial trains the `Config` its `PlanSpace`
    builds, with `score_config`; it writes the trial's `config.yaml` and
    `tfl_trial.json` (scores, seconds) to the trial's folder."""

    def __init__(self, oracle, hypermodel, verbose=0, **kwargs):
        super().__init__(oracle, hypermodel, **kwargs)
        self.tfl_verbose = verbose

    def run_trial(self, trial, *args, **kwargs):
        config = self.hypermodel.build(trial.hyperparameters)
        start = time.perf_counter()
        metrics = score_config(config, verbose=self.tfl_verbose)
        folder = self.get_trial_dir(trial.trial_id)
        write_text(os.path.join(folder, "config.yaml"), config.to_yaml())
        write_json(os.path.join(folder, "tfl_trial.json"), {**metrics, "seconds": time.perf_counter() - start})
        return metrics


def score_config(config, verbose=0):
    """Trains `config` as `tfl train` does (`run_experiment`, no run folder)
    and returns its scores on its validation data: `{"val_accuracy": ...,
    "val_macro_f1": ..., "val_auc_roc": ...}` (no AUC where it is undefined).

    Examples:

    >>> config = Config.from_dict({"data": {"source": "flowers/", "batch_size": 4, "validation_split": 0.34},
    ...     "model": {"backbone": "mobilenet_v3_small", "weights": None, "image_size": 32},
    ...     "train": {"stages": ["none:1:1e-3"]}})
    >>> sorted(score_config(config))
    ['val_accuracy', 'val_auc_roc', 'val_macro_f1']
    """
    keras.backend.clear_session(free_memory=False)  # fresh layer names: the feature cache's key
    report = run_experiment(config, None, verbose=verbose).report
    metrics = {"val_accuracy": report["accuracy"], "val_macro_f1": report["macro_f1"], "val_auc_roc": report["auc_roc"]}
    return {name: float(value) for name, value in metrics.items() if value is not None}  # AUC: None when undefined


def tune(
    config,
    max_trials=10,
    tuner="bayesian",
    output_dir=None,
    *,
    objective="accuracy",
    validation_split=None,
    max_unfreeze=2,
    max_epochs=None,
    overwrite=False,
    verbose=0,
):
    """Searches `config`'s plan with KerasTuner, scored on a validation split
    of its training data.

    The config's own plan (its stages, or the default plan) is scored first
    on the same split, and is the answer when no trial beats it. Running it
    again with the same `output_dir` continues the search (KerasTuner's own
    state); `max_trials` counts every trial so far.

    Args:
        config: a `Config` with the training data in `data.source` and the
            held-out data in `data.validation_source` (never read here).
        max_trials: trials in all, the default plan not counted.
        tuner: "bayesian" (Gaussian-process Bayesian optimisation) or
            "hyperband" (stages trained for growing epoch budgets).
        output_dir: the folder of the search (see the module); None keeps
            KerasTuner's state and the features in a temporary folder.
        objective: "accuracy" or "macro_f1" on the validation split.
        validation_split: the fraction of each class of `data.source` scored
            on (seeded by `data.seed`); None: `data.validation_split`.
        max_unfreeze: the most backbone stages a trial fine-tunes.
        max_epochs: the most epochs of a stage; None: twice `train.epochs`.
        overwrite: discard a search found in `output_dir` and start over.
        verbose: Keras verbosity of the trials; 0 is silent.

    Returns:
        A `TuneResult`; `best.yaml`, `trials.json` and `default.json` are
        written to `output_dir`.

    Examples:

    >>> config = Config.from_dict({"data": {"source": "flowers/", "validation_source": "flowers/",
    ...     "batch_size": 4, "validation_split": 0.34},
    ...     "model": {"backbone": "mobilenet_v3_small", "weights": None, "image_size": 32},
    ...     "train": {"stages": ["none:1:1e-3"], "epochs": 1}})
    >>> result = tune(config, max_trials=1, output_dir="runs/tune", max_unfreeze=0)
    >>> len(result.trials), sorted(os.listdir("runs/tune"))[:3]
    (2, ['best.yaml', 'default.json', 'feature_cache'])
    """
    start = time.perf_counter()
    _check_search_arguments(tuner, objective, max_trials, max_unfreeze, max_epochs)
    searched = search_config(config, validation_split)
    settings = search_settings(tuner, objective, max_unfreeze, max_epochs or 2 * searched.train.epochs)
    temporary = tempfile.TemporaryDirectory(prefix="tfl-tune-") if output_dir is None else None
    folder = temporary.name if temporary else os.fspath(output_dir)
    try:
        searched = prepare_search_folder(folder, searched, overwrite, settings)
        default = _score_default(folder, searched, objective, verbose)
        planned = plan_run(searched)  # checks names and sizes before any trial
        space = PlanSpace(
            searched,
            max_unfreeze=_max_unfreeze(planned, max_unfreeze),
            max_epochs=settings["max_epochs"],
            hyperband=tuner == "hyperband",
            probe=head_can_be_probed(planned.config.model, planned.task),
        )
        search = PlanTuner(
            _oracle(tuner, f"val_{objective}", max_trials, space, searched.data.seed),
            space,
            verbose=verbose,
            directory=folder,
            project_name=PROJECT,
            overwrite=False,
        )
        search.search(verbose=verbose)
        trials = [default, *_trial_rows(search, objective)]
        best = max(trials, key=_sort_key)
        best_config = best["config"].replace(**{"train.feature_cache_dir": config.train.feature_cache_dir})
        if temporary is None:
            write_results(folder, best_config, trials)
    finally:
        if temporary is not None:
            temporary.cleanup()
    return TuneResult(
        best_config=best_config,
        best_score=best["score"],
        default_score=default["score"],
        objective=objective,
        trials=[{k: v for k, v in row.items() if k != "config"} for row in trials],
        seconds=time.perf_counter() - start,
        output_dir=None if temporary else folder,
    )


def _score_default(folder, searched, objective, verbose):
    """The config's own plan scored on the search's split (read back when a resumed search has it)."""
    path = os.path.join(folder, "default.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as file:
            row = json.load(file)
        return {**row, "score": row[f"val_{objective}"], "config": Config.from_dict(row["config"])}
    start = time.perf_counter()
    metrics = score_config(searched, verbose=verbose)
    config = plan_run(searched).config
    row = _row("default", "COMPLETED", metrics, time.perf_counter() - start, config, {}, objective)
    write_json(path, {**row, "config": row["config"].to_dict()})
    return row


def _max_unfreeze(planned, max_unfreeze):
    """`max_unfreeze`, at most the model's named stages (images): the backbone's, or a fusion
    model's trainable branches' (a frozen source has none)."""
    _check_count(max_unfreeze, "max_unfreeze", 0)
    if planned.task != "image":
        return max_unfreeze
    model = planned.config.model
    if model.fusion.mode is None:
        return min(max_unfreeze, len(get_backbone_spec(model.backbone).stage_names))
    # The branches' stages are known once built: random weights, so nothing is read or downloaded.
    random = dataclasses.replace(model, weights=None, fusion=dataclasses.replace(model.fusion, branch_weights=None))
    return min(max_unfreeze, len(build_model(random, ["a", "b"]).stage_layers()))


def _oracle(tuner, objective, max_trials, space, seed):
    """KerasTuner's oracle for `tuner`, maximising `objective`."""
    goal = keras_tuner.Objective(objective, direction="max")
    if tuner == "bayesian":
        # Half the trials explore at random, then the Gaussian process proposes.
        return keras_tuner.oracles.BayesianOptimizationOracle(
            objective=goal, max_trials=max_trials, num_initial_points=max(2, max_trials // 2), seed=seed
        )
    # Hyperband's brackets repeat until `max_trials` trials have run.
    oracle = keras_tuner.oracles.HyperbandOracle(
        objective=goal, max_epochs=space.max_epochs, factor=3, hyperband_iterations=max_trials, seed=seed
    )
    oracle.max_trials = max_trials
    return oracle


def _trial_rows(search, objective):
    """One row per KerasTuner trial, in order."""
    rows = []
    for trial_id, trial in sorted(search.oracle.trials.items()):
        folder = search.get_trial_dir(trial_id)
        values = dict(trial.hyperparameters.values)
        config = search.hypermodel.build(trial.hyperparameters.copy())
        saved = os.path.join(folder, "tfl_trial.json")
        metrics, seconds = {}, None
        if trial.status == "COMPLETED" and os.path.isfile(saved):
            with open(saved, encoding="utf-8") as file:
                metrics = json.load(file)
            seconds = metrics.pop("seconds")
        rows.append(_row(trial_id, trial.status, metrics, seconds, config, values, objective))
    return rows


def _row(trial_id, status, metrics, seconds, config, values, objective="accuracy"):
    score = metrics.get(f"val_{objective}")
    return {
        "trial_id": trial_id,
        "status": status,
        "score": score,
        "val_accuracy": metrics.get("val_accuracy"),
        "val_macro_f1": metrics.get("val_macro_f1"),
        "val_auc_roc": metrics.get("val_auc_roc"),
        "seconds": seconds,
        "plan": _plan_text(config.train.stages, config.train.plan),
        "dropout": config.model.dropout,
        "label_smoothing": config.train.label_smoothing,
        "weight_decay": config.train.weight_decay,
        "values": values,
        "config": config,
    }


def _plan_text(stages, plan):
    """A plan as `tfl train --stages` writes it, e.g. 'probe,top2:5:0.0001'."""
    if stages is None:
        return plan
    return ",".join(
        "probe" if s.linear_probe else f"{s.unfreeze.replace(' ', '')}:{s.epochs}:{s.learning_rate:g}" for s in stages
    )


def _sort_key(row):
    """Completed rows by score; the first of equals wins (the default, on a tie)."""
    return float("-inf") if row["score"] is None else row["score"]


def _check_search_arguments(tuner, objective, max_trials, max_unfreeze, max_epochs):
    """`tune`'s own arguments, checked before the default plan trains, not after."""
    _check_choice(tuner, "tuner", TUNERS)
    _check_choice(objective, "objective", OBJECTIVES)
    _check_count(max_trials, "max_trials", 1)
    _check_count(max_unfreeze, "max_unfreeze", 0)
    if max_epochs is not None:
        _check_count(max_epochs, "max_epochs", 1)


def _check_choice(value, name, known):
    if value not in known:
        raise ValueError(f"Unknown {name} {value!r}. Known: {', '.join(known)}. Received: {name}={value!r}")


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        flag = "--" + name.replace("_", "-")
        raise ValueError(
            f"{name} must be a whole number >= {minimum} ({flag} with tfl tune). Received: {name}={value!r}"
        )
