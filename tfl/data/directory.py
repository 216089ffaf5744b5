"""Images in a folder with one sub-folder per class."""

import dataclasses
import logging
import os

import numpy as np
import tensorflow as tf

from tfl.config.data_config import check_resize
from tfl.data.image_data import ImageData
from tfl.data.image_files import IMAGE_EXTENSIONS
from tfl.data.image_files import describe_bad_files
from tfl.data.image_files import find_bad_files
from tfl.data.image_files import has_image_extension
from tfl.data.image_files import is_ignored
from tfl.data.image_files import list_files
from tfl.data.pipeline import build_pipeline
from tfl.data.pipeline import check_batch_size
from tfl.data.pipeline import load_image_file
from tfl.data.pipeline import normalize_image_size
from tfl.data.split import check_validation_split
from tfl.data.split import stratified_split

logger = logging.getLogger("tfl")


@dataclasses.dataclass(frozen=True)
class _Folder:
    class_names: tuple[str, ...]
    paths: list[str]
    labels: np.ndarray
    skipped: list[str]


def from_directory(
    path,
    *,
    image_size,
    resize="crop",
    batch_size=32,
    validation_split=0.2,
    validation_path=None,
    seed=1337,
    cache=True,
    skip_bad_files=False,
):
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
        image_size: `(height, width)` the images are resized to (bilinear), or
            one int for a square.
        resize: "crop" (the default) centre-crops each image to the aspect
            ratio of `image_size` before resizing; "stretch" resizes the whole
            image. Use the model's `resize`.
        batch_size: examples per batch.
        validation_split: fraction of each class held out, when there is no
            `validation_path`. The split is stratified, seeded and deterministic.
        validation_path: an optional folder of held-out images with the same
            class folders as `path`.
        seed: seed of the split and of the shuffle.
        cache: keep the decoded, resized images (uint8) in memory.
        skip_bad_files: skip unreadable files instead of raising an error.

    Returns:
        An `ImageData`.

    Examples:

    >>> data = from_directory("flowers/", image_size=(224, 224), batch_size=16)
    >>> data.class_names
    ('daisy', 'roses', 'tulips')
    """
    image_size = normalize_image_size(image_size)
    check_resize(resize)
    check_batch_size(batch_size)
    if validation_path is None:
        check_validation_split(validation_split)
    train = _scan(path, skip_bad_files, "path")
    skipped = list(train.skipped)
    if validation_path is None:
        train_index, held_out_index = stratified_split(train.labels, validation_split, seed)
        held_out = _Folder(
            train.class_names,
            [train.paths[i] for i in held_out_index],
            train.labels[held_out_index],
            [],
        )
        train = dataclasses.replace(
            train, paths=[train.paths[i] for i in train_index], labels=train.labels[train_index]
        )
        _warn_single_image_classes(train, held_out)
    else:
        held_out = _scan(validation_path, skip_bad_files, "validation_path")
        skipped.extend(held_out.skipped)
        _check_same_classes(train, held_out, path, validation_path)
    if not held_out.paths:
        raise ValueError(
            f"No image is left for validation in {path}: every class has a single image. "
            "Add images, or pass validation_path with held-out images."
        )

    def pipeline(folder, shuffle):
        pairs = tf.data.Dataset.from_tensor_slices((folder.paths, folder.labels))
        return build_pipeline(
            pairs,
            lambda p: load_image_file(p, image_size, resize),
            num_examples=len(folder.paths),
            batch_size=batch_size,
            seed=seed,
            cache=cache,
            shuffle=shuffle,
        )

    return ImageData(
        train=pipeline(train, shuffle=True),
        validation=pipeline(held_out, shuffle=False),
        class_names=train.class_names,
        num_train=len(train.paths),
        num_validation=len(held_out.paths),
        image_size=image_size,
        multi_label=False,
        validation_labels=held_out.labels,
        skipped_files=tuple(skipped),
    )


def from_directory_for_evaluation(
    path, *, image_size, class_names, resize="crop", batch_size=32, skip_bad_files=False
):
    """Every image of a folder of class folders, labelled in a model's class order.

    For evaluating a trained model on a test folder: nothing is split off, and
    label `i` means `class_names[i]`, the model's class, whatever folders the
    test folder holds. A class the model does not know is an error.

    Args:
        path: the folder of class folders.
        image_size: `(height, width)` the images are resized to, or one int.
        class_names: the model's class names, in its output order.
        resize: "crop" or "stretch", as the model was trained (its `resize`).
        batch_size: examples per batch.
        skip_bad_files: skip unreadable files instead of raising an error.

    Returns:
        `(dataset, labels)`: batches in a fixed order, and their labels (numpy).
    """
    image_size = normalize_image_size(image_size)
    check_resize(resize)
    check_batch_size(batch_size)
    folder = _scan(path, skip_bad_files, "path", known_classes=tuple(class_names))
    pairs = tf.data.Dataset.from_tensor_slices((folder.paths, folder.labels))
    dataset = build_pipeline(
        pairs,
        lambda p: load_image_file(p, image_size, resize),
        num_examples=len(folder.paths),
        batch_size=batch_size,
        seed=0,
        cache=False,
        shuffle=False,
    )
    return dataset, folder.labels


def _scan(path, skip_bad_files, argument, known_classes=None):
    """Finds the class folders and image files below `path` and checks them.

    With `known_classes`, the folders must be among them and label `i` means
    `known_classes[i]`; otherwise the sorted folders are the classes.
    """
    root = os.fspath(path)
    if not os.path.exists(root):
        raise FileNotFoundError(
            f"Image folder not found: {root}. Check {argument}={root!r}; it should be a "
            "folder with one sub-folder of images per class."
        )
    if not os.path.isdir(root):
        raise ValueError(
            f"{argument}={root!r} is a file, not a folder. Give a folder with one "
            "sub-folder of images per class, e.g. flowers/roses/1.jpg, flowers/tulips/2.jpg."
        )
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
    elif len(class_names) < 2:
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
    files = {}
    for name in class_names:
        class_dir = os.path.join(root, name)
        files[name] = list_files(class_dir)
        if not any(has_image_extension(p) for p in files[name]):
            raise ValueError(
                f"Class folder {name!r} has no images ({', '.join(IMAGE_EXTENSIONS)}). "
                f"Add images or remove the folder: {class_dir}"
            )
    every_file = [p for name in class_names for p in files[name]]
    bad = find_bad_files(every_file)
    if bad and not skip_bad_files:
        raise ValueError(
            f"{len(bad)} of {len(every_file)} files in {root} are not readable images:\n"
            f"{describe_bad_files(bad, root)}\n"
            "Fix or delete them, or pass skip_bad_files=True (data.skip_bad_files: true in a "
            "config, --skip-bad-files with `tfl train`) to skip them."
        )
    if bad:
        logger.warning(
            "Skipped %d bad files of %d in %s:\n%s",
            len(bad),
            len(every_file),
            root,
            describe_bad_files(bad, root, limit=5),
        )
    paths, labels = [], []
    label_of = {name: i for i, name in enumerate(known_classes or class_names)}
    for name in class_names:
        label = label_of[name]
        kept = [p for p in files[name] if p not in bad]
        if not kept:
            raise ValueError(
                f"Class folder {name!r} has no readable images after skipping bad files. "
                f"Add readable images or remove the folder: {os.path.join(root, name)}"
            )
        paths.extend(kept)
        labels.extend([label] * len(kept))
    return _Folder(known_classes or class_names, paths, np.array(labels, dtype=np.int32), list(bad))


def _check_same_classes(train, held_out, path, validation_path):
    if train.class_names == held_out.class_names:
        return
    missing = sorted(set(train.class_names) - set(held_out.class_names))
    extra = sorted(set(held_out.class_names) - set(train.class_names))
    parts = []
    if missing:
        parts.append(f"missing from validation_path: {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"only in validation_path: {', '.join(map(repr, extra))}")
    raise ValueError(
        f"The class folders of validation_path ({validation_path}) differ from those of "
        f"path ({path}): {'; '.join(parts)}. Give both folders the same class folders."
    )


def _warn_single_image_classes(train, held_out):
    in_validation = set(held_out.labels.tolist())
    alone = [n for i, n in enumerate(train.class_names) if i not in in_validation]
    if alone:
        logger.warning(
            "Classes with a single image are used for training only, not validation: %s",
            ", ".join(alone),
        )

