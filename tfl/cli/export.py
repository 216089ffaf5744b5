"""`tfl export RUN --name NAME`: a trained model as a versioned SavedModel for TF Serving."""

import os

from tfl.cli.arguments import add_trust_model_code
from tfl.cli.evaluate import model_path

_MB = 1e6


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "export",
        help="export a trained model for TF Serving (saved_models/NAME/VERSION)",
        description=(
            "Export a model written by `tfl train` as a SavedModel for TF Serving, in "
            "BASE/NAME/VERSION, with signatures that take encoded images (or pixels) or raw "
            "text and return probabilities and the top-k class names. Beside the versions it "
            "writes models.config, README.md (the docker and curl commands) and requests/*.json "
            "(example REST request bodies). Versions are never overwritten."
        ),
    )
    parser.add_argument("model", metavar="RUN", help="a run folder of `tfl train` (holding model.keras), or a .keras file")
    parser.add_argument("--name", required=True, help="the model's name in TF Serving: letters, digits, '.', '_', '-'")
    parser.add_argument("--base", default="saved_models", help="TF Serving's base folder of all models (default: saved_models)")
    parser.add_argument("--version", type=int, help="the version number (default: the next free one)")
    parser.add_argument("--top-k", type=int, default=5, help="how many classes the outputs rank (default: 5)")
    add_trust_model_code(parser)
    parser.set_defaults(run=run)
    return parser


def run(args):
    from tfl.export import check_export
    from tfl.export import export_model
    from tfl.export import read_signatures
    from tfl.model import load_model

    options = {"base": args.base, "version": args.version, "top_k": args.top_k}
    model_dir = check_export(args.name, **options)  # what export_model refuses, refused before the model loads
    path = model_path(args.model)

    model = load_model(path, safe_mode=not args.trust_model_code)
    result = export_model(model, args.name, **options)
    files = result.files
    signatures = read_signatures(result.path)

    share = 100 * result.size_bytes / result.weights_bytes if result.weights_bytes else float("nan")
    print(f"Exported {path} to {result.path} (version {result.version}) in {result.seconds:.1f} s")
    print(f"size {result.size_bytes / _MB:.2f} MB, weights {result.weights_bytes / _MB:.2f} MB ({share:.0f}% of the weights)")
    print("signatures:")
    for signature in signatures.values():
        inputs = ", ".join(f"{name}: {info.describe()}" for name, info in signature.inputs.items())
        outputs = ", ".join(signature.outputs)
        print(f"  {signature.name}({inputs}) -> {outputs}")
    print(f"wrote {files.readme}, {files.config}, {os.path.join(model_dir, 'requests')}/")
    print("serve it with:")
    print(f"  {files.docker_command}")
    print(f"check it without Docker: tfl serve-check {model_dir}")
    return 0
