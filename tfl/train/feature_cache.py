"""The frozen-feature cache: run the frozen backbone once, train the head many times.

While the backbone is frozen and nothing random changes its input, every epoch
of a head stage recomputes the same pooled features: the backbone pass is
almost all of the cost. `FeatureCache` computes them once per example (and
per backbone state), and the stage trains the model's own head layers on them
through `model.head_model()`, which shares those layers: the trained head is
already in the full model afterwards, for later stages and export.

The cache is valid when
- the stage trains no backbone layer (`unfreeze="none"`),
- the pooling has no weights of its own (not text's "lstm" pooling), and
- no augmentation changes the backbone's input, or `augmented_views=K`
  asks for K augmented views of each example to be cached instead.

On disk (`cache_dir`), features are keyed by a digest of the backbone's
weights, the model's preprocessing settings and the examples themselves, so a
cache made for other weights, preprocessing or data is never used. Plain
features (no augmented views) are kept per example: a run on other data that
shares examples with an earlier one (the folds of a cross-validation, a
labelled set grown by a few examples) computes only the examples it has not
seen, e.g. a 5-fold cross-validation passes each image through the backbone
once instead of five times. Augmented views are random per pass, so they are
kept per data set.
"""

import dataclasses
import hashlib
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfl.data.order import shuffle_each_epoch
from tfl.io import write_atomically
from tfl.io import write_folder
from tfl.traced import traced

FEATURE_CACHE_MODES = ("auto", "off")

# Config keys that do not change the features.
_HEAD_KEYS = (
    "class_names",
    "dropout",
    "multi_label",
    "name",
    "trainable",
    "frozen_encoder_layers",
    "text_pairs",
    "head",
    "prototype_metric",
    "prototype_temperature",
)


@dataclasses.dataclass(frozen=True)
class CacheDecision:
    """Whether a stage trains on cached features, and why (for the log)."""

    use: bool
    reason: str

    def __str__(self):
        return f"{'on' if self.use else 'off'} ({self.reason})"


def cache_decision(model, stage, mode="auto", augmented_views=1):
    """Decides whether `stage` can train `model`'s head on cached features.

    Args:
        model: a tfl classifier.
        stage: a `tfl.config.Stage`.
        mode: "auto" (use the cache where valid) or "off".
        augmented_views: how many augmented views per example to cache when
            the model augments its images; 1 caches none (the cache is off).

    Examples:

    >>> cache_decision(model, Stage("none"))
    CacheDecision(use=True, reason='frozen backbone, no augmentation')
    >>> cache_decision(model, Stage("top 1"))
    CacheDecision(use=False, reason='the backbone trains in this stage')
    """
    if mode not in FEATURE_CACHE_MODES:
        raise ValueError(f"Unknown feature_cache {mode!r}. Known: {', '.join(FEATURE_CACHE_MODES)}.")
    if stage.trains_backbone:
        return CacheDecision(False, "the backbone trains in this stage")
    between = [layer for layer in model.head_layers() if layer not in (model.head_dropout, model.head)]
    if any(layer.weights for layer in between):
        names = " and ".join(layer.name for layer in between if layer.weights)
        return CacheDecision(False, f"the {names} layer has weights and trains with the head")
    if mode == "off" and not stage.linear_probe:
        return CacheDecision(False, "feature_cache is off")
    if model.augmenter is not None:
        if augmented_views > 1:
            return CacheDecision(True, f"frozen backbone; {augmented_views} augmented views per example")
        if stage.linear_probe:
            return CacheDecision(
                True, "linear probe on un-augmented features; set augmented_views > 1 to probe augmented views"
            )
        return CacheDecision(False, "augmentation changes the backbone's input; set augmented_views > 1 to cache views")
    if mode == "off":
        return CacheDecision(True, "a linear probe always uses features")
    return CacheDecision(True, "frozen backbone, no augmentation")


@dataclasses.dataclass
class CachedFeatures:
    """Pooled features of the training and held-out examples.

    Attributes:
        train_features: float32 `[N * views, D]`.
        train_labels: the labels, aligned with `train_features`.
        validation_features: float32 `[M, D]`, or None.
        validation_labels: aligned with `validation_features`, or None.
        views: augmented views per training example.
        seconds: time spent computing (or loading) them.
        origin: "computed", "disk" when every example was read from
            `cache_dir`, or "disk and computed" when some were.
    """

    train_features: np.ndarray
    train_labels: np.ndarray
    validation_features: np.ndarray | None
    validation_labels: np.ndarray | None
    views: int
    seconds: float
    origin: str

    def batch_size_for(self, steps):
        """The batch size that gives `steps` batches per view, as the data had."""
        return max(1, -(-len(self.train_features) // (self.views * max(1, steps))))

    def datasets(self, batch_size, seed):
        """`(train, validation)` batched datasets of `(features, labels)`;
        the training set is shuffled with `seed`, in a new order each epoch."""
        train = tf.data.Dataset.from_tensor_slices((self.train_features, self.train_labels))
        train = shuffle_each_epoch(train, len(self.train_features), seed)
        train = train.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        validation = None
        if self.validation_features is not None:
            validation = tf.data.Dataset.from_tensor_slices((self.validation_features, self.validation_labels))
            validation = validation.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        return train, validation


class FeatureCache:
    """Computes pooled features once per backbone state and keeps them.

    Args:
        model: a tfl classifier (it has `feature_model()` and `head_model()`).
        cache_dir: a folder to keep features in between runs, or None to keep
            them in memory only.
        augmented_views: augmented views per training example (images with
            augmentation only); 1 caches the plain features.

    Examples:

    >>> cache = FeatureCache(model)
    >>> features = cache.get(data)
    >>> train, validation = features.datasets(batch_size=32, seed=0)[:2]
    >>> head = model.head_model()
    >>> head.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> sorted(head.fit(train, validation_data=validation, epochs=2, verbose=0, shuffle=False).history)
    ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """

    def __init__(self, model, cache_dir=None, augmented_views=1):
        if not isinstance(augmented_views, int) or isinstance(augmented_views, bool) or augmented_views < 1:
            raise ValueError(f"augmented_views must be an int >= 1. Received: augmented_views={augmented_views!r}")
        self.model = model
        self.cache_dir = None if cache_dir is None else os.fspath(cache_dir)
        self.augmented_views = augmented_views
        self._features = None
        self._weights_digest = None

    def get(self, data):
        """The features of `data.train` and `data.validation` for the
        backbone's current weights: computed on the first call and again
        whenever the backbone's weights have changed since."""
        digest = self.weights_digest()
        if self._features is not None and digest == self._weights_digest:
            return self._features
        start = time.perf_counter()
        if self.cache_dir is None:
            features = self._compute(data)
            origin = "computed"
        else:
            features, origin = self._from_disk(data, digest)
        self._features = CachedFeatures(
            *features, views=self._views(), seconds=time.perf_counter() - start, origin=origin
        )
        self._weights_digest = digest
        return self._features

    def features_kept(self):
        """The `CachedFeatures` of the last `get`, or None: `get` returns these
        again while the backbone's weights have not changed."""
        return self._features

    def weights_digest(self):
        """A digest of every weight that shapes the features, and of the
        settings that shape the backbone's input (size, preprocessing, pooling)."""
        head = {id(v) for layer in (self.model.head, self.model.head_dropout) for v in layer.weights}
        h = hashlib.sha256()
        config = {k: v for k, v in self.model.get_config().items() if k not in _HEAD_KEYS}
        h.update(json.dumps(_without_layer_names(config), sort_keys=True, default=str).encode())
        h.update(f"views={self.augmented_views}".encode())
        for variable in self.model.weights:  # in the model's order, which its architecture fixes
            if id(variable) not in head:
                h.update(f"{variable.name}{tuple(variable.shape)}{variable.dtype}".encode())
                h.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
        return h.hexdigest()

    def _views(self):
        return self.augmented_views if getattr(self.model, "augmenter", None) is not None else 1

    def _compute(self, data):
        # One traced function for every batch of both splits: its signature has
        # no batch size, so a short last batch or the validation split does not
        # trace the backbone again (each trace of a large backbone costs seconds).
        signature = [data.train.element_spec[0]]
        views = self._views()
        if views > 1:
            augmented = traced(self.model.augmented_features, input_signature=signature)
        feature_model = self.model.feature_model()
        plain = traced(lambda inputs: feature_model(inputs, training=False), input_signature=signature)
        train = _in_canonical_order(*_features_of(augmented if views > 1 else plain, data.train, views), views)
        validation = (None, None)
        if data.validation is not None:
            if data.validation.element_spec[0] != signature[0]:  # another shape: its own trace
                plain = traced(lambda inputs: feature_model(inputs, training=False))
            validation = _features_of(plain, data.validation, 1)
        return (*train, *validation)

    def _from_disk(self, data, weights_digest):
        if self._views() == 1:
            return self._per_example(data, weights_digest)
        h = hashlib.sha256(weights_digest.encode())
        h.update(examples_digest(data.train).encode())
        if data.validation is not None:
            h.update(examples_digest(data.validation).encode())
        folder = os.path.join(self.cache_dir, f"features-{h.hexdigest()[:24]}")  # augmented views
        if os.path.isdir(folder):
            return _load(folder), "disk"
        features = self._compute(data)
        _save(folder, features)
        return features, "computed"

    def _per_example(self, data, weights_digest):
        """The plain features of both splits from the per-example store of
        these weights, computing (and adding) only the examples it lacks."""
        store = ExampleStore(os.path.join(self.cache_dir, f"examples-{_short(weights_digest)}"))
        known = store.load()
        feature_model = self.model.feature_model()
        extractors = {}

        def extract(inputs, spec):
            key = tuple(tf.nest.flatten(spec))  # one trace per input signature (the batch size is None)
            if key not in extractors:
                extractors[key] = traced(lambda x: feature_model(x, training=False), input_signature=[spec])
            return extractors[key](inputs)

        added = {}
        reused = 0

        def features_of(dataset):
            nonlocal reused
            spec = dataset.element_spec[0]
            features, labels = [], []
            for batch in dataset:
                inputs, batch_labels = batch[0], batch[1]
                keys = row_digests(inputs)
                missing = [i for i, key in enumerate(keys) if key not in known and key not in added]
                if missing:
                    rows = tf.constant(missing)
                    subset = tf.nest.map_structure(lambda x, rows=rows: tf.gather(x, rows), inputs)
                    computed = keras.ops.convert_to_numpy(extract(subset, spec)).astype(np.float32)
                    added.update(zip((keys[i] for i in missing), computed))
                reused += sum(key in known for key in keys)
                features.append(np.stack([known[key] if key in known else added[key] for key in keys]))
                labels.append(keras.ops.convert_to_numpy(batch_labels))
            if not features:
                raise ValueError("The data set is empty: there are no examples to compute features of.")
            return np.concatenate(features), np.concatenate(labels)

        train = _in_canonical_order(*features_of(data.train), 1)
        validation = (None, None) if data.validation is None else features_of(data.validation)
        if added:
            store.add(added)
        origin = "disk" if not added else ("disk and computed" if reused else "computed")
        return (*train, *validation), origin


class ExampleStore:
    """Features kept per example on disk: a folder of `part-*.npz` files,
    each holding `keys` (the 32-byte digests of the examples' inputs,
    `row_digests`) and their `features`. A part is written whole (atomically)
    and never changed; later runs add parts. A folder is for one backbone
    state and preprocessing (its name is their digest)."""

    def __init__(self, folder):
        self.folder = folder

    def load(self):
        """`{key: feature row}` of every part."""
        found = {}
        if not os.path.isdir(self.folder):
            return found
        for name in sorted(os.listdir(self.folder)):
            if name.startswith("part-") and name.endswith(".npz"):
                with np.load(os.path.join(self.folder, name)) as part:
                    found.update(zip((bytes(key) for key in part["keys"]), part["features"]))
        return found

    def add(self, rows):
        """Writes `{key: feature row}` as a new part."""
        keys = sorted(rows)
        name = f"part-{hashlib.sha256(b''.join(keys)).hexdigest()[:16]}.npz"
        path = os.path.join(self.folder, name)
        if os.path.exists(path):  # the same examples, added by another run meanwhile
            return
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), -1)
        features = np.stack([rows[key] for key in keys])
        write_atomically(path, lambda f: np.savez(f, keys=key_array, features=features))


def _without_layer_names(config):
    """`config` with every layer name in it replaced by the position where the
    name first appears. Keras numbers the names it makes up (`input_layer`,
    `input_layer_1`, `add_8`, ...) per process, so the same architecture built
    twice (a cross-validation's folds, a search's trials) differs in names
    only; its features do not."""
    positions = {}

    def collect(value):
        if isinstance(value, dict):
            if "class_name" in value and isinstance(value.get("config"), dict):
                name = value["config"].get("name")
                if isinstance(name, str):
                    positions.setdefault(name, f"layer-{len(positions)}")
            for item in value.values():
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)

    collect(config)

    def walk(value):
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(item) for item in value]
        if isinstance(value, str):
            return positions.get(value, value)
        return value

    return walk(config)


def _short(digest):
    return hashlib.sha256(digest.encode()).hexdigest()[:24]


def _features_of(extract, dataset, views):
    """Runs the frozen feature extractor `extract` over `dataset`, `views`
    times (a randomly augmenting extractor gives other views each pass)."""
    features, labels = [], []
    for _ in range(views):
        for batch in dataset:
            inputs, batch_labels = batch[0], batch[1]
            features.append(keras.ops.convert_to_numpy(extract(inputs)).astype(np.float32))
            labels.append(keras.ops.convert_to_numpy(batch_labels))
    if not features:
        raise ValueError("The data set is empty: there are no examples to compute features of.")
    return np.concatenate(features), np.concatenate(labels)


def _in_canonical_order(features, labels, views):
    """The training rows sorted by a digest of their values, so the cache's
    order does not depend on the order of the pass that computed them. A
    shuffled training pipeline takes its order from a pass counter
    (`tfl.data.order`) that the prefetching of earlier, unfinished passes
    (a BatchNorm check, a recalibration) advances at times that vary from run
    to run; the head's training order (`CachedFeatures.datasets`) is drawn
    from the cache's order, so without this a head stage did not repeat.
    With augmented views, each view's rows are moved alike (the first view's
    order), so view k stays rows k*N to (k+1)*N - 1."""
    count = len(features) // views
    keys = [
        hashlib.sha256(row.tobytes() + label.tobytes()).digest() for row, label in zip(features[:count], labels[:count])
    ]
    first = sorted(range(count), key=keys.__getitem__)
    order = np.concatenate([np.asarray(first, dtype=np.int64) + view * count for view in range(views)])
    return features[order], labels[order]


def examples_digest(dataset):
    """An order-independent digest of every example of a `(inputs, labels)`
    dataset: the same examples in a new shuffle order give the same digest."""
    digests = []
    for batch in dataset:
        digests.extend(row_digests(batch[0], batch[1]))
    return hashlib.sha256(b"".join(sorted(digests))).hexdigest()


def row_digests(inputs, labels=None):
    """One sha256 digest (32 bytes) per example of a batch: of its inputs
    (every input of a dict, by name), their dtypes and shapes, and its label
    when `labels` is given.

    Text inputs (a dict with a `padding_mask`) are taken up to each text's
    last token: a batch is padded to its longest text (`trim_padding`), so
    the same text comes with more or less padding in another batch (another
    fold, another shuffle), and its features are the same."""
    parts = (
        [keras.ops.convert_to_numpy(inputs[k]) for k in sorted(inputs)]
        if isinstance(inputs, dict)
        else [keras.ops.convert_to_numpy(inputs)]
    )
    lengths, padded = _text_lengths(inputs)
    if labels is not None:
        parts.append(keras.ops.convert_to_numpy(labels))
    digests = []
    for i in range(len(parts[0])):
        h = hashlib.sha256()
        for part in parts:
            row = part[i]
            if lengths is not None and row.ndim >= 1 and row.shape[0] == padded:
                row = row[: lengths[i]]
            row = np.ascontiguousarray(row)
            h.update(f"{row.dtype}{row.shape}".encode())
            h.update(row.tobytes())
        digests.append(h.digest())
    return digests


def _text_lengths(inputs):
    """`(lengths, padded_length)`: each row's length up to its last unmasked
    token, for inputs with a `padding_mask`; `(None, None)` for others."""
    if not isinstance(inputs, dict) or "padding_mask" not in inputs:
        return None, None
    mask = np.asarray(keras.ops.convert_to_numpy(inputs["padding_mask"])).astype(bool)
    if mask.ndim != 2:
        return None, None
    last = mask.shape[1] - np.argmax(mask[:, ::-1], axis=1)  # one past the last True
    return np.where(mask.any(axis=1), last, 0), mask.shape[1]


_PARTS = ("train_features", "train_labels", "validation_features", "validation_labels")


def _save(folder, features):
    """Writes the features to a temporary folder, then renames it into place."""

    def write(temporary):
        for name, value in zip(_PARTS, features):
            if value is not None:
                tf.data.Dataset.from_tensor_slices(value).save(os.path.join(temporary, name))

    write_folder(folder, write)


def _load(folder):
    loaded = []
    for name in _PARTS:
        path = os.path.join(folder, name)
        if not os.path.isdir(path):
            loaded.append(None)
            continue
        values = list(tf.data.Dataset.load(path).batch(4096).as_numpy_iterator())
        loaded.append(np.concatenate(values) if values else None)
    return tuple(loaded)
