"""`tfl cv`: stratified k-fold cross-validation of a training plan, optionally against a second plan."""

import datetime
import os

from tfl.cli import arguments
from tfl.cli.train import add_config_arguments
from tfl.cli.train import config_from_args


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "cv",
        help="cross-validate a training plan on K stratified folds (mean, std, 95%% interval)",
        description=(
            "Run the plan `tfl train` would run on K stratified folds of --data (an image folder, or a "
            ".csv/.tsv/.jsonl text file with one label per row), "
            "and write cv.json (per-fold accuracy, macro-F1 and AUC-ROC, and each one's mean, std and "
            "95%% t-interval), cv.png and one run folder per fold to --output. Running the same command "
            "again continues: a finished fold is read back, not trained again. With --compare or "
            "--compare-backbone a second plan runs on the same folds and the paired differences get "
            "their own interval."
        ),
    )
    add_config_arguments(parser)
    group = parser.add_argument_group("cross-validation")
    group.add_argument("--folds", type=arguments.positive_int, default=5, help="K, the number of folds (5)")
    group.add_argument(
        "--repeats", type=arguments.positive_int, default=1, help="split into K folds this many times, reshuffled (1)"
    )
    other = group.add_mutually_exclusive_group()
    other.add_argument(
        "--compare",
        metavar="CONFIG",
        help="a YAML config of a second plan to run on the same folds (its data.source is replaced by the folds)",
    )
    other.add_argument(
        "--compare-backbone",
        metavar="NAME[:WEIGHTS]",
        help="images: a second plan: this plan with another backbone and/or weights, e.g. "
        "'mobilenet_025:none' (scratch) or 'resnet50' (weights kept); ':none' alone changes only the weights "
        "(text: --compare a config with another model.encoder)",
    )
    parser.set_defaults(run=run)
    return parser


def compare_config(config, args, task):
    """The second plan of `--compare CONFIG` or `--compare-backbone NAME[:WEIGHTS]`, or None.

    `task` is the plan's: `--compare-backbone` is refused for text, whose
    plan has no backbone to change."""
    from tfl.config import Config

    if args.compare:
        return Config.from_yaml(args.compare)
    if not args.compare_backbone:
        return None
    if task == "text":
        raise ValueError(
            "--compare-backbone changes an image backbone and its weights; a text plan has an encoder, so "
            f"both plans would be the same. Received: --compare-backbone {args.compare_backbone!r} with text "
            f"data {config.data.source!r}. Give --compare CONFIG, a config file with another model.encoder."
        )
    name, separator, weights = args.compare_backbone.partition(":")
    updates = {}
    if name:
        updates["model.backbone"] = name
    if separator:
        if not weights:
            raise ValueError(
                "--compare-backbone is NAME[:WEIGHTS] with WEIGHTS imagenet, none or a file. "
                f"Received: --compare-backbone {args.compare_backbone!r}"
            )
        updates["model.weights"] = arguments.weights_value(weights)
    return config.replace(**updates) if updates else config


def run(args):
    from tfl.cross_validation import cross_validate
    from tfl.run_plan import plan_run

    config = config_from_args(args)
    plan = plan_run(config)
    compare = compare_config(config, args, plan.task)
    model = plan.config.model
    name = model.backbone if plan.task == "image" else os.path.basename(model.encoder.rstrip("/"))
    output = args.output or os.path.join("runs", f"cv-{name}-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    cv = cross_validate(
        config,
        args.folds,
        args.repeats,
        compare,
        output,
        overwrite=args.overwrite,
        resume="auto" if args.resume is not False else False,  # --no-resume starts unfinished folds over
        verbose=arguments.keras_verbosity(args.verbose),
        log=print,
    )
    print(f"\n{len(cv.folds)} folds ({args.folds} x {args.repeats} repeats), mean [95% interval]:")
    rows = [("plan", cv.summary)]
    if cv.compare is not None:
        rows += [("compare", cv.compare), ("difference", cv.difference)]
    for label, summary in rows:
        print(f"  {label:<10} " + "  ".join(f"{metric} {_interval(summary[metric])}" for metric in summary))
    print(f"Wrote {os.path.join(output, 'cv.json')}, cv.png")
    return 0


def _interval(summary):
    if summary["mean"] is None:
        return "n/a"
    if summary["ci95"] is None:
        return f"{summary['mean']:.4f}"
    low, high = summary["ci95"]
    return f"{summary['mean']:.4f} [{low:.4f}, {high:.4f}]"
