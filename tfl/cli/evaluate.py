"""`tfl evaluate MODEL DATA`: metrics of a trained model on held-out data."""

import json
import os

from tfl.cli.arguments import add_trust_model_code


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained model on a folder, a text file, tfds:NAME, digits or tweets",
        description=(
            "Evaluate a model written by `tfl train`. DATA for an image model is a folder of "
            "class folders (every image is used), tfds:NAME (its test split), or 'digits'; for "
            "a text model a .csv/.tsv/.jsonl file (every row is used), tfds:NAME, or 'tweets'. "
            "When DATA is the source the run trained on, its held-out split is used, as the "
            "run's config.yaml defines it (seed, split fraction), or its held-out data (--val-data) "
            "when it had some, so training examples are never scored."
        ),
    )
    parser.add_argument("model", help="a .keras file, or a run folder holding model.keras")
    parser.add_argument("data", help="folder, text file, tfds:NAME, 'digits' or 'tweets'")
    parser.add_argument("--text-column", help="text: the text column (default: the run's, else text)")
    parser.add_argument("--text-pair-column", help="text: the second text column (default: the run's)")
    parser.add_argument("--label-column", help="text: the label column (default: the run's, else label)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tfds-split", default="test", help="the TFDS split to evaluate on")
    parser.add_argument("--tfds-data-dir", help="the TFDS data folder")
    parser.add_argument("--skip-bad-files", action="store_true", help="skip unreadable images")
    parser.add_argument(
        "--output",
        help="write the report as JSON to this file, and interpretation.json and top_losses.png "
        "(the examples with the highest loss, the most confused classes, per-class F1) beside it",
    )
    parser.add_argument("--top-losses", type=int, default=9, help="how many top-loss examples to show")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument(
        "--tta", action="store_true", help="images: average over each image and its left-right mirror image"
    )
    add_trust_model_code(parser)
    parser.set_defaults(run=run)
    return parser


def model_path(path):
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model at {path}. Give a .keras file or a run folder of `tfl train`.")
    return path


def run_data_config(model_file):
    """The `DataConfig` of the run that wrote `model_file`, or None; its
    paths are the absolute ones the run recorded in its report.json (where
    they still exist), so the run's own data is recognised from any folder."""
    import json

    from tfl.config import Config
    from tfl.run_folder import with_data_paths

    folder = os.path.dirname(os.path.abspath(model_file))
    path = os.path.join(folder, "config.yaml")
    if not os.path.isfile(path):
        return None
    data = Config.from_yaml(path).data
    report = os.path.join(folder, "report.json")
    if os.path.isfile(report):
        with open(report, encoding="utf-8") as f:
            data = with_data_paths(data, json.load(f))
    return data


def _same_source(data, trained_on):
    if trained_on is None or trained_on.source is None:
        return False
    if data in ("digits", "tweets") or data.startswith("tfds:"):
        return data == trained_on.source
    return os.path.realpath(data) == os.path.realpath(trained_on.source)


def evaluation_data(model, args, trained_on=None):
    """(dataset, description, texts) of DATA, labelled in the model's class order.

    `trained_on` is the run's `DataConfig`: when DATA is its source, the
    run's own held-out split is used. `texts` is a `TextData` whose
    `validation_texts` are the dataset's texts, or None for images.
    """
    import dataclasses

    from tfl.config import DataConfig
    from tfl.data import from_directory_for_evaluation
    from tfl.data import load_data

    if model.task == "text":
        return _text_evaluation_data(model, args, trained_on)
    if model.task != "image":
        raise ValueError(
            f"tfl evaluate reads a folder of images (image models) or a text file (text models); "
            f"{model.name!r} is a fusion model of image and text branches (task {model.task!r}): each example is "
            "an image and a text together. Score it in Python on batches of its input dict and labels: "
            "tfl.evaluate.evaluate_held_out(model, dataset)."
        )
    same = _same_source(args.data, trained_on)
    if same or args.data == "digits" or args.data.startswith("tfds:"):
        if same:  # the run's split, with --skip-bad-files honoured as for any other folder
            skip = trained_on.skip_bad_files or args.skip_bad_files
            config = dataclasses.replace(trained_on, batch_size=args.batch_size, skip_bad_files=skip)
        else:
            config = DataConfig(
                source=args.data,
                batch_size=args.batch_size,
                tfds_data_dir=args.tfds_data_dir,
                tfds_validation_split=args.tfds_split,
            )
        data = load_data(config, model.image_size, model.resize)
        return _in_model_order(data, model, args.data), _held_out_description(args.data, trained_on if same else None), None
    data = from_directory_for_evaluation(
        args.data,
        image_size=model.image_size,
        class_names=model.class_names,
        resize=model.resize,
        batch_size=args.batch_size,
        skip_bad_files=args.skip_bad_files,
    )
    return data.validation, args.data, None


def _held_out_description(source, trained_on=None):
    """What was scored: the held-out split of `source`, or, when `source` is
    the data of the run (`trained_on`, its `DataConfig`), the run's own
    held-out data: its split of `source`, or its held-out folder or file
    (`--val-data`), which the description names instead of `source`."""
    if trained_on is None:
        return f"{source} (held-out split)"
    if trained_on.validation_source is None:
        return f"{source} (the run's held-out split)"
    return f"{trained_on.validation_source} (the run's held-out data, --val-data; it trained on {source})"


def _in_model_order(data, model, source):
    """The held-out dataset of `data` with its labels as the model's class ids.

    `data` may hold a subset of the model's classes, in any order (a test file
    without rows of one class): its labels are mapped by class name. A class
    the model does not have is an error that names it.
    """
    import tensorflow as tf

    names, model_names = list(data.class_names), list(model.class_names)
    if names == model_names:
        return data.validation
    unknown = [name for name in names if name not in model_names]
    if unknown:
        raise ValueError(
            f"{source} has classes the model does not know: {unknown}. The model's classes are "
            f"{model_names}. Evaluate on data labelled with the model's classes (some of them is fine)."
        )
    ids = [model_names.index(name) for name in names]
    if getattr(data, "multi_label", False):  # multi-hot columns, moved to the model's columns
        moves = tf.one_hot(ids, len(model_names))
        return data.validation.map(lambda x, y: (x, tf.matmul(tf.cast(y, tf.float32), moves)))
    lookup = tf.constant(ids, tf.int32)
    return data.validation.map(lambda x, y: (x, tf.gather(lookup, tf.cast(y, tf.int32))))


def _text_evaluation_data(model, args, trained_on):
    import dataclasses

    from tfl.config import DataConfig
    from tfl.data import from_text_file_for_evaluation
    from tfl.data import load_text_data

    same = _same_source(args.data, trained_on)
    columns = {}
    for key in ("text_column", "text_pair_column", "label_column"):
        value = getattr(args, key) or (getattr(trained_on, key) if trained_on is not None else None)
        if value is not None:
            columns[key] = value
    file = not (args.data == "tweets" or args.data.startswith("tfds:"))
    if file and trained_on is not None and trained_on.label_separator is not None:
        columns["label_separator"] = trained_on.label_separator  # a multi-label run's cells, split alike
    if file and not same:  # every row of another file, labelled by class name
        data = from_text_file_for_evaluation(
            args.data,
            class_names=model.class_names,
            multi_label=model.multi_label,
            preprocessor=model.preprocessor,
            batch_size=args.batch_size,
            skip_bad_rows=args.skip_bad_files,
            **columns,
        )
        return data.validation, args.data, data
    if same:
        skip = trained_on.skip_bad_files or args.skip_bad_files
        config = dataclasses.replace(trained_on, batch_size=args.batch_size, skip_bad_files=skip, **columns)
    else:
        config = DataConfig(
            source=args.data,
            batch_size=args.batch_size,
            tfds_data_dir=args.tfds_data_dir,
            tfds_validation_split=args.tfds_split,
            skip_bad_files=args.skip_bad_files,
            **columns,
        )
    data = load_text_data(config, model.preprocessor)
    dataset = _in_model_order(data, model, args.data)
    description = _held_out_description(args.data, trained_on if same else None)
    return dataset, description, data


def run(args):
    from tfl.evaluate import evaluate_held_out
    from tfl.evaluate import to_json
    from tfl.evaluate import write_held_out
    from tfl.evaluate import write_json
    from tfl.explanation import heatmap_function
    from tfl.model import load_model

    if args.top_losses < 1:
        raise ValueError(f"--top-losses must be 1 or more. Received: --top-losses {args.top_losses}")
    path = model_path(args.model)
    model = load_model(path, safe_mode=not args.trust_model_code)
    dataset, description, text_data = evaluation_data(model, args, run_data_config(path))
    evaluation = evaluate_held_out(model, dataset, top_losses=args.top_losses, tta=args.tta)
    report = dict(evaluation.report, evaluated_on=description, **({"tta": "flip"} if args.tta else {}))
    written = []
    if args.output:
        write_json(args.output, report)
        folder = os.path.dirname(os.path.abspath(args.output))
        texts = {} if text_data is None else {
            "texts": text_data.validation_texts, "text_pairs": text_data.validation_text_pairs
        }
        names = write_held_out(folder, evaluation, dataset, heatmaps=heatmap_function(model), **texts)
        written = [os.path.join(folder, name) for name in names]
    if args.json:
        print(json.dumps(to_json(report), indent=2))
        return 0
    print_summary(report, evaluation.interpretation)
    for file in written:
        print(f"wrote {file}")
    return 0


def print_summary(report, interpretation=None):
    auc = report["auc_roc"]
    print(f"{report['evaluated_on']}: {report['num_examples']} examples")
    print(f"accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  "
          f"AUC-ROC {'n/a' if auc is None else f'{auc:.4f}'}")
    width = max(len(name) for name in report["class_names"])
    print(f"{'class':<{width}}  precision  recall  f1      support")
    for name, row in report["per_class"].items():
        print(f"{name:<{width}}  {row['precision']:.4f}     {row['recall']:.4f}  {row['f1']:.4f}  {row['support']}")
    if interpretation is not None and interpretation["most_confused"]:
        pairs = interpretation["most_confused"][:3]
        print("most confused (actual -> predicted): " + ", ".join(
            f"{p['actual']} -> {p['predicted']} ({p['count']})" for p in pairs))
