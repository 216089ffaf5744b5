"""`tfl backbones`: the registered image backbones (or, with --text, the text
encoders), their sizes and named stages."""

import json


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "backbones",
        help="list the backbones and their named stages (--text: the text encoders)",
        description=(
            "List every image backbone tfl can use, with its preprocessing, sizes and named "
            "stages; with --text, the BERT-family text encoders known by name."
        ),
    )
    parser.add_argument("--text", action="store_true", help="list the text encoders instead")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)
    return parser


def run(args):
    if args.text:
        return _run_text(args)
    from tfl.backbones import list_backbones

    rows = list_backbones()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<33}{'keras class':<38}{'preprocessing':<15}{'size':>5}{'min':>5}{'features':>9}  stages")
    for row in rows:
        print(
            f"{row['name']:<33}{_keras_call(row):<38}{row['preprocessing']:<15}{row['default_size']:>5}"
            f"{row['min_size']:>5}{row['feature_dim']:>9}  {', '.join(row['stages'])}"
        )
    return 0


def _keras_call(row):
    """`MobileNet(alpha=0.25)`: the Keras class with the arguments that pick the variant."""
    arguments = {k: v for k, v in row["keras_arguments"].items() if k != "include_preprocessing"}
    return row["keras_class"] + (f"({', '.join(f'{k}={v}' for k, v in arguments.items())})" if arguments else "")


def _run_text(args):
    from tfl.backbones.encoders import list_encoders

    rows = list_encoders()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<38}{'family':<12}{'params':>13}  description")
    for row in rows:
        params = f"{row['params']:,}" if row["params"] else "?"
        print(f"{row['name']:<38}{row['family']:<12}{params:>13}  {row['description'][:70]}")
    print(
        "\nAlso: a local KerasHub preset folder or Hugging Face checkpoint folder. Stages: "
        "embeddings, layer_0 ... layer_{n-1}, pooler."
    )
    return 0
