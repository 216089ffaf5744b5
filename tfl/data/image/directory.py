"""Images in a folder with one sub-folder per class."""

import dataclasses
import logging
import os

import numpy as np
import tensorflow as tf

from tfl.data.arguments import path_argument
from tfl.data.image.data import ImageData
from tfl.data.image.files import IMAGE_EXTENSIONS
from tfl.data.image.files import SKIP_BAD_FILES_HINT
from tfl.data.image.files import describe_bad_files
from tfl.data.image.files import find_bad_files
from tfl.data.image.files import has_image_extension
from tfl.data.image.files import is_ignored
from tfl.data.image.files import list_files
from tfl.data.image.options import ImageOptions
from tfl.data.image.pipeline import build_pipeline
from tfl.data.image.pipeline import load_image_file
from tfl.data.options import resolve_options
from tfl.data.split import stratified_split

logger = logging.getLogger("tfl")


@dataclasses.dataclass(frozen=True)
class _Folder:
    class_names: tuple[str, ...]
    paths: list[str]
    labels: np.ndarray
    skipped: list[str]


def from_directory(path, *, validation_path=None, options=None, **overrides):
    """Loads images from a folder with one sub-folder per class.

    Class names are the sorted names of the sub-folders; an image anywhere
    below a class folder (nested folders too) belongs to that class. Files
    ending in .jpg, .jpeg, .png, .bmp or .gif (any case) are read; hidden files
    and OS litter (Thumbs.db, desktop.ini) are ignored. Every file is checked,
    and fully decoded once, before the pipelines are built: empty, non-image,
    wrongly named and truncated files are an error naming them, or are skipped
    and logged with `skip_bad_files=True`.

    Args:
        path: the folder of class folders.
        validation_path: an optional folder of held-out images with the same
            class folders as `path`. Without it, `validation_split` of each
            class is held out (stratified, seeded, deterministic).
        options: an `ImageOptions`; None for the defaults.
        **overrides: fields of `ImageOptions` replacing those of `options`:
            `image_size` (required), `resize`, `batch_size`,
            `validation_split`, `seed`, `cache`, `skip_bad_files`.

    Returns:
        An `ImageData`.

    Examples:

    >>> data = from_directory("flowers/", image_size=(224, 224), batch_size=16)
    >>> data.class_names
    ('daisy', 'roses', 'tulips')
    """
    options = resolve_options(ImageOptions, options, overrides, "from_directory")
    train = _scan(path, options.skip_bad_files, "path")
    skipped = list(train.skipped)
    if validation_path is None:
        train, held_out = _split_folder(train, options)
    else:
        held_out = _scan(validation_path, options.skip_bad_files, "validation_path", held_out=True)
        skipped.extend(held_out.skipped)
        _check_same_classes(train, held_out, path, validation_path)
    if not held_out.paths:
        raise ValueError(
            f"No image is left for validation in {path}: every class has a single image. "
            "Add images, or pass validation_path with held-out images."
        )
    return ImageData(
        train=_pipeline(train, options, shuffle=True),
        validation=_pipeline(held_out, options, shuffle=False),
        class_names=train.class_names,
        num_train=len(train.paths),
        num_validation=len(held_out.paths),
        image_size=options.image_size,
        multi_label=False,
        validation_labels=held_out.labels,
        skipped_files=tuple(skipped),
    )


def from_directory_for_evaluation(path, *, class_names, options=None, **overrides):
    """Every image of a folder of class folders, labelled in a model's class order.

    For evaluating a trained model on a test folder: nothing is split off, and
    label `i` means `class_names[i]`, the model's class, whatever folders the
    test folder holds. A class the model does not know is an error.

    Args:
        path: the folder of class folders.
        class_names: the model's class names, in its output order.
        options: an `ImageOptions`; None for the defaults. Of its fields,
            `image_size` (required), `resize` (as the model was trained, its
            `resize`), `batch_size` and `skip_bad_files` are used: nothing is
            split, shuffled or cached.
        **overrides: fields of `ImageOptions` replacing those of `options`.

    Returns:
        An `ImageData` whose `validation` holds every image, in a fixed order,
        with its labels in `validation_labels`: pass `data.validation` to
        `model.predict` or `tfl.evaluate.evaluate_model(model,
        data.validation, data.class_names)`. Its `train` is empty
        (`num_train` 0): nothing here is for training.

    Examples:

    >>> data = from_directory_for_evaluation("test/", class_names=model.class_names,
    ...     image_size=model.image_size, resize=model.resize)
    >>> data.num_train, data.num_validation
    (0, 6)
    >>> model.predict(data.validation, verbose=0).shape
    (6, 2)
    """
    options = resolve_options(ImageOptions, options, overrides, "from_directory_for_evaluation")
    options = dataclasses.replace(options, seed=0, cache=False)
    folder = _scan(path, options.skip_bad_files, "evaluation_path", known_classes=tuple(class_names))
    dataset = _pipeline(folder, options, shuffle=False)
    return ImageData(
        train=dataset.take(0),
        validation=dataset,
        class_names=folder.class_names,
        num_train=0,
        num_validation=len(folder.paths),
        image_size=options.image_size,
        multi_label=False,
        validation_labels=folder.labels,
        skipped_files=tuple(folder.skipped),
    )


def labelled_files(path, *, skip_bad_files=False):
    """The image files of a folder of class folders and their labels, read as
    `from_directory` reads them (every file checked; nothing split off).

    Args:
        path: the folder of class folders.
        skip_bad_files: leave unreadable files out instead of failing.

    Returns:
        `(class_names, paths, labels)`: the sorted class folders, the image
        paths and an int32 array of their class ids.

    Examples:

    >>> class_names, paths, labels = labelled_files("flowers/")
    >>> class_names, len(paths), labels[:4].tolist()
    (('daisy', 'roses', 'tulips'), 9, [0, 0, 0, 1])
    """
    folder = _scan(path, skip_bad_files, "path")
    return folder.class_names, list(folder.paths), folder.labels


def _split_folder(folder, options):
    """`(train, held_out)`: `validation_split` of each class of `folder` held out."""
    train_index, held_out_index = stratified_split(
        folder.labels, options.validation_split, options.seed
    )
    held_out = _Folder(
        folder.class_names,
        [folder.paths[i] for i in held_out_index],
        folder.labels[held_out_index],
        [],
    )
    train = dataclasses.replace(
        folder, paths=[folder.paths[i] for i in train_index], labels=folder.labels[train_index]
    )
    _warn_single_image_classes(train, held_out)
    return train, held_out


def _pipeline(folder, options, shuffle):
    pairs = tf.data.Dataset.from_tensor_slices((folder.paths, folder.labels))
    return build_pipeline(
        pairs,
        lambda p: load_image_file(p, options.image_size, options.resize),
        num_examples=len(folder.paths),
        batch_size=options.batch_size,
        seed=options.seed,
        cache=options.cache,
        shuffle=shuffle,
        balanced_classes=len(folder.class_names) if shuffle and options.balanced_sampling else None,
    )


def _scan(path, skip_bad_files, argument, known_classes=None, held_out=False):
    """Finds the class folders and image files below `path` and checks them.

    With `known_classes`, the folders must be among them and label `i` means
    `known_classes[i]`; otherwise the sorted folders are the classes. A
    `held_out` folder may hold a single class folder here: whether its classes
    are the training folder's is `_check_same_classes`'s to say.
    """
    root = _check_folder(path, argument)
    class_names = _class_folders(root, known_classes, single_class_ok=held_out)
    files = {name: _class_files(root, name) for name in class_names}
    bad = _find_bad(root, [p for name in class_names for p in files[name]], skip_bad_files)
    paths, labels = [], []
    label_of = {name: i for i, name in enumerate(known_classes or class_names)}
    for name in class_names:
        kept = [p for p in files[name] if p not in bad]
        if not kept:
            raise ValueError(
                f"Class folder {name!r} has no readable images after skipping bad files. "
                f"Add readable images or remove the folder: {os.path.join(root, name)}"
            )
        paths.extend(kept)
        labels.extend([label_of[name]] * len(kept))
    return _Folder(known_classes or class_names, paths, np.array(labels, dtype=np.int32), list(bad))


def _check_folder(path, argument):
    """`path` as a string, once it is known to be a folder."""
    root = os.fspath(path)
    if not os.path.exists(root):
        raise FileNotFoundError(
            f"Image folder not found: {root}. Check {path_argument(argument, root)}; it should be a "
            "folder with one sub-folder of images per class."
        )
    if not os.path.isdir(root):
        raise ValueError(
            f"{path_argument(argument, root)} is a file, not a folder. Give a folder with one "
            "sub-folder of images per class, e.g. flowers/roses/1.jpg, flowers/tulips/2.jpg."
        )
    return root


def _class_folders(root, known_classes, single_class_ok=False):
    """The sorted class folders of `root`, checked against `known_classes` if given."""
    class_names = tuple(
        sorted(e.name for e in os.scandir(root) if e.is_dir() and not is_ignored(e.name))
    )
    if not class_names:
        loose = sum(has_image_extension(e.name) for e in os.scandir(root) if e.is_file())
        found = f" It holds {loose} image files directly." if loose else ""
        raise ValueError(
            f"No class folders in {root}.{found} Put the images of each class in their "
            f"own sub-folder: {os.path.join(root, 'CLASS_NAME', 'image.jpg')}"
        )
    if known_classes is not None:
        unknown = [name for name in class_names if name not in known_classes]
        if unknown:
            raise ValueError(
                f"Class folder {unknown[0]!r} in {root} is not a class of the model. "
                f"The model's classes: {', '.join(known_classes)}. Rename or remove the folder."
            )
    elif len(class_names) < 2 and not single_class_ok:
        raise ValueError(
            f"Found one class folder ({class_names[0]!r}) in {root}; a classifier needs "
            "at least 2 classes. Add a sub-folder of images for each other class."
        )
    loose = [e.name for e in os.scandir(root) if e.is_file() and has_image_extension(e.name)]
    if loose:
        logger.warning(
            "Ignored %d image files directly in %s (not in a class folder), e.g. %s",
            len(loose),
            root,
            min(loose),
        )
    return class_names


def _class_files(root, name):
    """Every file below class folder `name`; an error if none is an image."""
    class_dir = os.path.join(root, name)
    files = list_files(class_dir)
    if not any(has_image_extension(p) for p in files):
        raise ValueError(
            f"Class folder {name!r} has no images ({', '.join(IMAGE_EXTENSIONS)}). "
            f"Add images or remove the folder: {class_dir}"
        )
    return files


def _find_bad(root, every_file, skip_bad_files):
    """The unreadable files among `every_file`: an error, or logged with `skip_bad_files`."""
    bad = find_bad_files(every_file)
    if bad and not skip_bad_files:
        raise ValueError(
            f"{len(bad)} of {len(every_file)} files in {root} are not readable images:\n"
            f"{describe_bad_files(bad, root)}\n{SKIP_BAD_FILES_HINT}"
        )
    if bad:
        logger.warning(
            "Skipped %d bad files of %d in %s:\n%s",
            len(bad),
            len(every_file),
            root,
            describe_bad_files(bad, root, limit=5),
        )
    return bad


# How the two folders are named in an error: the loader is shared by Python
# (from_directory), config files (data:) and `tfl train`, so each is named all three ways.
_TRAINING_FOLDER = "path; data.source in a config, --data with `tfl train`"
_VALIDATION_FOLDER = "validation_path; data.validation_source in a config, --val-data with `tfl train`"


def _check_same_classes(train, held_out, path, validation_path):
    if train.class_names == held_out.class_names:
        return
    missing = sorted(set(train.class_names) - set(held_out.class_names))
    extra = sorted(set(held_out.class_names) - set(train.class_names))
    parts = []
    if missing:
        parts.append(f"missing from the validation folder: {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"only in the validation folder: {', '.join(map(repr, extra))}")
    raise ValueError(
        f"The class folders of the validation folder {validation_path} ({_VALIDATION_FOLDER}) differ from "
        f"those of the training folder {path} ({_TRAINING_FOLDER}): {'; '.join(parts)}. "
        "Give both folders the same class folders."
    )


def _warn_single_image_classes(train, held_out):
    in_validation = set(held_out.labels.tolist())
    alone = [n for i, n in enumerate(train.class_names) if i not in in_validation]
    if alone:
        logger.warning(
            "Classes with a single image are used for training only, not validation: %s",
            ", ".join(alone),
        )

