"""`tfl explain MODEL INPUTS... --output DIR`: a heatmap over each image, or the texts' words shaded."""

import os

from tfl.cli.arguments import add_trust_model_code, refuse_image_folders
from tfl.cli.evaluate import model_path

OVERLAY_SUFFIX = ".png"
TEXT_PAGE = "explanations.html"
SUMMARY_FILE = "explanations.json"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "explain",
        help="heatmaps over images (Grad-CAM), word attributions for texts",
        description=(
            "Explain the predictions of a model written by `tfl train`: one PNG per image file with the "
            "Grad-CAM heatmap over the photo (image model), or one HTML page with each text's words shaded "
            f"by integrated gradients (text model); and {SUMMARY_FILE}. See docs/explain.md."
        ),
    )
    parser.add_argument("model", help="a .keras file, or a run folder holding model.keras")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files (jpg, png, bmp, gif), or texts")
    parser.add_argument("--output", required=True, help="folder to write the overlays (or the HTML page) into")
    parser.add_argument(
        "--method",
        help="images: grad_cam (default), grad_cam_plus_plus; texts: integrated_gradients (default), gradient_x_input",
    )
    parser.add_argument("--class-name", help="the class to explain (name or index); default: each input's predicted one")
    parser.add_argument("--layer", help="images: a stage (see `tfl backbones`) or backbone layer; default: the last")
    parser.add_argument("--steps", type=int, help="texts: integrated gradients' steps (default 32; 32-64)")
    parser.add_argument("--baseline", choices=("pad", "mask"), help="texts: the baseline token (default pad)")
    add_trust_model_code(parser)
    parser.set_defaults(run=run)
    return parser


def run(args):
    from tfl.attribution.grad_cam import UnknownLayerError
    from tfl.explanation import explain
    from tfl.io import write_json
    from tfl.model import load_model

    model = load_model(model_path(args.model), safe_mode=not args.trust_model_code)
    class_name = _class_name(model, args.class_name)
    _check_options(model, args)
    if model.task != "text":
        refuse_image_folders("explain", args.model, args.inputs)
    try:
        explanations = explain(model, args.inputs, method=args.method, class_name=class_name, layer=args.layer,
                               steps=32 if args.steps is None else args.steps,
                               baseline="pad" if args.baseline is None else args.baseline)
    except UnknownLayerError as error:
        raise ValueError(error.named("leave out --layer", f"--layer {args.layer}")) from None
    os.makedirs(args.output, exist_ok=True)
    if explanations.task == "image":
        rows = _write_overlays(args.output, explanations)
    else:
        rows = _write_page(args.output, explanations)
    write_json(os.path.join(args.output, SUMMARY_FILE), {
        "method": explanations.method,
        "target": explanations.target,
        "seconds": explanations.seconds,
        "inputs": rows,
    })
    for row in rows:
        print(f"{row['input']}: {row['explained']} {row['probability']:.3f} -> {row['file']}")
    print(f"wrote {os.path.join(args.output, SUMMARY_FILE)}")
    return 0


def _class_name(model, given):
    """--class-name as `explain` takes it: a class name, or an index into the model's classes."""
    if given is None or given in model.class_names:
        return given
    if given.isascii() and given.isdigit() and int(given) < len(model.class_names):
        return int(given)
    raise ValueError(
        f"Unknown class {given!r}. Known: {', '.join(model.class_names)} (or indices 0 to "
        f"{len(model.class_names) - 1}); leave out --class-name to explain each input's most probable class. "
        f"Received: --class-name {given}"
    )


def _check_options(model, args):
    """The options of the other kind of model refused, and --steps' range, naming the flags."""
    from tfl.attribution.token_attributions import MAX_STEPS
    from tfl.attribution.token_attributions import MIN_STEPS

    if model.task == "image":
        given = [flag for flag, value in (("--steps", args.steps), ("--baseline", args.baseline)) if value is not None]
        if given:
            raise ValueError(
                f"{' and '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to text models (integrated gradients); {args.model} is an image "
                f"model, explained by Grad-CAM, which takes neither. Leave out {' and '.join(given)}."
            )
    elif model.task != "text":
        return  # a fusion model: explain refuses it, naming what to explain instead
    elif args.layer is not None:
        raise ValueError(
            f"--layer applies to image models (Grad-CAM's feature map); {args.model} is a text model. "
            f"Leave out --layer. Received: --layer {args.layer}"
        )
    elif args.steps is not None and not MIN_STEPS <= args.steps <= MAX_STEPS:
        raise ValueError(
            f"--steps is integrated gradients' number of steps, a whole number from {MIN_STEPS} to {MAX_STEPS} "
            f"(32 to 64 are usual). Received: --steps {args.steps}"
        )


def _row(explanations, i, file):
    return {
        "input": explanations.inputs[i],
        "explained": explanations.explained[i],
        "probability": float(explanations.probabilities[i]),
        "predicted": explanations.predicted[i],
        "file": file,
    }


def _write_overlays(folder, explanations):
    import tensorflow as tf

    from tfl.attribution import write_overlay
    from tfl.data.image.pipeline import decode_image

    rows, used = [], set()
    for i, path in enumerate(explanations.inputs):
        name = _overlay_name(path, i, used)
        used.add(name)
        title = f"{explanations.explained[i]} {explanations.probabilities[i]:.2f} ({explanations.method})"
        if explanations.explained[i] != explanations.predicted[i]:
            title += f"\npredicted: {explanations.predicted[i]}"
        image = decode_image(tf.io.read_file(path)).numpy()
        file = write_overlay(os.path.join(folder, name), image, explanations.maps[i], title)
        rows.append(_row(explanations, i, file))
    return rows


def _overlay_name(path, index, used):
    """The overlay's file name: the image's own stem, or with the input's position (and a count) after it
    when an earlier input took that name, never one in `used` (an input may be named like another's suffix)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    candidates = [stem, f"{stem}_{index}", *(f"{stem}_{index}_{n}" for n in range(1, len(used) + 2))]
    return next(name for name in (c + OVERLAY_SUFFIX for c in candidates) if name not in used)


def _write_page(folder, explanations):
    from tfl.attribution import write_text_html

    page_rows, rows = [], []
    page = os.path.join(folder, TEXT_PAGE)
    for i in range(len(explanations.inputs)):
        gap = explanations.completeness_gaps[i]
        heading = (
            f"{explanations.explained[i]} {explanations.probabilities[i]:.3f} (predicted: {explanations.predicted[i]}); "
            f"{explanations.method.replace('_', ' ')}, score change {explanations.score_changes[i]:+.3f}"
            + (f", completeness gap {gap:.4f}" if explanations.method == "integrated_gradients" else "")
        )
        page_rows.append({"words": explanations.words[i], "attributions": explanations.attributions[i], "heading": heading})
        row = _row(explanations, i, page)
        row.update(
            words=explanations.words[i],
            attributions=[round(float(v), 6) for v in explanations.attributions[i]],
            completeness_gap=float(gap),
        )
        rows.append(row)
    write_text_html(page, page_rows, title=f"tfl explain: {explanations.method.replace('_', ' ')}")
    return rows
