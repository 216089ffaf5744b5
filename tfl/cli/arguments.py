"""Argument types shared by subcommands."""

import argparse
import os
import sys

WEIGHTS_CHOICES = "imagenet, none, or a path to a weights file (.weights.h5, .h5 or .keras)"


def image_size(text):
    """'224' -> (224, 224); '240x320' -> (240, 320)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"expected N or HxW (e.g. 224 or 240x320), got {text!r}")
    return tuple(parts)


def refuse_image_folders(command, model, paths):
    """A folder among an image model's inputs: named, with how many images it holds and the
    shell's way to pass them (`tfl COMMAND MODEL FOLDER/*`), before any image is read."""
    from tfl.data import list_image_files

    for path in paths:
        if os.path.isdir(path):
            count = len(list_image_files(path))
            raise ValueError(
                f"{path} is a folder ({count} images in it); tfl {command} takes image files. Pass the images "
                f"in it, e.g. tfl {command} {model} {path.rstrip(os.sep)}/*"
            )


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def class_weight(text):
    """'balanced' -> 'balanced'; 'cat=2,dog=0.5' -> {'cat': 2.0, 'dog': 0.5}."""
    if text.strip() == "balanced":
        return "balanced"
    weights = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected 'balanced' or CLASS=WEIGHT pairs joined by commas (e.g. 'cat=2,dog=0.5'), got {text!r}"
            ) from None
    return weights


def augmentation(text):
    """'flip,rotation=0.1,zoom=0.1' -> {'flip': 'horizontal', 'rotation': 0.1, 'zoom': 0.1}."""
    result = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = item.partition("=")
        if key == "flip":
            result["flip"] = value or "horizontal"
        elif key in ("rotation", "zoom", "contrast"):
            try:
                result[key] = float(value or 0.1)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{key} needs a number, e.g. {key}=0.1; got {item!r}") from None
        else:
            raise argparse.ArgumentTypeError(
                f"unknown augmentation {key!r}; known: flip[=horizontal|vertical], rotation=F, zoom=F, contrast=F"
            )
    return result


def weights(text):
    """--weights: 'imagenet', 'none' (or 'null'), or the path of a file that exists."""
    if text.strip().lower() in ("imagenet", "none", "null") or os.path.isfile(text):
        return text
    found = "a folder" if os.path.isdir(text) else "no such file"
    raise argparse.ArgumentTypeError(f"expected {WEIGHTS_CHOICES}; got {text!r} ({found})")


def add_trust_model_code(parser):
    """--trust-model-code, for the subcommands that load a `.keras` file (`tfl.load_model(safe_mode=False)`)."""
    parser.add_argument(
        "--trust-model-code",
        action="store_true",
        help="load a .keras file that holds Python code (Lambda layers); only for files whose author you trust",
    )


def keras_verbosity(verbose):
    """The Keras `verbose` of a run: as given, else the progress bar on a terminal
    and one line per epoch (2) when the output goes to a file or a pipe, where
    the bar's control characters would be written as they are."""
    if verbose is not None:
        return verbose
    return 1 if sys.stdout.isatty() else 2


def weights_value(text):
    """The `--weights` flag as `model.weights`: "none" or "null" (any case) is
    None (random weights); anything else ("imagenet", a file) is kept."""
    return None if text.lower() in ("none", "null") else text
