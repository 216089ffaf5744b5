"""`tfl evaluate MODEL DATA`: metrics of a trained model on held-out data."""

import json
import os


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained model on a folder, tfds:NAME or digits",
        description=(
            "Evaluate a model written by `tfl train`. DATA is a folder of class folders "
            "(every image is used), tfds:NAME (its test split), or 'digits' (the held-out split)."
        ),
    )
    parser.add_argument("model", help="a .keras file, or a run folder holding model.keras")
    parser.add_argument("data", help="folder of class folders, tfds:NAME, or 'digits'")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tfds-split", default="test", help="the TFDS split to evaluate on")
    parser.add_argument("--tfds-data-dir", help="the TFDS data folder")
    parser.add_argument("--skip-bad-files", action="store_true", help="skip unreadable images")
    parser.add_argument("--output", help="write the report as JSON to this file")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.set_defaults(run=run)
    return parser


def model_path(path):
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model at {path}. Give a .keras file or a run folder of `tfl train`.")
    return path


def evaluation_data(model, args):
    """(dataset, description) of DATA, labelled in the model's class order."""
    from tfl.config import DataConfig
    from tfl.data import from_directory_for_evaluation
    from tfl.data import load_data

    if args.data == "digits" or args.data.startswith("tfds:"):
        config = DataConfig(
            source=args.data,
            batch_size=args.batch_size,
            tfds_data_dir=args.tfds_data_dir,
            tfds_validation_split=args.tfds_split,
        )
        data = load_data(config, model.image_size)
        if list(data.class_names) != list(model.class_names):
            raise ValueError(
                f"{args.data} has classes {list(data.class_names)}, the model {model.class_names}. "
                "Evaluate on data with the model's classes."
            )
        return data.validation, f"{args.data} (held-out split)"
    dataset, _ = from_directory_for_evaluation(
        args.data,
        image_size=model.image_size,
        class_names=model.class_names,
        batch_size=args.batch_size,
        skip_bad_files=args.skip_bad_files,
    )
    return dataset, args.data


def run(args):
    from tfl.evaluate import evaluate_model
    from tfl.evaluate import to_json
    from tfl.evaluate import write_json
    from tfl.model import load_model

    model = load_model(model_path(args.model))
    dataset, description = evaluation_data(model, args)
    report = evaluate_model(model, dataset, model.class_names, multi_label=model.multi_label)
    report["evaluated_on"] = description
    if args.output:
        write_json(args.output, report)
    if args.json:
        print(json.dumps(to_json(report), indent=2))
        return 0
    print_summary(report)
    return 0


def print_summary(report):
    auc = report["auc_roc"]
    print(f"{report['evaluated_on']}: {report['num_examples']} examples")
    print(f"accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  "
          f"AUC-ROC {'n/a' if auc is None else f'{auc:.4f}'}")
    width = max(len(name) for name in report["class_names"])
    print(f"{'class':<{width}}  precision  recall  f1      support")
    for name, row in report["per_class"].items():
        print(f"{name:<{width}}  {row['precision']:.4f}     {row['recall']:.4f}  {row['f1']:.4f}  {row['support']}")
