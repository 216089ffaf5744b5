"""`tfl rank`: score candidate backbones on the data before fine-tuning any."""

from tfl.cli import arguments


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "rank",
        help="rank candidate backbones by LogME and a cross-validated linear probe, with their cost",
        description=(
            "Extract each candidate's frozen features of the training examples once and score them "
            "without fine-tuning: LogME (You et al., ICML 2021) and the mean accuracy of a linear probe "
            "under stratified k-fold cross-validation, beside parameters, latency per example on this "
            "machine and extraction seconds. Prints a table sorted by score and a recommendation; with "
            "--output, writes rank.json and rank.png (score against cost). See docs/model_selection.md."
        ),
    )
    parser.add_argument("--data", required=True,
                        help="images: a folder of class folders, 'digits' or tfds:NAME; "
                        "text: a .csv/.tsv/.jsonl file, 'tweets' or tfds:NAME")
    parser.add_argument(
        "--candidates",
        help="comma-separated BACKBONE[:WEIGHTS], WEIGHTS imagenet (the default), none or a weights file, "
        "e.g. mobilenet_025:imagenet,mobilenet_025:none; default: every registered backbone with "
        "ImageNet weights within the budget (--max-params, --max-latency-ms); text: encoder names "
        "as --encoder takes them, e.g. all_minilm_l6_v2",
    )
    parser.add_argument("--image-size", type=arguments.image_size, help="images: N or HxW for every candidate (224)")
    parser.add_argument("--sequence-length", type=arguments.positive_int, default=128,
                        help="text: tokens per example (128)")
    parser.add_argument("--max-params", type=arguments.positive_int, help="skip candidates with more parameters")
    parser.add_argument("--max-latency-ms", type=float, help="skip candidates slower per example on this machine")
    parser.add_argument("--max-examples", type=arguments.positive_int, default=1000,
                        help="score at most this many training examples (1000)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds of the probe (5)")
    parser.add_argument("--tolerance", type=float, default=0.01,
                        help="probe accuracy a cheaper candidate may give up and be recommended (0.01: 1 point)")
    parser.add_argument("--sort-by", choices=("logme", "probe_accuracy"), default="logme",
                        help="the order of the table and of rank.json (logme)")
    parser.add_argument("--batch-size", type=arguments.positive_int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="the seed of the probe's folds")
    parser.add_argument("--output", help="folder to write rank.json and rank.png to")
    parser.add_argument("--json", action="store_true", help="print rank.json's content instead of the table")
    parser.set_defaults(run=run)
    return parser


def run(args):
    import json
    import os

    from tfl.io import to_json
    from tfl.select import rank

    result = rank(
        args.candidates,
        args.data,
        image_size=args.image_size,
        sequence_length=args.sequence_length,
        max_examples=args.max_examples,
        folds=args.folds,
        max_params=args.max_params,
        max_latency_ms=args.max_latency_ms,
        tolerance=args.tolerance,
        sort_by=args.sort_by,
        batch_size=args.batch_size,
        seed=args.seed,
        output=args.output,
    )
    if args.json:
        print(json.dumps(to_json(result.to_dict()), indent=2))
        return 0
    size = "" if result.image_size is None else f" at {result.image_size[0]}x{result.image_size[1]}"
    print(f"{len(result.candidates)} candidates on {result.examples} training examples{size}, "
          f"{result.folds}-fold probe; {result.seconds:.1f} s\n")
    print(result.table())
    if args.output:
        print(f"\nWrote {os.path.join(args.output, 'rank.json')} and rank.png")
    return 0
