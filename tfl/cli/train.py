"""`tfl train`: train a classifier from a YAML config and/or flags."""

import datetime
import os

from tfl.cli import arguments


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a classifier (feature extraction, then staged fine-tuning)",
        description=(
            "Train an image classifier on a pretrained backbone and write model.keras, "
            "report.json and config.yaml to --output. Flags override the config file."
        ),
    )
    parser.add_argument("--config", help="YAML config file (see docs/config.md)")
    parser.add_argument("--data", help="folder of class folders, tfds:NAME, or 'digits'")
    parser.add_argument("--val-data", help="folder of held-out images (else a split of --data)")
    parser.add_argument("--backbone", help="backbone name, see `tfl backbones`")
    parser.add_argument("--weights", help="imagenet, none, or a weights file (.weights.h5/.h5/.keras)")
    parser.add_argument("--image-size", type=arguments.image_size, help="N or HxW (default: the backbone's)")
    parser.add_argument(
        "--stages",
        help="comma-separated UNFREEZE[:EPOCHS[:LR]], e.g. 'none:5:1e-3,top2:3:1e-4' "
        "(UNFREEZE: none, all, topN, or stage names joined by +)",
    )
    parser.add_argument("--epochs", type=arguments.positive_int, help="epochs per stage without its own")
    parser.add_argument("--batch-size", type=arguments.positive_int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--augment", type=arguments.augmentation, help="e.g. 'flip,rotation=0.1,zoom=0.1'")
    parser.add_argument("--skip-bad-files", action="store_true", default=None, help="skip unreadable images")
    parser.add_argument("--output", help="run folder to write (default: runs/BACKBONE-TIMESTAMP)")
    parser.add_argument("--overwrite", action="store_true", help="allow a non-empty --output folder")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras verbosity")
    parser.set_defaults(run=run)
    return parser


def config_from_args(args):
    """The `Config` of a config file with the flags applied on top."""
    from tfl.config import Config
    from tfl.config import parse_stages

    config = Config.from_yaml(args.config) if args.config else Config()
    overrides = {}
    for flag, key in (
        ("data", "data.source"),
        ("val_data", "data.validation_source"),
        ("batch_size", "data.batch_size"),
        ("seed", "data.seed"),
        ("skip_bad_files", "data.skip_bad_files"),
        ("backbone", "model.backbone"),
        ("image_size", "model.image_size"),
        ("epochs", "train.epochs"),
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = list(value) if isinstance(value, tuple) else value
    if args.weights is not None:
        overrides["model.weights"] = None if args.weights.lower() in ("none", "null") else args.weights
    if args.augment is not None:
        overrides["model.augmentation"] = args.augment
    if overrides:
        config = config.replace(**overrides)
    if args.stages:
        config = config.replace(**{"train.stages": parse_stages(args.stages, epochs=config.train.epochs)})
    return config


def run(args):
    config = config_from_args(args)
    output = args.output or os.path.join(
        "runs", f"{config.model.backbone}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    )
    from tfl.experiment import prepare_output_dir
    from tfl.experiment import run_experiment

    prepare_output_dir(output, args.overwrite)  # fail before loading anything
    result = run_experiment(config, output, overwrite=True, verbose=args.verbose)
    report = result.report
    auc = report["auc_roc"]
    print(
        f"\nHeld-out ({report['num_examples']} examples): accuracy {report['accuracy']:.4f}, "
        f"macro-F1 {report['macro_f1']:.4f}, AUC-ROC {'n/a' if auc is None else f'{auc:.4f}'}; "
        f"{report['seconds']:.1f} s"
    )
    print(f"Wrote {os.path.join(output, 'model.keras')}, report.json, config.yaml")
    return 0
