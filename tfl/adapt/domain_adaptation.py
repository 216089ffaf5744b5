"""Domain adaptation with `fit`: a labelled source stream, a target stream, one objective.

`DomainAdaptation` wraps a tfl classifier in a `keras.Model` whose
`train_step` minimises, per batch,

    J = alpha * J_src + beta * J_tgt + align_weight * alignment

where `J_src` is the cross-entropy on the source batch, `J_tgt` the
cross-entropy on the target examples that have a label (label -1 marks a
missing one), and `alignment` one of: MMD or CORAL between the source and
target features, or the domain classifier's loss behind a gradient reversal
layer (DANN). The classifier's own layers train, so after `fit` the plain
classifier is the adapted model: save, evaluate and export it as usual.

`paired_dataset` feeds it: each source batch is zipped with the next batch of
a repeated target stream, so an epoch is one pass over the source.
"""

import keras
import tensorflow as tf
from keras import ops

from tfl.adapt.alignment import coral
from tfl.adapt.alignment import mmd
from tfl.adapt.gradient_reversal import GradientReversal
from tfl.config.train_config import ADAPTATION_METHODS
from tfl.model.classifier import Classifier
from tfl.model.prebuild import prebuild_optimizer
from tfl.serialization import keras_serializable

METHODS = ADAPTATION_METHODS
MISSING_LABEL = -1
_ALIGNMENTS = {"mmd": mmd, "coral": coral}


@keras_serializable
class DomainAdaptation(keras.Model):
    """A classifier trained on a labelled source and a (partly) labelled or unlabelled target.

    Each training batch is `(x, y)` with `x = {"source": ..., "target": ...}`
    and `y = {"source": labels}` or `{"source": labels, "target": labels}`,
    target labels -1 where missing: what `paired_dataset` yields. The source
    and target inputs go through the classifier as one concatenated batch,
    so they need the same structure and the same shapes but for the batch
    size. Per batch, `train_step` minimises

        J = alpha * J_src + beta * J_tgt + align_weight * alignment

    - `J_src`: mean sparse cross-entropy on the source batch.
    - `J_tgt`: mean sparse cross-entropy over the target examples with a
      label (0 for a batch without any).
    - `alignment`, by `method`:
        - "source_only": none; `J = alpha * J_src`, and `beta` and
          `align_weight` are not used. The target batches are only scored.
        - "joint": none; `J = alpha * J_src + beta * J_tgt`. With `alpha=0`
          this is fine-tuning on the target labels alone.
        - "mmd": `tfl.adapt.mmd` between source and target features.
        - "coral": `tfl.adapt.coral` between them.
        - "dann": binary cross-entropy of a small domain classifier (an MLP,
          source = 0, target = 1) on the features seen through a
          `GradientReversal` layer: the domain classifier learns to separate
          the domains, the layers below learn to make them inseparable (Ganin
          et al. 2016). Ramp the reversal with `tfl.adapt.ReversalRamp`.

    `alpha` and `beta` are mixing weights in [0, 1] (how much of each
    supervised loss enters `J`; they need not sum to 1). `align_weight` (the
    lambda of the papers) is any number >= 0: the alignment terms have their
    own scales.

    The training logs hold, averaged over the epoch: `loss` (J),
    `source_loss`, `source_accuracy`, `target_loss` (over labelled target
    examples), `alignment_loss` (the unweighted alignment term; 0 for
    "source_only" and "joint"), `target_accuracy` when the target stream has
    labels, and `domain_accuracy` for "dann". `validation_data` is a plain
    `(x, y)` dataset of the target domain; it is scored by the classifier
    alone, as `val_loss` and `val_accuracy`.

    Args:
        classifier: a single-label classifier returning class probabilities:
            a tfl `ImageClassifier`/`TextClassifier` (its `feature_model()`
            gives the features), or any functional model with a layer named
            by `features_layer`.
        method: one of "source_only", "joint", "mmd", "coral", "dann".
        alpha: mixing weight of the source loss, in [0, 1].
        beta: mixing weight of the target supervised loss, in [0, 1].
        align_weight: weight (lambda) of the alignment term, >= 0.
        features_layer: name of the layer of `classifier` whose output is the
            feature vector (shape (batch, d)); None uses
            `classifier.feature_model()`.
        domain_units: width of the two hidden layers of DANN's domain
            classifier.
        reversal_strength: DANN: the initial strength of the gradient
            reversal (`ReversalRamp` overrides it during `fit`).
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Examples:

    >>> target = tf.data.Dataset.from_tensor_slices({"images": images[:4] / 2}).batch(2)
    >>> model.backbone.trainable = False  # here only the head adapts
    >>> adapted = DomainAdaptation(model, method="mmd", align_weight=1.0)
    >>> adapted.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = adapted.fit(paired_dataset(data.train, target), epochs=1, verbose=0)
    >>> sorted(history.history)[:3]
    ['alignment_loss', 'loss', 'source_accuracy']
    >>> model.save("adapted.keras")  # the classifier holds the adapted weights
    """

    def __init__(
        self,
        classifier,
        method="joint",
        *,
        alpha=1.0,
        beta=1.0,
        align_weight=1.0,
        features_layer=None,
        domain_units=64,
        reversal_strength=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if method not in METHODS:
            raise ValueError(f"Unknown method {method!r}. Known: {', '.join(METHODS)}. Received: method={method!r}")
        alpha = _mixing_weight(alpha, "alpha", "the source loss")
        beta = _mixing_weight(beta, "beta", "the target supervised loss")
        align_weight = _non_negative(align_weight, "align_weight")
        _check_something_trains(method, alpha, beta, align_weight)
        if isinstance(classifier, Classifier) and classifier.multi_label:
            raise ValueError(
                "DomainAdaptation trains single-label classifiers (softmax outputs); "
                f"{classifier.name!r} is multi-label."
            )

        # === Layers ===
        self.classifier = classifier
        features = _features_of(classifier, features_layer)
        self.features_and_predictions = keras.Model(
            classifier.inputs, [features, classifier.outputs[0]], name="features_and_predictions"
        )
        self.gradient_reversal = None
        self.domain_classifier = None
        if method == "dann":
            self.gradient_reversal = GradientReversal(reversal_strength, name="gradient_reversal")
            self.domain_classifier = keras.Sequential(
                [
                    keras.Input(shape=(features.shape[-1],)),
                    keras.layers.Dense(domain_units, activation="relu"),
                    keras.layers.Dense(domain_units, activation="relu"),
                    keras.layers.Dense(1, dtype="float32"),
                ],
                name="domain_classifier",
            )

        # === Metrics ===
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.source_loss_tracker = keras.metrics.Mean(name="source_loss")
        self.target_loss_tracker = keras.metrics.Mean(name="target_loss")
        self.alignment_loss_tracker = keras.metrics.Mean(name="alignment_loss")
        self.source_accuracy = keras.metrics.SparseCategoricalAccuracy(name="source_accuracy")
        self.target_accuracy = keras.metrics.SparseCategoricalAccuracy(name="target_accuracy")
        self.domain_accuracy = keras.metrics.BinaryAccuracy(name="domain_accuracy", threshold=0.0)
        self.val_loss_tracker = keras.metrics.Mean(name="validation_loss")
        self.val_accuracy = keras.metrics.SparseCategoricalAccuracy(name="validation_accuracy")
        self.built = True

        # === Config ===
        self.method = method
        self.alpha = alpha
        self.beta = beta
        self.align_weight = align_weight
        self.features_layer = features_layer
        self.domain_units = domain_units
        self.reversal_strength = reversal_strength

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.source_loss_tracker,
            self.target_loss_tracker,
            self.alignment_loss_tracker,
            self.source_accuracy,
            self.target_accuracy,
            self.domain_accuracy,
            self.val_loss_tracker,
            self.val_accuracy,
        ]

    def call(self, inputs, training=None):
        return self.classifier(inputs, training=training)

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit` on a `paired_dataset`; `shuffle` is False by default,
        since the source and target pipelines shuffle themselves (Keras would
        ignore `shuffle=True` on a `tf.data.Dataset` and warn)."""
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        prebuild_optimizer(self)  # one trace of the training step, not two
        return super().fit(x, *args, **kwargs)

    def objective(self, x, y, training=False):
        """The terms of `J` on one paired batch.

        Args:
            x: `{"source": inputs, "target": inputs}`.
            y: `{"source": labels}`, with `"target": labels` (-1 where missing)
                when the target has labels.
            training: run the classifier in training mode.

        Returns:
            A dict of scalars `loss`, `source_loss`, `target_loss`,
            `alignment_loss`, and the tensors the metrics need.

        Raises:
            ValueError: when nothing would train on the target: the target
                has no labels and the method has no alignment term.
        """
        has_target_labels = "target" in y
        if not has_target_labels and self.method != "source_only" and not self._aligns():
            raise ValueError(
                f"The target stream has no labels and method={self.method!r} with "
                f"align_weight={self.align_weight} has no alignment term: nothing would learn on the "
                "target. Give target labels (-1 for missing ones), or use method='mmd', 'coral' or 'dann'."
            )
        source_count = ops.shape(keras.tree.flatten(x["source"])[0])[0]
        joined = keras.tree.map_structure(
            lambda s, t: ops.concatenate([s, ops.cast(t, s.dtype)], axis=0), x["source"], x["target"]
        )
        features, probabilities = self.features_and_predictions(joined, training=training)
        source_features, target_features = features[:source_count], features[source_count:]
        source_probabilities = probabilities[:source_count]
        target_probabilities = probabilities[source_count:]
        source_labels = ops.cast(y["source"], "int32")
        source_loss = ops.mean(keras.losses.sparse_categorical_crossentropy(source_labels, source_probabilities))
        terms = {
            "source_loss": source_loss,
            "source_labels": source_labels,
            "source_probabilities": source_probabilities,
            "target_loss": ops.convert_to_tensor(0.0),
            "target_count": ops.convert_to_tensor(0.0),
        }
        total = self.alpha * source_loss
        if has_target_labels:
            labels = ops.cast(y["target"], "int32")
            labelled = ops.cast(labels >= 0, "float32")
            safe_labels = ops.where(labels >= 0, labels, 0)
            cross_entropy = keras.losses.sparse_categorical_crossentropy(safe_labels, target_probabilities)
            count = ops.sum(labelled)
            terms.update(
                target_loss=ops.sum(cross_entropy * labelled) / ops.maximum(count, 1.0),
                target_count=count,
                target_labels=safe_labels,
                target_mask=labelled,
                target_probabilities=target_probabilities,
            )
            if self.method != "source_only":
                total = total + self.beta * terms["target_loss"]
        alignment = ops.convert_to_tensor(0.0)
        if self.method in _ALIGNMENTS:
            alignment = _ALIGNMENTS[self.method](source_features, target_features)
        elif self.method == "dann":
            logits = ops.squeeze(self.domain_classifier(self.gradient_reversal(features), training=training), -1)
            domains = ops.concatenate(
                [ops.zeros_like(source_features[:, 0]), ops.ones_like(target_features[:, 0])], axis=0
            )
            domains = ops.cast(domains, "float32")
            alignment = ops.mean(keras.losses.binary_crossentropy(domains[:, None], logits[:, None], from_logits=True))
            terms.update(domains=domains, domain_logits=logits)
        if self.method not in ("source_only", "joint"):
            total = total + self.align_weight * alignment
        terms.update(loss=total, alignment_loss=alignment)
        return terms

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            terms = self.objective(x, y, training=True)
            scaled = self.optimizer.scale_loss(terms["loss"])
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        return self._update_metrics(terms, target_labels="target" in y)

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        probabilities = self.classifier(x, training=False)
        labels = ops.cast(y, "int32")
        self.val_loss_tracker.update_state(keras.losses.sparse_categorical_crossentropy(labels, probabilities))
        self.val_accuracy.update_state(labels, probabilities)
        return {"loss": self.val_loss_tracker.result(), "accuracy": self.val_accuracy.result()}

    def _update_metrics(self, terms, target_labels):
        self.loss_tracker.update_state(terms["loss"])
        self.source_loss_tracker.update_state(terms["source_loss"])
        self.target_loss_tracker.update_state(terms["target_loss"], sample_weight=terms["target_count"])
        self.alignment_loss_tracker.update_state(terms["alignment_loss"])
        self.source_accuracy.update_state(terms["source_labels"], terms["source_probabilities"])
        logs = {
            "loss": self.loss_tracker.result(),
            "source_loss": self.source_loss_tracker.result(),
            "source_accuracy": self.source_accuracy.result(),
            "target_loss": self.target_loss_tracker.result(),
            "alignment_loss": self.alignment_loss_tracker.result(),
        }
        if target_labels:
            self.target_accuracy.update_state(
                terms["target_labels"], terms["target_probabilities"], sample_weight=terms["target_mask"]
            )
            logs["target_accuracy"] = self.target_accuracy.result()
        if self.method == "dann":
            self.domain_accuracy.update_state(terms["domains"], terms["domain_logits"])
            logs["domain_accuracy"] = self.domain_accuracy.result()
        return logs

    def _aligns(self):
        return self.method in ("mmd", "coral", "dann") and self.align_weight > 0

    def get_config(self):
        return {
            "classifier": keras.layers.serialize(self.classifier),
            "method": self.method,
            "alpha": self.alpha,
            "beta": self.beta,
            "align_weight": self.align_weight,
            "features_layer": self.features_layer,
            "domain_units": self.domain_units,
            "reversal_strength": self.reversal_strength,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["classifier"] = keras.layers.deserialize(config["classifier"])
        return cls(**config)


def paired_dataset(source, target):
    """Zips each source batch with the next batch of the repeated target stream.

    An epoch is one pass over `source`; the target stream restarts (and
    reshuffles, if it shuffles) whenever it runs out, so it may be smaller or
    larger than the source.

    Args:
        source: a batched `tf.data.Dataset` of `(inputs, labels)`, e.g. a
            `tfl.data.ImageData`'s `train`.
        target: a batched `tf.data.Dataset` of `inputs` (unlabelled) or of
            `(inputs, labels)` with label -1 (`MISSING_LABEL`) for an
            unlabelled example. Its inputs have the structure of the source's.

    Returns:
        A dataset of `({"source": inputs, "target": inputs}, {"source":
        labels[, "target": labels]})` for `DomainAdaptation.fit`.

    Raises:
        ValueError: when either stream is empty, or the source has no labels.

    Examples:

    >>> target = tf.data.Dataset.from_tensor_slices({"images": images[:3]}).batch(2)
    >>> paired = paired_dataset(data.train, target)
    >>> sorted(paired.element_spec[0]), sorted(paired.element_spec[1])
    (['source', 'target'], ['source'])
    """
    source_spec = source.element_spec
    if not (isinstance(source_spec, tuple) and len(source_spec) == 2):
        raise ValueError(
            "The source stream yields (inputs, labels) pairs: every source example needs a label. "
            f"Received elements of {source_spec}"
        )
    _check_not_empty(source, "source")
    _check_not_empty(target, "target")
    target_spec = target.element_spec
    labelled = isinstance(target_spec, tuple) and len(target_spec) == 2
    if isinstance(target_spec, tuple) and len(target_spec) not in (1, 2):
        raise ValueError(
            "The target stream yields inputs, or (inputs, labels) pairs with -1 for a missing label. "
            f"Received elements of {target_spec}"
        )

    def join(source_element, target_element):
        source_x, source_y = source_element
        if labelled:
            target_x, target_y = target_element
            return {"source": source_x, "target": target_x}, {"source": source_y, "target": target_y}
        if isinstance(target_element, tuple):
            (target_element,) = target_element
        return {"source": source_x, "target": target_element}, {"source": source_y}

    pairs = tf.data.Dataset.zip((source, target.repeat()))
    return pairs.map(join, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _check_not_empty(dataset, name):
    cardinality = int(dataset.cardinality())
    empty = cardinality == 0
    if cardinality < 0 and cardinality != int(tf.data.INFINITE_CARDINALITY):  # unknown: look
        empty = not any(True for _ in dataset.take(1))
    if empty:
        raise ValueError(
            f"The {name} stream is empty: it yields no batch. Check the {name} data (and any filter applied to it)."
        )


def _features_of(classifier, features_layer):
    if features_layer is not None:
        try:
            return classifier.get_layer(features_layer).output
        except ValueError:
            names = ", ".join(layer.name for layer in classifier.layers)
            raise ValueError(
                f"The classifier has no layer named {features_layer!r}. Its layers: {names}. "
                f"Received: features_layer={features_layer!r}"
            ) from None
    if not isinstance(classifier, Classifier):
        raise ValueError(
            f"{type(classifier).__name__} is not a tfl classifier (no feature_model()); name the layer whose output is the "
            "feature vector with features_layer=..."
        )
    return classifier.feature_model().outputs[0]


def _mixing_weight(value, name, what):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} is a mixing weight of {what} and lies in [0, 1]. Received: {name}={value!r}")
    return value


def _non_negative(value, name):
    value = float(value)
    if not 0.0 <= value < float("inf"):
        raise ValueError(f"{name} is a finite weight >= 0. Received: {name}={value!r}")
    return value


def _check_something_trains(method, alpha, beta, align_weight):
    if method == "source_only":
        if alpha == 0:
            raise ValueError("method='source_only' with alpha=0 trains nothing. Received: alpha=0.0")
        return
    aligns = method in ("mmd", "coral", "dann") and align_weight > 0
    if beta == 0 and not aligns:
        term = "method='joint' has no alignment term" if method == "joint" else f"align_weight={align_weight}"
        raise ValueError(
            f"beta=0 and {term}: nothing would learn on the target. Use method='source_only' for a "
            "source-only model, beta > 0 with target labels, or an alignment term (align_weight > 0). "
            f"Received: method={method!r}, beta={beta}, align_weight={align_weight}"
        )
