"""`tfl demo`: transfer vs scratch on embedded digits and tweets, no download."""

import datetime
import os


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="transfer vs scratch on digits and on tweets (embedded data, no download)",
        description=(
            "Images: pretrain a backbone on digits 0-4, transfer it to digits 5-9 with a few "
            "labels per class, train the same target from scratch. Text: transfer the "
            "pretrained MiniLM encoder to tweet sentiment, against a word-embedding model "
            "trained from scratch. Prints both comparisons."
        ),
    )
    parser.add_argument("--output", help="folder to write (default: runs/demo-TIMESTAMP)")
    parser.add_argument("--overwrite", action="store_true", help="allow a non-empty --output folder")
    parser.add_argument("--part", choices=("all", "image", "text"), default="all", help="which demo to run")
    parser.add_argument("--backbone", default="mobilenet_v3_small", help="architecture of all models")
    parser.add_argument("--labels-per-class", default="2,5", help="target labels per class, e.g. '2,5'")
    parser.add_argument("--draws", type=int, default=1, help="label draws to average per comparison")
    parser.add_argument("--source-epochs", type=int, default=15)
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps of each target run")
    parser.add_argument(
        "--text-labels-per-class", default="8,32", help="text: labels per class besides all, e.g. '8,32'"
    )
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=0, help="Keras verbosity")
    parser.set_defaults(run=run)
    return parser


def _per_class(flag, text, largest):
    try:
        values = tuple(int(k) for k in text.split(","))
    except ValueError:
        raise ValueError(f"{flag} takes integers like '5,20'. Received: {text!r}") from None
    if not values or min(values) < 1 or max(values) > largest:
        raise ValueError(f"{flag} must be between 1 and {largest} (the training pool). Received: {values}")
    return values


def run(args):
    per_class = _per_class("--labels-per-class", args.labels_per_class, 80)
    text_per_class = _per_class("--text-labels-per-class", args.text_labels_per_class, 300)  # TextDemoSettings.pool_per_class
    for flag, value in (("--draws", args.draws), ("--source-epochs", args.source_epochs), ("--steps", args.steps)):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1. Received: {value}")
    output = args.output or os.path.join("runs", f"demo-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    from tfl.run_folder import removed_if_left_empty

    with removed_if_left_empty(output):  # a demo that fails before writing leaves no empty folder
        _run_parts(args, output, per_class, text_per_class)
    return 0


def _run_parts(args, output, per_class, text_per_class):
    from tfl.demo import DemoSettings
    from tfl.demo import TextDemoSettings
    from tfl.demo import run_demo
    from tfl.demo import run_text_demo
    from tfl.run_folder import prepare_output_dir

    prepare_output_dir(output, args.overwrite)  # fail before training anything
    if args.part in ("all", "image"):
        settings = DemoSettings(
            backbone=args.backbone,
            labels_per_class=per_class,
            draws=args.draws,
            source_epochs=args.source_epochs,
            steps=args.steps,
        )
        run_demo(os.path.join(output, "image"), settings, overwrite=args.overwrite, verbose=args.verbose)
    if args.part in ("all", "text"):
        print()
        settings = TextDemoSettings(labels_per_class=text_per_class)
        run_text_demo(os.path.join(output, "text"), settings, overwrite=args.overwrite, verbose=args.verbose)
