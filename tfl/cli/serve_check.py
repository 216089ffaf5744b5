"""`tfl serve-check saved_models/NAME`: load an export in a TensorFlow-only process and time it."""

import json


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "serve-check",
        help="load an export as TF Serving would, send its example requests, time them",
        description=(
            "Load a version of an export (default: the highest) in a fresh Python process that "
            "imports TensorFlow only (and tensorflow_text for a text model), never tfl or KerasHub; "
            "send it every request body in requests/, converted as TF Serving converts REST JSON; "
            "print the answers and the median latency at batch sizes 1 and 8."
        ),
    )
    parser.add_argument("model_dir", metavar="EXPORT", help="the export's folder, BASE/NAME, e.g. saved_models/flowers")
    parser.add_argument("--version", type=int, help="the version to check (default: the highest)")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.set_defaults(run=run)
    return parser


def run(args):
    import sys

    from tfl.export import ServeCheckError
    from tfl.export import serve_check

    try:
        report = serve_check(args.model_dir, args.version)
    except ServeCheckError as error:
        print(f"tfl serve-check: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print_report(report)
    return 0


def print_report(report):
    modules = f"TensorFlow {report['tensorflow_version']}"
    if report["tensorflow_text"]:
        modules += " and tensorflow_text"
    imported = ", ".join(report["imported"]) or "neither tfl nor KerasHub"
    print(f"{report['path']}: loaded in {report['load_seconds']:.2f} s by a fresh process ({modules}; imported {imported})")
    if report["request_bodies"] != "requests/":
        print(f"sent {report['request_bodies']} (requests/ describes the highest version)")
    for request in report["requests"]:
        print(f"{request['signature_name']} ({request['file']}):")
        for i, prediction in enumerate(request["predictions"]):
            ranked = ", ".join(f"{c} {s:.3f}" for c, s in zip(prediction["class_names"], prediction["scores"]))
            print(f"  [{i}] {ranked}")
        latency = ", ".join(f"batch {size} {ms:.1f} ms" for size, ms in request["latency_ms"].items())
        print(f"  latency (median): {latency}")
