"""Image files on disk: which files count, and which of them are unreadable.

A bad file is found before training starts, by cheap checks (size, extension,
the magic bytes of the header) and then one fast parallel pass that fully
decodes every remaining file, so a truncated image with a valid header is named
here rather than failing deep inside an epoch.
"""

import os

import numpy as np
import tensorflow as tf

from tfl.data.pipeline import AUTOTUNE
from tfl.data.pipeline import decode_image

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "bmp", "gif")
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini", "__macosx"})
IMAGE_MAGIC = ((b"\xff\xd8", "JPEG"), (b"\x89PNG", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"))
_HEADER_BYTES = 8


def is_ignored(name):
    """Hidden files and folders and OS litter (Thumbs.db, desktop.ini, __MACOSX)."""
    return name.startswith(".") or name.lower() in IGNORED_NAMES


def has_image_extension(path):
    return os.path.splitext(path)[1][1:].lower() in IMAGE_EXTENSIONS


def list_files(folder):
    """All files below `folder` (nested folders too) except ignored ones, sorted."""
    found = []
    for parent, folders, files in os.walk(folder):
        folders[:] = [f for f in folders if not is_ignored(f)]
        found.extend(os.path.join(parent, f) for f in files if not is_ignored(f))
    return sorted(found)


def list_image_files(folder):
    """The image files below `folder`, nested folders included, sorted.

    Args:
        folder: a folder path.

    Examples:

    >>> paths = list_image_files("to_predict/")
    >>> images = load_images(paths, image_size=(224, 224))
    """
    return [p for p in list_files(folder) if has_image_extension(p)]


def header_problem(path, *, check_extension=True):
    """Why `path` is not an image, from its size, extension and first bytes; None if it may be."""
    if check_extension and not has_image_extension(path):
        extension = os.path.splitext(path)[1] or "no extension"
        return (
            f"not an image file ({extension}); tfl reads "
            f"{', '.join('.' + e for e in IMAGE_EXTENSIONS)}"
        )
    try:
        with open(path, "rb") as f:
            header = f.read(_HEADER_BYTES)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if not header:
        return "empty file (0 bytes)"
    if not any(header.startswith(magic) for magic, _ in IMAGE_MAGIC):
        formats = ", ".join(name for _, name in IMAGE_MAGIC)
        return f"not an image: its first bytes {header!r} are no {formats} header"
    return None


def undecodable(paths):
    """The paths that TensorFlow fails to decode, found by one parallel pass."""
    if not paths:
        return []

    def decode(index, path):
        # The decoded shape depends on the decode itself, so it cannot be pruned.
        return index, tf.shape(decode_image(tf.io.read_file(path)))

    dataset = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), list(paths)))
    dataset = dataset.map(decode, num_parallel_calls=AUTOTUNE, deterministic=False)
    dataset = dataset.ignore_errors().map(lambda index, shape: index).batch(1024)
    decoded = np.zeros(len(paths), dtype=bool)
    for indices in dataset.as_numpy_iterator():
        decoded[indices] = True
    return [path for path, ok in zip(paths, decoded) if not ok]


def find_bad_files(paths, *, check_extension=True):
    """Maps each unreadable image file among `paths` to the reason, in order.

    Args:
        paths: file paths.
        check_extension: a file whose extension is not an image extension is bad.

    Examples:

    >>> find_bad_files(["cats/ok.jpg", "cats/empty.jpg"])
    {'cats/empty.jpg': 'empty file (0 bytes)'}
    """
    bad = {}
    for path in paths:
        problem = header_problem(path, check_extension=check_extension)
        if problem:
            bad[path] = problem
    for path in undecodable([p for p in paths if p not in bad]):
        bad[path] = "corrupt or truncated: the header is valid but the image does not decode"
    return {path: bad[path] for path in paths if path in bad}


def describe_bad_files(bad, root=None, limit=10):
    """Lines `  name: reason` for the first `limit` bad files, names relative to `root`."""
    lines = [
        f"  {os.path.relpath(path, root) if root else path}: {reason}"
        for path, reason in list(bad.items())[:limit]
    ]
    if len(bad) > limit:
        lines.append(f"  ... and {len(bad) - limit} more")
    return "\n".join(lines)
