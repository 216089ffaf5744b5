"""`tfl demo`: transfer vs scratch on the embedded digits, no download."""

import datetime
import os


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="transfer vs scratch on handwritten digits (embedded data, no download)",
        description=(
            "Pretrain a backbone on digits 0-4, transfer it to digits 5-9 with a few labels "
            "per class, train the same target from scratch, and print the comparison."
        ),
    )
    parser.add_argument("--output", help="folder to write (default: runs/demo-TIMESTAMP)")
    parser.add_argument("--overwrite", action="store_true", help="allow a non-empty --output folder")
    parser.add_argument("--backbone", default="mobilenet_v3_small", help="architecture of all models")
    parser.add_argument("--labels-per-class", default="2,5", help="target labels per class, e.g. '2,5'")
    parser.add_argument("--draws", type=int, default=1, help="label draws to average per comparison")
    parser.add_argument("--source-epochs", type=int, default=15)
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps of each target run")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=0, help="Keras verbosity")
    parser.set_defaults(run=run)
    return parser


def run(args):
    try:
        per_class = tuple(int(k) for k in args.labels_per_class.split(","))
    except ValueError:
        raise ValueError(f"--labels-per-class takes integers like '5,20'. Received: {args.labels_per_class!r}") from None
    if not per_class or min(per_class) < 1 or max(per_class) > 80:
        raise ValueError(f"--labels-per-class must be between 1 and 80 (the training pool). Received: {per_class}")
    for flag, value in (("--draws", args.draws), ("--source-epochs", args.source_epochs), ("--steps", args.steps)):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1. Received: {value}")
    output = args.output or os.path.join("runs", f"demo-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    from tfl.demo import DemoSettings
    from tfl.demo import run_demo

    settings = DemoSettings(
        backbone=args.backbone,
        labels_per_class=per_class,
        draws=args.draws,
        source_epochs=args.source_epochs,
        steps=args.steps,
    )
    run_demo(output, settings, overwrite=args.overwrite, verbose=args.verbose)
    return 0
