"""`tfl backbones`: the registered backbones, their sizes and named stages."""

import json


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "backbones",
        help="list the backbones and their named stages",
        description="List every backbone tfl can use, with its preprocessing, sizes and named stages.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)
    return parser


def run(args):
    from tfl.backbones import list_backbones

    rows = list_backbones()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<22}{'keras class':<20}{'preprocessing':<15}{'size':>5}{'min':>5}{'features':>9}  stages")
    for row in rows:
        print(
            f"{row['name']:<22}{row['keras_class']:<20}{row['preprocessing']:<15}{row['default_size']:>5}"
            f"{row['min_size']:>5}{row['feature_dim']:>9}  {', '.join(row['stages'])}"
        )
    return 0
