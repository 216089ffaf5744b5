"""`tfl fewshot`: few-shot accuracy of a frozen backbone, by N-way K-shot episodes."""

import argparse

from tfl.cli import arguments


def shot_counts(text):
    """'1,5' -> (1, 5): whole numbers >= 1, joined by commas."""
    try:
        return tuple(arguments.positive_int(part.strip()) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers >= 1 joined by commas (e.g. 1,5), got {text!r}"
        ) from None


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "fewshot",
        help="few-shot accuracy by N-way K-shot episodes: prototypes, linear probe, fine-tuned head",
        description=(
            "Extract the frozen features of every labelled example of --data once, draw --episodes "
            "N-way K-shot episodes (--ways classes, --shots labelled examples and --queries query "
            "examples per class), and score three classifiers on every episode's queries: the nearest "
            "class prototype (cosine), an L2 logistic regression on the support set, and a linear head "
            "initialised from the prototypes and fine-tuned on the support features (the backbone stays "
            "frozen). Prints mean accuracy ± the 95% interval (1.96 · std / √episodes) per method and "
            "shot count; with --output, writes fewshot.json. See docs/few_shot.md."
        ),
    )
    parser.add_argument("--data", required=True,
                        help="images: a folder of class folders, 'digits' or tfds:NAME; "
                        "text: a .csv/.tsv/.jsonl file, 'tweets' or tfds:NAME")
    parser.add_argument("--backbone", help="images: backbone name, see `tfl backbones`")
    parser.add_argument("--weights", type=arguments.weights, default="imagenet",
                        help=f"images: {arguments.WEIGHTS_CHOICES} (imagenet)")
    parser.add_argument("--image-size", type=arguments.image_size, help="images: N or HxW (224)")
    parser.add_argument("--encoder", help="text: encoder name (all_minilm_l6_v2), see `tfl backbones --text`")
    parser.add_argument("--sequence-length", type=arguments.positive_int, default=128,
                        help="text: tokens per example (128)")
    parser.add_argument("--text-column", help="text: the column holding the text (default: text)")
    parser.add_argument("--label-column", help="text: the column holding the label (default: label)")
    parser.add_argument("--text-pair-column", help="text: the column holding a second text (sentence pairs)")
    group = parser.add_argument_group("episodes")
    group.add_argument("--ways", type=arguments.positive_int, default=5, help="classes per episode (5)")
    group.add_argument("--shots", type=shot_counts, default=(1, 5),
                       help="support examples per class, one or several joined by commas (1,5)")
    group.add_argument("--queries", type=arguments.positive_int, default=15,
                       help="query examples per class and episode (15)")
    group.add_argument("--episodes", type=arguments.positive_int, default=600,
                       help="episodes per shot count (600)")
    group.add_argument("--methods", default="prototypes,linear_probe,fine_tune",
                       help="comma-separated: prototypes, linear_probe, fine_tune (all three)")
    group.add_argument("--seed", type=int, default=0, help="seed of the episodes and of random weights (0)")
    parser.add_argument("--batch-size", type=arguments.positive_int, default=32, help="extraction batch (32)")
    parser.add_argument("--output", help="folder to write fewshot.json to")
    parser.set_defaults(run=run)
    return parser


def run(args):
    import os

    from tfl.few_shot import FEW_SHOT_FILE
    from tfl.few_shot import evaluate_few_shot

    weights = arguments.weights_value(args.weights)
    result = evaluate_few_shot(
        args.data,
        backbone=args.backbone,
        weights=weights,
        image_size=args.image_size,
        encoder=args.encoder,
        sequence_length=args.sequence_length,
        text_column=args.text_column,
        label_column=args.label_column,
        text_pair_column=args.text_pair_column,
        ways=args.ways,
        shots=args.shots,
        queries=args.queries,
        episodes=args.episodes,
        seed=args.seed,
        methods=[m.strip() for m in args.methods.split(",") if m.strip()],
        batch_size=args.batch_size,
        output=args.output,
    )
    settings = result.settings
    model = settings.get("backbone") or settings.get("encoder")
    print(f"{args.ways}-way episodes on {settings['examples']} examples of {settings['classes']} classes, "
          f"{model} features; {args.episodes} episodes per shot count, {args.queries} queries per class; "
          f"mean accuracy % ± 95% interval\n")
    print(result.table())
    if args.output:
        print(f"\nWrote {os.path.join(args.output, FEW_SHOT_FILE)}")
    return 0
