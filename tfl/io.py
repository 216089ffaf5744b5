"""Atomic writes: every file and folder tfl makes appears whole or not at all.

Each writer fills a hidden temporary name beside the target (a file
`.<name>.<random>.tmp`, a folder `.partial-<name>-<random>`), flushes it to
disk, and renames it into place in one step; the rename itself is then made
durable. A crash or kill at any moment leaves the old file (or no folder) or
the new one, never a partial one; on an error the temporary name is removed
and the target is untouched. Missing parent folders are created.

This module is shared by every folder of `tfl` (it imports no other part of
`tfl`), like `tfl.serialization`.
"""

import contextlib
import json
import math
import os
import shutil
import time
import uuid

import numpy as np

# write_folder: the temporary folder's name starts with this; TF Serving
# ignores such entries of a base folder, and `remove_stale_partials` cleans them.
PARTIAL_PREFIX = ".partial-"


def write_atomically(path, write):
    """Writes a file through `write(file)`, so that a crash leaves the old one or the new one.

    `write(file)` fills a new temporary binary file in the same folder, which
    is fsynced and renamed over `path` with `os.replace` (`save_to_path`);
    the rename itself is made durable. The new file has the umask's
    permissions.

    Args:
        path: where to write, a string or path-like.
        write: a function of a binary file object open for writing.

    Returns:
        `path`, as given.

    Examples:

    >>> write_atomically("out/weights.npz", lambda file: np.savez(file, w=np.ones(3)))
    'out/weights.npz'
    """

    def fill(temporary):
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as file:
            write(file)

    return save_to_path(path, fill)


def write_bytes(path, data):
    """Writes `data` to `path` atomically (see `write_atomically`).

    Args:
        path: where to write, a string or path-like.
        data: the bytes to store.

    Returns:
        `path`, as given.

    Examples:

    >>> write_bytes("out/logo.png", b"\\x89PNG...")
    'out/logo.png'
    """
    return write_atomically(path, lambda file: file.write(data))


def write_text(path, text):
    """Writes `text` to `path` as UTF-8, atomically (see `write_atomically`).

    Args:
        path: where to write, a string or path-like.
        text: the string to store, written as is (no newline translation).

    Returns:
        `path`, as given.

    Examples:

    >>> write_text("out/notes.md", "# Notes\\n")
    'out/notes.md'
    """
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, obj):
    """Writes `obj` as JSON to `path`, atomically (see `write_atomically`).

    numpy scalars and arrays become plain numbers and lists, tuples become
    lists, paths become strings, NaN and infinities become null (see
    `to_json`). Any other type is a `TypeError`, raised before anything is
    written. The text is indented by 2 and ends with a newline.

    Args:
        path: where to write, a string or path-like.
        obj: dicts, lists, numbers, strings, None and numpy values, nested.

    Returns:
        `path`, as given.

    Examples:

    >>> write_json("out/report.json", {"accuracy": np.float32(0.5), "auc": float("nan")})
    'out/report.json'
    >>> with open("out/report.json") as file:
    ...     file.read().split()
    ['{', '"accuracy":', '0.5,', '"auc":', 'null', '}']
    """
    return write_text(path, json.dumps(to_json(obj), indent=2, allow_nan=False) + "\n")


def to_json(obj):
    """A copy of `obj` made of plain JSON types only, as `write_json` stores it.

    Args:
        obj: dicts, lists, tuples, numbers, strings, None, path-likes and
            numpy scalars and arrays, nested.

    Returns:
        The copy: dicts (with string keys), lists, numbers, strings and None.

    Examples:

    >>> to_json({"x": np.arange(3), "y": np.float64("nan"), "z": (1, 2.5)})
    {'x': [0, 1, 2], 'y': None, 'z': [1, 2.5]}
    """
    if isinstance(obj, dict):
        return {_json_key(key): to_json(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(value) for value in obj]
    if isinstance(obj, np.ndarray):
        return to_json(obj.tolist())
    if isinstance(obj, np.generic):
        return to_json(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(
        f"Cannot write a value of type {type(obj).__name__} to JSON. Received: {obj!r:.80}"
    )


def _json_key(key):
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return str(key)
    raise TypeError(
        f"JSON object keys must be strings or numbers. Received: key {key!r} of "
        f"type {type(key).__name__}"
    )


def save_to_path(path, save, suffix=".tmp"):
    """Writes a file through `save(temporary_path)`, atomically.

    For writers that take a file name rather than a file object (Keras'
    `model.save`, `save_weights`): `save` writes a temporary file in the same
    folder whose name ends in `suffix` (Keras checks the extension), which is
    then fsynced and renamed over `path`; the rename itself is made durable.

    Args:
        path: where to write, a string or path-like.
        save: a function of the temporary file's path (a string).
        suffix: how the temporary name ends.

    Returns:
        `path`, as given.

    Examples:

    >>> save_to_path("out/backbone.weights.h5", model.save_weights, suffix=".weights.h5")
    'out/backbone.weights.h5'
    """
    temporary = _beside(path, f".{os.path.basename(path)}.{uuid.uuid4().hex}{suffix}")
    return _publish(path, temporary, save, _fsync_file, os.replace, _remove_quietly)


def save_keras(model, path):
    """Saves `model` as a `.keras` file at `path`, atomically (see `save_to_path`).

    Args:
        model: a Keras model.
        path: the file to write; Keras wants it to end in `.keras`.

    Returns:
        `path`, as given.

    Examples:

    >>> save_keras(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), "out/model.keras")
    'out/model.keras'
    """
    if model.compiled and not model.optimizer.built and model.trainable_variables:
        # A compiled model that never took a step (a linear probe's head is fitted by a solver):
        # Keras would store the optimizer without its slots, then warn at every load that it
        # skipped them ("Skipping variable loading for optimizer"). Its fresh, zero state instead.
        model.optimizer.build(model.trainable_variables)
    return save_to_path(path, model.save, suffix=".keras")


def write_folder(path, write):
    """Makes the folder `path` through `write(temporary_folder)`, atomically.

    `write` fills a hidden temporary folder beside `path` (named
    `.partial-<name>-<random>`; it need not create it), whose files and
    folders are then fsynced and which is renamed to `path` in one step: the
    folder appears complete or not at all. It is an error if `path` exists
    (not empty) by then; on any error the temporary folder is removed.

    Args:
        path: the folder to make, a string or path-like.
        write: a function of the temporary folder's path (a string).

    Returns:
        `path`, as given.

    Examples:

    >>> write_folder("out/version-1", lambda folder: write_text(os.path.join(folder, "a.txt"), "a"))
    'out/version-1'
    """
    temporary = _beside(path, f"{PARTIAL_PREFIX}{os.path.basename(path)}-{uuid.uuid4().hex[:8]}")
    # os.rename: atomic on one file system, and it fails if a folder appeared at `path` meanwhile.
    return _publish(path, temporary, write, fsync_tree, os.rename, lambda t: shutil.rmtree(t, ignore_errors=True))


def _beside(path, name):
    """The path of `name` in the folder of `path`, which is created if missing."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, name)


def _publish(path, temporary, write, flush, move, discard):
    """`write(temporary)`, `flush(temporary)` to disk, `move(temporary, path)`, then the
    move itself is made durable; on any error `discard(temporary)` and re-raise."""
    try:
        write(temporary)
        flush(temporary)
        move(temporary, path)
    except BaseException:
        discard(temporary)
        raise
    fsync_folder(os.path.dirname(temporary))
    return path


def remove_stale_partials(parent, min_age=60):
    """Removes the temporary folders that interrupted `write_folder` calls left in `parent`.

    Only folders older than `min_age` seconds go, so that a write in progress
    in another process is left alone.

    Args:
        parent: the folder that holds the targets of `write_folder`.
        min_age: seconds since a temporary folder last changed.

    Returns:
        The paths removed.

    Examples:

    >>> remove_stale_partials("saved_models/flowers")
    []
    """
    removed = []
    for entry in os.listdir(parent):
        path = os.path.join(parent, entry)
        if entry.startswith(PARTIAL_PREFIX) and time.time() - os.path.getmtime(path) > min_age:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def fsync_tree(root):
    """Flushes every file and folder under `root` to disk (folders: POSIX only).

    Args:
        root: a folder.

    Examples:

    >>> fsync_tree("out")
    """
    for folder, _, files in os.walk(root):
        for file in files:
            _fsync_file(os.path.join(folder, file))
        fsync_folder(folder)


def fsync_folder(folder):
    """Makes the entries of `folder` (e.g. a rename into it) durable; POSIX only, elsewhere a no-op.

    Args:
        folder: a folder.

    Examples:

    >>> fsync_folder("out")
    """
    if os.name == "posix":
        _fsync_file(folder)


def _fsync_file(path):
    """fsync through a read-only descriptor: a file, or on POSIX a folder."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_quietly(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
