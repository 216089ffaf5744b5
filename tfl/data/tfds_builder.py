"""Finding and preparing a TensorFlow Datasets (TFDS) data set, and checking its
features and splits: shared by the image source (`tfl.data.image.tfds`), the text
source (`tfl.data.text.tfds`) and `detect_task`.
"""

import difflib
import re
import socket

# TFDS downloads from Google Cloud Storage first. Offline, its retries take
# minutes (measured: 3 min 24 s for mnist) before it gives up; one quick
# connection attempt tells sooner.
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)
_REACH_TIMEOUT_S = 5.0


def find_builder(tfds, name, data_dir):
    """The TFDS builder of `name`; an unknown name is an error listing close matches."""
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        base = re.split(r"[:/]", name)[0]
        close = difflib.get_close_matches(
            base, tfds.list_builders(with_community_datasets=False), n=5, cutoff=0.6
        )
        hint = f" Close matches: {', '.join(close)}." if close else ""
        raise ValueError(
            f"Unknown TFDS data set {name!r}.{hint} The full list: "
            "https://www.tensorflow.org/datasets/catalog/overview"
        ) from None


def network_error():
    """None if the TFDS download host answers, else the error."""
    try:
        socket.create_connection(_DOWNLOAD_HOST, timeout=_REACH_TIMEOUT_S).close()
        return None
    except OSError as e:
        return e


def prepare(builder, name, data_dir):
    """Downloads and prepares the data set unless it is prepared; fails fast offline."""
    if builder.is_prepared():
        return
    try:
        unreachable = network_error()
        if unreachable is not None:
            raise ConnectionError(f"cannot reach {_DOWNLOAD_HOST[0]} to download it ({unreachable})")
        builder.download_and_prepare()
    except Exception as e:
        folder = data_dir or "the default ~/tensorflow_datasets"
        raise FileNotFoundError(
            f"TFDS data set {name!r} is not prepared in {folder} (looked in "
            f"{builder.data_dir}) and preparing it failed: {type(e).__name__}: {e}\n"
            f"On a machine with network access, run `tfds build {name} --data_dir DIR`, "
            "copy DIR here, and pass data_dir=DIR (data.tfds_data_dir in a config)."
        ) from e


def check_feature(features, name, argument, key, kind):
    """Checks that TFDS data set `name` has a feature `key` of type `kind`.

    Raises:
        ValueError: naming the data set's features, when there is no `key`.
        TypeError: naming the features of the right kind, when `key` is of
            another kind.
    """
    if key not in features:
        raise ValueError(
            f"TFDS data set {name!r} has no feature {key!r}. Its features: "
            f"{', '.join(features.keys())}. Pass {argument}=..."
        )
    if not isinstance(features[key], kind):
        raise TypeError(
            f"Feature {key!r} of TFDS data set {name!r} is a {type(features[key]).__name__}, "
            f"not a {kind.__name__}. Pass {argument}= one of: "
            f"{', '.join(k for k, f in features.items() if isinstance(f, kind)) or 'none'}."
        )


def check_split(builder, name, argument, split):
    """Checks the split names in `split` ("train", "train[:80%]", "train+test")."""
    known = list(builder.info.splits)
    if not known:
        return  # split names unknown before preparation (or under tfds.testing.mock_data)
    for part in re.sub(r"\[[^\]]*\]", "", split).split("+"):
        if part.strip() not in known:
            raise ValueError(
                f"TFDS data set {name!r} has no split {part.strip()!r} ({argument}={split!r}). "
                f"Its splits: {', '.join(known)}. Slices work too, e.g. "
                f'train_split="{known[0]}[:80%]", validation_split="{known[0]}[80%:]".'
            )
