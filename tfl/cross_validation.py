"""`cross_validate`: a whole training plan, run on K stratified folds (optionally repeated).

The data is a folder of class folders (images) or a `.csv`, `.tsv` or
`.jsonl` file (text). Each fold is an ordinary run of the same config on
other data: the folds are made by `tfl.data.folds.fold_folders` (links to the
images, no copies) or `tfl.data.folds.fold_text_file` (the rows, with every
column, in files of the source's format), both dealt by `stratified_folds`,
and each is trained and scored by `tfl.experiment.run_experiment` with
`data.source` the fold's training part and `data.validation_source` its
held-out part, in its own run folder, so a fold resumes like any run. The
output folder:

    cv.json            per-fold metrics (`folds`), and for accuracy, macro_f1 and
                       auc_roc their `mean`, `std`, `ci95` and `n`; with a
                       comparison, `compare` (the same for the second plan) and
                       `difference` (plan minus compare, fold by fold)
    cv.png             per-fold accuracy, its mean and interval (and the differences)
    cv_request.json    what was asked: a later call must ask the same to continue
    folds/             fold-<repeat>-<k>/train and held_out: folders of links to the
                       images, or text files (train.csv and held_out.csv, ...)
    fold-<repeat>-<k>/ the run folder of each fold; compare-<repeat>-<k>/ the second plan's
    feature_cache/     features of frozen backbones, kept between runs (unless the
                       config names its own train.feature_cache_dir)

A fold whose `report.json` exists is read back, not trained again.
"""

import dataclasses
import json
import os
import shutil
import tempfile

from tfl.data.folds import check_fold_counts
from tfl.data.folds import fold_folders
from tfl.data.folds import fold_text_file
from tfl.data.text.file import is_text_file
from tfl.evaluate import save_figure
from tfl.evaluate.cv_plot import plot_cross_validation
from tfl.evaluate.intervals import mean_interval
from tfl.evaluate.intervals import paired_difference
from tfl.experiment import run_experiment
from tfl.io import write_json
from tfl.run_folder import REPORT_FILE
from tfl.run_folder import prepare_output_dir
from tfl.run_folder import removed_if_left_empty
from tfl.run_plan import plan_run

METRICS = ("accuracy", "macro_f1", "auc_roc")
CV_FILE = "cv.json"
CV_PLOT = "cv.png"
REQUEST_FILE = "cv_request.json"


@dataclasses.dataclass
class CrossValidation:
    """What `cross_validate` found.

    Attributes:
        folds: one dict per fold: `repeat`, `fold`, `num_train`,
            `num_held_out`, `accuracy`, `macro_f1`, `auc_roc`, `seconds`,
            `resumed` (read back from a finished run folder) and, with a
            comparison, `compare` (the same metrics for the second plan).
        summary: metric -> `{"mean", "std", "ci95", "n"}` over the folds.
        compare: the same for the second plan, or None.
        difference: the same for the paired differences (plan minus
            compare, fold by fold), or None.
        output_dir: where `cv.json` and the fold runs are, or None.
    """

    folds: list
    summary: dict
    compare: dict | None
    difference: dict | None
    output_dir: str | None

    def to_dict(self):
        """The contents of `cv.json`."""
        return {
            "folds": self.folds,
            **self.summary,
            "compare": self.compare,
            "difference": self.difference,
            "interval": "Student t, 95%: mean ± t(0.975, n-1) · std / √n over the n folds",
        }


def cross_validate(
    config, folds=5, repeats=1, compare=None, output_dir=None, *, overwrite=False, resume="auto", verbose=0, log=None
):
    """Runs the training plan of `config` on `folds` stratified folds of its data.

    Every fold trains the whole plan (the same as `tfl train`) on the other
    folds and scores it on its own; the metrics are reported per fold and as
    mean, standard deviation and 95% t-interval. With `compare`, a second
    plan runs on the same folds and the paired differences get their own
    interval (with repeats, the folds of a repeat overlap those of another:
    the interval treats all `folds * repeats` results as independent, which
    makes it too narrow).

    Args:
        config: a `tfl.config.Config` whose `data.source` is a folder of class
            folders (images) or a `.csv`, `.tsv` or `.jsonl` file with one
            label per row (text: `data.text_column`, `data.label_column` and
            `data.text_pair_column` name its columns); no
            `data.validation_source`: the folds hold out.
        folds: K, from 2 to the example count of the smallest class.
        repeats: how many times to split into K folds, each with another
            shuffle (seeded by `data.seed` and the repeat).
        compare: a second `Config` (e.g. other weights or another backbone)
            run on the same folds; its `data.source` is replaced by the folds.
        output_dir: the folder to write (see `tfl.cross_validation`); None
            writes into a temporary folder, removed at the end. A folder of
            an unfinished cross-validation of the same request continues.
        overwrite: allow an `output_dir` of another request (or other files)
            and train every fold again.
        resume: for a fold left unfinished (a crash, a kill): "auto"
            continues it from its last finished epoch, False starts it over
            (`run_experiment`'s `resume`). A finished fold is read back
            either way.
        verbose: Keras verbosity of each fold's run; 0 is silent.
        log: a callable taking a str for progress; None prints unless
            `verbose` is 0.

    Returns:
        A `CrossValidation`.

    Examples:

    >>> config = Config.from_dict({"data": {"source": "flowers/", "batch_size": 4},
    ...     "model": {"backbone": "mobilenet_v3_small", "weights": None, "image_size": 32},
    ...     "train": {"stages": ["none:1:1e-3"]}})
    >>> cv = cross_validate(config, folds=2, output_dir="runs/cv")
    >>> len(cv.folds), sorted(cv.summary["accuracy"])
    (2, ['ci95', 'mean', 'n', 'std'])
    """
    check_fold_counts(folds, repeats)
    log = log or (print if verbose else lambda message: None)
    task = _check_source(config)
    if compare is not None:  # its data are the same folds
        compare = compare.replace(**{"data.source": config.data.source})
        _check_source(compare)
    if output_dir is None:
        with tempfile.TemporaryDirectory(prefix="tfl-cv-") as temporary:
            runner = _Runner(temporary, overwrite, resume, verbose, log)
            result = _cross_validate(config, task, folds, repeats, compare, runner)
        return dataclasses.replace(result, output_dir=None)
    runner = _Runner(os.fspath(output_dir), overwrite, resume, verbose, log)
    return _cross_validate(config, task, folds, repeats, compare, runner)


def _cross_validate(config, task, folds, repeats, compare, runner):
    root = runner.root
    request = {
        "folds": folds,
        "repeats": repeats,
        "config": config.to_dict(),
        "compare": None if compare is None else compare.to_dict(),
    }
    data = config.data
    with removed_if_left_empty(root):  # a folder this call made stays only if something was written
        write_request = _prepare_root(root, request, runner.overwrite)
        found = _make_folds(data, task, folds, repeats, os.path.join(root, "folds"))
        if write_request:
            write_json(os.path.join(root, REQUEST_FILE), request)
    rows = []
    for fold in found:
        row = {"repeat": fold.repeat, "fold": fold.index}
        row.update(num_train=fold.num_train, num_held_out=fold.num_held_out)
        row.update(runner.run(config, fold, f"fold-{fold.name}"))
        if compare is not None:
            row["compare"] = runner.run(compare, fold, f"compare-{fold.name}")
        rows.append(row)
    result = summarize_folds(rows, output_dir=root)
    cv = result.to_dict()
    cv.update(folds_per_repeat=folds, repeats=repeats, seed=data.seed, config=config.to_dict())
    if compare is not None:
        cv["compare_config"] = compare.to_dict()
    write_json(os.path.join(root, CV_FILE), cv)
    save_figure(plot_cross_validation(cv), os.path.join(root, CV_PLOT))
    return result


def _make_folds(data, task, folds, repeats, root):
    """The folds of `data.source` (a `DataConfig`'s), written under `root`."""
    if task == "text":
        return fold_text_file(
            data.source,
            folds,
            root,
            text_column=data.text_column,
            label_column=data.label_column,
            text_pair_column=data.text_pair_column,
            label_separator=data.label_separator,
            repeats=repeats,
            seed=data.seed,
            skip_bad_rows=data.skip_bad_files,
        )
    return fold_folders(data.source, folds, root, repeats=repeats, seed=data.seed, skip_bad_files=data.skip_bad_files)


def summarize_folds(rows, output_dir=None):
    """A `CrossValidation` of per-fold rows: each metric's mean, std and
    interval, and with `compare` in the rows the paired differences.

    Examples:

    >>> rows = [{"accuracy": a, "macro_f1": a, "auc_roc": None, "compare": {"accuracy": b,
    ...     "macro_f1": b, "auc_roc": None}} for a, b in [(0.9, 0.7), (0.8, 0.7), (0.85, 0.6)]]
    >>> cv = summarize_folds(rows)
    >>> round(cv.difference["accuracy"]["mean"], 4), cv.summary["auc_roc"]["n"]
    (0.1833, 0)
    """
    # Every metric is a fraction in [0, 1], a paired difference in [-1, 1].
    summary = {metric: mean_interval([row[metric] for row in rows], bounds=(0, 1)) for metric in METRICS}
    compare = difference = None
    if rows and "compare" in rows[0]:
        compare = {metric: mean_interval([row["compare"][metric] for row in rows], bounds=(0, 1)) for metric in METRICS}
        difference = {
            metric: mean_interval([paired_difference(row, metric) for row in rows], bounds=(-1, 1)) for metric in METRICS
        }
    return CrossValidation(folds=rows, summary=summary, compare=compare, difference=difference, output_dir=output_dir)


@dataclasses.dataclass(frozen=True)
class _Runner:
    """Runs a plan on a fold in `root/<name>`, or reads a finished run back."""

    root: str
    overwrite: bool
    resume: object
    verbose: object
    log: object

    def run(self, config, fold, name):
        """The metrics of `config`'s run on `fold`: read back from a finished
        run folder, or trained (continuing an unfinished one)."""
        folder = os.path.join(self.root, name)
        report_path = os.path.join(folder, REPORT_FILE)
        if os.path.isfile(report_path) and not self.overwrite:
            with open(report_path, encoding="utf-8") as f:
                report = json.load(f)
            self.log(f"{name}: finished earlier, read back from {report_path}")
            return {**{m: report.get(m) for m in METRICS}, "seconds": report.get("seconds"), "resumed": True}
        updates = {"data.source": fold.train, "data.validation_source": fold.held_out}
        if config.train.feature_cache_dir is None:
            updates["train.feature_cache_dir"] = os.path.join(self.root, "feature_cache")
        self.log(f"{name}: training on {fold.num_train} examples, holding out {fold.num_held_out}")
        result = run_experiment(
            config.replace(**updates), folder, overwrite=True, resume=self.resume, verbose=self.verbose, log=self.log
        )
        report = result.report
        return {**{m: report.get(m) for m in METRICS}, "seconds": report["seconds"], "resumed": False}


def _check_source(config):
    """The task of the config's data: an image folder or a text file to fold,
    with no held-out data of its own."""
    plan = plan_run(config)
    source = config.data.source
    if plan.task == "text":
        foldable = bool(source) and is_text_file(source) and os.path.isfile(source)
    else:
        foldable = bool(source) and os.path.isdir(source)
    if not foldable:
        missing = " (no such file)" if source and is_text_file(source) and not os.path.exists(source) else ""
        raise ValueError(
            "cross_validate folds a folder of class folders (images) or a .csv, .tsv or .jsonl file (text). "
            f"Received: data.source={source!r}{missing} (task {plan.task!r}). Give a folder with one sub-folder "
            "per class, or a text file with a text and a label column (data.text_column, data.label_column)."
        )
    if config.data.validation_source is not None:
        raise ValueError(
            "cross_validate holds out each fold in turn; held-out data of its own has no place. "
            f"Received: data.validation_source={config.data.validation_source!r}. Remove it (--val-data)."
        )
    return plan.task


def _prepare_root(root, request, overwrite):
    """Creates `root`, or continues it when it holds the same request.

    Returns True when the request is still to be written: after the folds are
    made, so data that cannot be folded leaves no request behind (which would
    refuse the corrected command in the same folder as another request)."""
    path = os.path.join(root, REQUEST_FILE)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            earlier = json.load(f)
        if earlier == json.loads(json.dumps(request)):
            return False
        if overwrite:  # the folds of another request may differ: made again
            shutil.rmtree(os.path.join(root, "folds"), ignore_errors=True)
            return True
        changed = sorted(key for key in request if _plain(request[key]) != _plain(earlier.get(key)))
        raise FileExistsError(
            f"{root} holds a cross-validation of another request (it differs in: {', '.join(changed)}). "
            "Choose a new output folder, or pass overwrite=True (--overwrite) to run every fold again."
        )
    prepare_output_dir(root, overwrite)  # refuses a folder of other files unless overwrite
    return True


def _plain(value):
    return json.dumps(value, sort_keys=True)
