"""A `.keras` file written by tfl: which tfl wrote it, and errors that say so.

tfl's models record the tfl version in their config (`tfl_version`). Before
Keras reads a file, `reading_model_file` checks that every tfl class the file
names is one this tfl has; a file that still fails to load, written by another
tfl version, is an error naming both versions instead of a Keras traceback
about a missing class or argument.
"""

import contextlib
import inspect
import json
import logging
import os
import zipfile

import keras

from tfl import __version__

logger = logging.getLogger("tfl")

VERSION_KEY = "tfl_version"
_PACKAGE = "tfl>"
# Keys a tfl model's config holds besides its constructor's arguments.
_MODEL_KEYS = {"name", "trainable", "dtype", VERSION_KEY, "frozen_layers", "frozen_encoder_layers", "frozen_head_layers"}


class ModelFileError(ValueError):
    """A `.keras` file that this tfl cannot load, with the reason and the fix.

    Examples:

    >>> issubclass(ModelFileError, ValueError)
    True
    """


@contextlib.contextmanager
def reading_model_file(path):
    """Checks a `.keras` file before the block loads it, and explains a failure.

    Raises:
        ModelFileError: the file names a tfl class this tfl does not have, or
            loading it failed and another tfl version wrote it.

    Examples:

    >>> with reading_model_file("model.keras"):
    ...     model = keras.saving.load_model("model.keras")
    """
    path = os.fspath(path)
    config = _read_config(path)
    classes = _tfl_classes(config)
    written_by = _written_by(config)
    missing = sorted(n for n in classes if keras.saving.get_registered_object(n) is None)
    if missing:
        raise ModelFileError(
            f"{path} uses {', '.join(map(repr, missing))}, which this tfl ({__version__}) does not "
            f"have; it was written by {_describe(written_by)}. {_fix(written_by)}"
        )
    unknown = _unknown_options(config) if classes and written_by != __version__ else []
    if unknown:
        raise ModelFileError(
            f"{path} was written by {_describe(written_by)} with model options this tfl "
            f"({__version__}) does not know: {', '.join(unknown)}. {_fix(written_by)}"
        )
    if written_by is not None and _newer(written_by, __version__):
        logger.warning(
            "%s was written by tfl %s, newer than this tfl (%s). It loads; if it behaves "
            "unexpectedly, upgrade tfl (pip install --upgrade tfl).",
            path,
            written_by,
            __version__,
        )
    try:
        yield
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        if not classes or written_by == __version__:
            raise
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise ModelFileError(
            f"{path} was written by {_describe(written_by)} and does not load with this tfl "
            f"({__version__}): {first_line}. {_fix(written_by)}"
        ) from error


def _read_config(path):
    """The model config of a `.keras` zip, or None for anything else (Keras explains those)."""
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        if "config.json" not in archive.namelist():
            return None
        try:
            return json.loads(archive.read("config.json"))
        except ValueError:
            return None


def _written_by(config):
    inner = config.get("config") if isinstance(config, dict) else None
    version = inner.get(VERSION_KEY) if isinstance(inner, dict) else None
    return version if isinstance(version, str) else None


def _tfl_classes(node):
    """Every registered name "tfl>..." in a serialized config."""
    if isinstance(node, dict):
        name = node.get("registered_name")
        found = {name} if isinstance(name, str) and name.startswith(_PACKAGE) else set()
        return found.union(*(_tfl_classes(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_tfl_classes(v) for v in node))
    return set()


def _unknown_options(node):
    """"Class.option" for each option of a tfl model config that its class does not take.

    Keras hands such options to `keras.Model.__init__`, which ignores them: a
    newer tfl's option would silently be dropped.
    """
    found = []
    if isinstance(node, dict):
        cls = keras.saving.get_registered_object(node.get("registered_name") or "")
        options = node.get("config")
        if isinstance(cls, type) and issubclass(cls, keras.Model) and isinstance(options, dict):
            known = set(inspect.signature(cls.__init__).parameters) | _MODEL_KEYS
            found += [f"{cls.__name__}.{key}" for key in sorted(options) if key not in known]
        nodes = node.values()
    else:
        nodes = node if isinstance(node, list) else []
    for value in nodes:
        found += _unknown_options(value)
    return found


def _describe(version):
    return f"tfl {version}" if version else "a tfl that did not record its version (0.1.0 or older)"


def _fix(version):
    return (
        f"Load it with the tfl that wrote it (pip install tfl=={version or '0.1.0'}), "
        "or train the model again with this tfl."
    )


def _newer(version, than):
    def key(v):
        parts = []
        for part in v.split("."):
            digits = "".join(c for c in part if c.isdigit())
            parts.append(int(digits) if digits else 0)
        return parts

    return key(version) > key(than)
