"""`tfl tune`: search a config's plan with KerasTuner and write the best config as YAML."""

import os

from tfl.cli import arguments
from tfl.cli import train


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "tune",
        help="search learning rates, epochs, unfreezing, dropout, smoothing and decay (KerasTuner)",
        description=(
            "Search the training plan with KerasTuner (Bayesian optimisation or Hyperband), each trial "
            "scored on a seeded split of --data (--val-data, the held-out data, is never read), and write "
            "best.yaml (run it with `tfl train --config best.yaml`), trials.json and KerasTuner's state to "
            "--output. Running the same command again continues the search. Flags override the config file."
        ),
    )
    train.add_plan_arguments(parser)
    _add_search_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def _add_search_arguments(parser):
    group = parser.add_argument_group("search")
    group.add_argument("--max-trials", type=arguments.positive_int, default=10, help="trials in all, resumed ones included (10)")
    group.add_argument("--tuner", choices=("bayesian", "hyperband"), default="bayesian", help="KerasTuner's oracle")
    group.add_argument(
        "--objective", choices=("accuracy", "macro_f1"), default="accuracy", help="the validation score to maximise"
    )
    group.add_argument(
        "--search-split", type=float, help="fraction of each class of --data scored on (default: the config's split)"
    )
    group.add_argument("--max-unfreeze", type=int, default=2, help="the most backbone stages a trial fine-tunes (2)")
    group.add_argument("--max-epochs", type=arguments.positive_int, help="the most epochs of a stage (default: 2 x --epochs)")
    group.add_argument("--output", help="the search folder (default: runs/tune-BACKBONE); the same folder resumes")
    group.add_argument("--overwrite", action="store_true", help="discard the search in --output and start over")
    group.add_argument("--verbose", type=int, choices=(0, 1, 2), default=0, help="Keras verbosity of the trials")


def run(args):
    from tfl.tuning import tune

    config = train.config_from_args(args)
    name = config.model.backbone if config.task != "text" else "text"
    output = args.output or os.path.join("runs", f"tune-{name}")
    result = tune(
        config,
        max_trials=args.max_trials,
        tuner=args.tuner,
        output_dir=output,
        objective=args.objective,
        validation_split=args.search_split,
        max_unfreeze=args.max_unfreeze,
        max_epochs=args.max_epochs,
        overwrite=args.overwrite,
        verbose=args.verbose,
    )
    print(result.table())
    print(
        f"\nBest validation {result.objective}: {result.best_score:.4f} (default plan: {result.default_score:.4f}); "
        f"{result.seconds:.1f} s"
    )
    print(f"Wrote {os.path.join(output, 'best.yaml')}, trials.json. Train it: tfl train --config "
          f"{os.path.join(output, 'best.yaml')} (add --val-data to score on the held-out data)")
    return 0
