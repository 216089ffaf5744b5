"""Image files on disk: which files count, and which of them are unreadable.

A bad file is found before training starts, by cheap checks (size, extension,
the magic bytes of the header, the width and height the header declares) and
then one fast parallel pass that fully decodes every remaining file, so a
truncated image with a valid header is named here rather than failing deep
inside an epoch, and a decompression bomb is refused before it is decoded.
"""

import logging
import os
import struct

import numpy as np
import tensorflow as tf

from tfl.data.arguments import path_argument
from tfl.data.image.pipeline import AUTOTUNE
from tfl.data.image.pipeline import decode_resized

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "bmp", "gif")
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini", "__macosx"})
IMAGE_MAGIC = ((b"\xff\xd8", "JPEG"), (b"\x89PNG", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"))
_HEADER_BYTES = 32
# The bits per pixel TensorFlow's BMP decoder reads; a 1-, 4- or 16-bit BMP is valid but not decoded.
DECODABLE_BMP_BITS = (8, 24, 32)
SKIP_BAD_FILES_HINT = (
    "Fix or delete them, or pass skip_bad_files=True (data.skip_bad_files: true in a config, --skip-bad-files "
    "with `tfl train`, `tfl evaluate`, `tfl cv` or `tfl tune`) to skip them."
)
_TO_PNG = "convert it to PNG, e.g. with PIL: PIL.Image.open(path).convert('RGB').save(path[:-4] + '.png')"

# Pillow's limit (its DecompressionBombError): larger images are refused unread.
DEFAULT_MAX_IMAGE_PIXELS = 178_956_970
MAX_PIXELS_VARIABLE = "TFL_MAX_IMAGE_PIXELS"


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
    >>> [os.path.basename(path) for path in paths]
    ['a.png', 'b.png']
    >>> load_images(paths, image_size=(224, 224)).shape
    TensorShape([2, 224, 224, 3])
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
        return f"not an image: its first bytes {header[:8]!r} are no {formats} header"
    if header.startswith(b"BM"):
        problem = _bmp_palette_problem(path)
        if problem:
            return problem
    size = image_size_of(path)
    limit = max_image_pixels()
    if size is not None and size[0] * size[1] > limit:
        width, height = size
        return (
            f"too large: {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), more than "
            f"the {limit / 1e6:.0f} megapixels tfl decodes (a decompression bomb?); downscale it, "
            f"or raise the limit with {MAX_PIXELS_VARIABLE}={width * height}"
        )
    return None


def max_image_pixels():
    """The most pixels an image may have: `$TFL_MAX_IMAGE_PIXELS`, or Pillow's 178,956,970."""
    value = os.environ.get(MAX_PIXELS_VARIABLE, "")
    if not value:
        return DEFAULT_MAX_IMAGE_PIXELS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"{MAX_PIXELS_VARIABLE} is a number of pixels >= 1, e.g. 300000000. Received: {value!r}"
        )
    return int(value)


def image_size_of(path):
    """`(width, height)` as the header of a PNG, GIF, BMP or JPEG file declares it, or None.

    Read without decoding (JPEG: the segments are skipped up to the frame
    header), so a file that claims 50000x50000 pixels costs a few bytes.
    """
    with open(path, "rb") as f:
        header = f.read(_HEADER_BYTES)
        if header.startswith(b"\x89PNG") and header[12:16] == b"IHDR":
            return struct.unpack(">II", header[16:24])
        if header.startswith(b"GIF8") and len(header) >= 10:
            return struct.unpack("<HH", header[6:10])
        if header.startswith(b"BM") and len(header) >= 26:
            if struct.unpack("<I", header[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER
                return struct.unpack("<HH", header[18:22])
            width, height = struct.unpack("<ii", header[18:26])
            return abs(width), abs(height)  # a negative height means top-down rows
        if header.startswith(b"\xff\xd8"):
            f.seek(2)
            return _jpeg_size(f)
    return None


def _jpeg_size(f):
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        kind = marker[1]
        if kind == 0xFF:  # a fill byte before the marker
            f.seek(-1, os.SEEK_CUR)
            continue
        if kind == 0x01 or 0xD0 <= kind <= 0xD8:  # markers without a length
            continue
        length = f.read(2)
        if len(length) < 2 or kind in (0xD9, 0xDA):  # end of image, start of scan
            return None
        if 0xC0 <= kind <= 0xCF and kind not in (0xC4, 0xC8, 0xCC):  # a frame header
            frame = f.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        f.seek(struct.unpack(">H", length)[0] - 2, os.SEEK_CUR)


def undecodable(paths):
    """The paths that TensorFlow fails to decode, found by one parallel pass."""
    if not paths:
        return []

    def decode(index, path):
        # The same decode as training's (uncropped: a crop would only copy).
        # Its pixel, not its (static) shape, is returned: the shape would be
        # folded to a constant and the decode pruned.
        return index, decode_resized(tf.io.read_file(path), (1, 1), resize="stretch")

    dataset = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), list(paths)))
    dataset = dataset.map(decode, num_parallel_calls=AUTOTUNE, deterministic=False)
    dataset = dataset.ignore_errors().map(lambda index, pixel: index).batch(1024)
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
        bad[path] = _unsupported_bmp(path) or "corrupt or truncated: the header is valid but the image does not decode"
    return {path: bad[path] for path in paths if path in bad}


def _bmp_palette_problem(path):
    """Why an 8-bit BMP with a colour palette is refused, or None.

    TensorFlow's decoder reads an 8-bit BMP's pixel values as grey levels and
    never looks at its colour table: right for the grey ramp PIL writes for
    a grey image (entry i = (i, i, i)), silently wrong colours otherwise.
    """
    with open(path, "rb") as f:
        data = f.read(50)
        if len(data) < 50:
            return None  # too short to tell; the decode check reports it
        header_size = struct.unpack("<I", data[14:18])[0]
        if header_size < 40 or struct.unpack("<H", data[28:30])[0] != 8:
            return None  # not 8 bits per pixel, or an OS/2 BMP (3-byte palette entries, not read here)
        count = min(struct.unpack("<I", data[46:50])[0] or 256, 256)
        f.seek(14 + header_size)
        table = f.read(4 * count)  # BGRX entries after the info header (V4 and V5 headers included)
    entries = [tuple(table[i : i + 3]) for i in range(0, len(table) - 3, 4)]
    if all(entry == (index, index, index) for index, entry in enumerate(entries)):
        return None
    return (
        "8-bit BMP with a colour palette: TensorFlow reads its palette indices as grey levels, so its "
        f"colours would be wrong; {_TO_PNG}"
    )


def _unsupported_bmp(path):
    """Why a BMP that does not decode is unsupported (its bits per pixel), or None."""
    with open(path, "rb") as f:
        header = f.read(_HEADER_BYTES)
    if not header.startswith(b"BM") or len(header) < 30:
        return None
    offset = 24 if struct.unpack("<I", header[14:18])[0] == 12 else 28  # OS/2 BITMAPCOREHEADER
    bits = struct.unpack("<H", header[offset:offset + 2])[0]
    if bits in DECODABLE_BMP_BITS:
        return None
    return (
        f"unsupported BMP bit depth: {bits} bits per pixel (TensorFlow decodes "
        f"{', '.join(str(b) for b in DECODABLE_BMP_BITS)}-bit BMPs); {_TO_PNG}"
    )


def describe_bad_files(bad, root=None, limit=10):
    """Lines `  name: reason` for the first `limit` bad files, names relative to `root`."""
    lines = [
        f"  {os.path.relpath(path, root) if root else path}: {reason}"
        for path, reason in list(bad.items())[:limit]
    ]
    if len(bad) > limit:
        lines.append(f"  ... and {len(bad) - limit} more")
    return "\n".join(lines)


def scan_partly_labelled_folder(root, class_names, *, skip_bad_files, name, argument, missing_hint=""):
    """The images of a folder whose class folders are labelled and whose loose images are not.

    The shape both the target domain of adaptation and the unlabelled images
    of self-training take: images directly in `root` have no label (-1), and
    images in a subfolder named like a class have that class's index. Any
    other subfolder is refused, so a misspelt class name is not taken for
    unlabelled data.

    Args:
        root: the folder.
        class_names: the classes a subfolder may be named after.
        skip_bad_files: skip unreadable images (logged) instead of refusing.
        name: how messages call the folder, e.g. "the target folder".
        argument: the config key that names it, "data.target_source" or
            "data.unlabeled_source" (messages name its flag too: see `path_argument`).
        missing_hint: added to the message of a missing folder.

    Returns:
        `(paths, labels)`: a string array and an int32 array (-1: no label).
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        state = "is a file, not a folder" if os.path.exists(root) else "does not exist"
        raise FileNotFoundError(
            f"{name[0].upper()}{name[1:]} {root} {state}. Check {path_argument(argument, root)}{missing_hint}."
        )
    folders = sorted(e.name for e in os.scandir(root) if e.is_dir() and not is_ignored(e.name))
    unknown = [folder for folder in folders if folder not in class_names]
    if unknown:
        raise ValueError(
            f"Class folder {unknown[0]!r} in {name} {root} is not a class name. Known: {', '.join(class_names)}. "
            "Class folders must be named like the classes (rename or remove it); put unlabelled images "
            "directly in the folder."
        )
    paths = [
        os.path.join(root, e.name)
        for e in sorted(os.scandir(root), key=lambda e: e.name)
        if e.is_file() and not is_ignored(e.name) and has_image_extension(e.name)
    ]
    labels = [-1] * len(paths)
    for folder in folders:
        found = list_image_files(os.path.join(root, folder))
        paths.extend(found)
        labels.extend([list(class_names).index(folder)] * len(found))
    if not paths:
        raise ValueError(
            f"{name[0].upper()}{name[1:]} {root} holds no images. Put unlabelled images in it, and/or labelled "
            "ones in class folders named like the classes."
        )
    bad = find_bad_files(paths)
    if bad and not skip_bad_files:
        raise ValueError(
            f"{len(bad)} of {len(paths)} files in {root} are not readable images:\n{describe_bad_files(bad, root)}\n"
            f"{SKIP_BAD_FILES_HINT}"
        )
    if bad:
        logging.getLogger("tfl").warning("Skipped %d bad files of %d in %s", len(bad), len(paths), root)
    keep = [i for i, path in enumerate(paths) if path not in bad]
    if not keep:
        raise ValueError(f"No readable images in {name} {root} after skipping bad files.")
    return np.array([paths[i] for i in keep]), np.array([labels[i] for i in keep], dtype=np.int32)
