"""TF Serving's folder layout: `<base>/<name>/<version>/`, and what may go in it.

TF Serving polls `<base>/<name>` and serves the highest integer version in
it. `check_export` refuses, before anything is built or written, an export
that would not fit this layout: a name that could leave the base folder, a
version or `top_k` below 1, or a version that exists already.
"""

import os
import re

DEFAULT_BASE = "saved_models"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_export_name(name):
    """Refuses names that could leave the base folder or confuse TF Serving.

    Args:
        name: the model's name under the base folder.

    Returns:
        `name`, when it is allowed.

    Examples:

    >>> check_export_name("flowers")
    'flowers'
    """
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(
            f"Export name {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, no '..', no path separators), e.g. 'flowers'. "
            f"Received: name={name!r} (--name with tfl export)"
        )
    return name


def versions(model_dir):
    """The integer versions present in `model_dir`, ascending.

    Examples:

    >>> versions("saved_models/tiny")
    [1]
    """
    if not os.path.isdir(model_dir):
        return []
    # TF Serving reads a version folder's name as an integer: ASCII digits only ("²" is a digit to str.isdigit).
    return sorted(int(entry) for entry in os.listdir(model_dir) if entry.isascii() and entry.isdigit())


def next_version(model_dir):
    """One more than the highest version present, or 1.

    Examples:

    >>> next_version("saved_models/tiny"), next_version("saved_models/none_yet")
    (2, 1)
    """
    present = versions(model_dir)
    return present[-1] + 1 if present else 1


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_export(name, *, base=DEFAULT_BASE, version=None, top_k=1):
    """Refuses an export that `export_model` would refuse, before a model is loaded.

    Args:
        name: the model's name under `base`: letters, digits, `.`, `_`, `-`.
        base: TF Serving's base folder of all models.
        version: an integer version >= 1 that does not exist yet, or None
            for the next free one.
        top_k: how many classes the outputs rank, >= 1.

    Returns:
        The model's folder, `<base>/<name>`.

    Examples:

    >>> check_export("flowers", base="saved_models", version=None, top_k=5)
    'saved_models/flowers'
    """
    check_export_name(name)
    if not _is_count(top_k):
        raise ValueError(
            "top_k (--top-k with tfl export) must be an int >= 1 (how many classes the outputs rank). "
            f"Received: top_k={top_k!r}"
        )
    if version is not None and not _is_count(version):
        raise ValueError(
            f"version (--version with tfl export) must be an int >= 1. Received: version={version!r}. "
            "Pass 1 or more, or leave it out for the next free one."
        )
    model_dir = os.path.join(os.fspath(base), name)
    target = os.path.join(model_dir, str(version))
    if version is not None and os.path.exists(target):
        raise FileExistsError(
            f"{target} exists: versions are never overwritten (TF Serving may be serving it). "
            f"Pass another version (--version), or leave it out for the next free one ({next_version(model_dir)})."
        )
    return model_dir
