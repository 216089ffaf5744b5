"""`tfl predict MODEL INPUTS...`: the top-k classes of each image file, or of each text
(and, for a multi-label model, the classes it predicts: every one at or above 0.5)."""

import json

from tfl.cli.arguments import add_trust_model_code
from tfl.cli.arguments import refuse_image_folders
from tfl.cli.evaluate import model_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help="top-k classes of image files or texts",
        description=(
            "Predict the classes of image files (image model) or of texts given as arguments "
            "(text model) with a model written by `tfl train`."
        ),
    )
    parser.add_argument("model", help="a .keras file, or a run folder holding model.keras")
    parser.add_argument("files", nargs="+", metavar="INPUT", help="image files (jpg, png, bmp, gif), or texts")
    parser.add_argument("--top-k", type=int, default=3, help="classes to show per image")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument(
        "--tta", action="store_true", help="images: average over each image and its left-right mirror image"
    )
    parser.add_argument(
        "--pairs", action="store_true",
        help="texts: read the INPUTs two at a time, each text followed by its second text, for a model "
        "trained on sentence pairs (--text-pair-column)",
    )
    add_trust_model_code(parser)
    parser.set_defaults(run=run)
    return parser


def run(args):
    from tfl.evaluate import THRESHOLD
    from tfl.model import load_model
    from tfl.prediction import predict

    if args.top_k < 1:
        raise ValueError(f"--top-k must be >= 1. Received: {args.top_k}")
    model = load_model(model_path(args.model), safe_mode=not args.trust_model_code)
    key = "text" if model.task == "text" else "file"
    if model.task != "text":
        refuse_image_folders("predict", args.model, args.files)
    inputs = _text_inputs(model, args)
    predictions = predict(model, inputs, top_k=args.top_k, tta=args.tta)
    shown = [list(i) for i in inputs] if args.pairs else inputs
    for path, ranked, labels in zip(shown, predictions.top_k, predictions.labels):
        top_k = [{"class": c, "probability": round(float(p), 6)} for c, p in ranked]
        if args.json:
            # A multi-label model predicts every class at or above the threshold, however many --top-k shows.
            print(json.dumps({key: path, **({"labels": labels} if model.multi_label else {}), "top_k": top_k}))
        elif model.multi_label:
            predicted = ", ".join(labels) if labels else f"none at or above {THRESHOLD}"
            print(f"{path}: labels {predicted}; top {len(ranked)}: " + ", ".join(f"{c} {p:.3f}" for c, p in ranked))
        else:
            print(f"{path}: " + ", ".join(f"{c} {p:.3f}" for c, p in ranked))
    return 0


def _text_inputs(model, args):
    """The INPUTs as the model reads them: pairs of consecutive texts with `--pairs`."""
    if model.text_pairs != args.pairs:
        if args.pairs:
            raise ValueError(
                f"--pairs is for a model trained on sentence pairs (--text-pair-column); {args.model} classifies "
                f"{'single texts' if model.task == 'text' else 'images'}. Leave --pairs out."
            )
        raise ValueError(
            f"{args.model} classifies sentence pairs (it was trained with --text-pair-column). Pass --pairs and "
            f"each text followed by its second text: tfl predict {args.model} --pairs TEXT TEXT_PAIR ..."
        )
    if not args.pairs:
        return args.files
    if len(args.files) % 2:
        raise ValueError(
            f"--pairs takes each text followed by its second text, an even number of INPUTs. Received "
            f"{len(args.files)}: {args.files[-1]!r} has no second text."
        )
    return list(zip(args.files[::2], args.files[1::2]))
