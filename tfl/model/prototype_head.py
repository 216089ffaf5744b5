"""`PrototypeHead`: a classifier head that scores features against class prototypes.

The head keeps one prototype per class, `[C, D]`, as a weight, and returns
`softmax(prototype_scores(features, prototypes))` (`tfl.model.prototypes`):
with the "cosine" metric `cos(f, p_k) / temperature`, with "euclidean"
`-||f - p_k||^2 / temperature`. The prototypes are fitted as class means of
frozen features (`tfl.train.fit_prototypes`, no gradient step), and a later
stage that trains with gradients trains them as the weights of a cosine
classifier ("Baseline++", Chen et al. 2019). A model with this head takes new
classes from a few examples each (`Classifier.add_classes`).

`build_head` builds the head a classifier asks for: a `Dense` layer or a
`PrototypeHead`, both named "predictions" and float32.
"""

import keras

from tfl.model.prototypes import DEFAULT_TEMPERATURE
from tfl.model.prototypes import check_metric
from tfl.model.prototypes import check_temperature
from tfl.model.prototypes import prototype_scores
from tfl.serialization import keras_serializable

HEADS = ("dense", "prototypes")
HEAD_NAME = "predictions"


@keras_serializable
class PrototypeHead(keras.layers.Layer):
    """Class probabilities from the distance of features to class prototypes.

    Args:
        num_classes: how many prototypes (classes).
        metric: "cosine" (cosine similarity to the prototypes) or "euclidean"
            (negative squared distance).
        temperature: the scores are divided by it before the softmax; None
            for the metric's default (0.1 for cosine, 1.0 for euclidean).
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`).

    Examples:

    >>> head = PrototypeHead(2, metric="euclidean")
    >>> head.build((None, 2))
    >>> _ = head.prototypes.assign([[0.0, 0.0], [1.0, 0.0]])
    >>> np.round(np.asarray(head(np.zeros((1, 2), "float32")), "float64"), 4).tolist()
    [[0.7311, 0.2689]]
    """

    def __init__(self, num_classes, metric="cosine", temperature=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a whole number >= 1. Received: num_classes={num_classes!r}")
        self.num_classes = num_classes
        self.metric = check_metric(metric)
        self.temperature = None if temperature is None else check_temperature(temperature)

    @property
    def effective_temperature(self):
        """The temperature the scores are divided by (the metric's default when None)."""
        return DEFAULT_TEMPERATURE[self.metric] if self.temperature is None else self.temperature

    def build(self, input_shape):
        self.prototypes = self.add_weight(
            shape=(self.num_classes, int(input_shape[-1])),
            initializer="glorot_uniform",
            name="prototypes",
        )

    def scores(self, features):
        """The scores (logits) `[B, C]` before the softmax."""
        return prototype_scores(
            features, self.prototypes, metric=self.metric, temperature=self.effective_temperature
        )

    def call(self, features):
        return keras.ops.softmax(self.scores(features), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, metric=self.metric, temperature=self.temperature)
        return config


def check_head(head, metric="cosine", temperature=None, *, multi_label=False):
    """Checks a classifier's head choice; returns `(head, metric, temperature)`.

    Examples:

    >>> check_head("prototypes", "euclidean", 2)
    ('prototypes', 'euclidean', 2.0)
    """
    if head not in HEADS:
        raise ValueError(f"Unknown head {head!r}. Known: {', '.join(HEADS)}. Received: head={head!r}")
    check_metric(metric)
    if temperature is not None:
        temperature = check_temperature(temperature)
    if head == "prototypes" and multi_label:
        raise ValueError(
            "A prototype head classifies each example into one class (a softmax over prototype "
            "distances); it does not do multi-label. Received: head='prototypes', multi_label=True. "
            "Use head='dense' for multi-label, or multi_label=False."
        )
    return head, metric, temperature


def build_head(num_classes, *, multi_label=False, head="dense", metric="cosine", temperature=None):
    """The output layer of a classifier: a softmax (or sigmoid, multi-label)
    `Dense` layer, or a `PrototypeHead`; float32, named "predictions".

    Examples:

    >>> type(build_head(3, head="prototypes")).__name__
    'PrototypeHead'
    >>> build_head(3).activation.__name__
    'softmax'
    """
    head, metric, temperature = check_head(head, metric, temperature, multi_label=multi_label)
    if head == "prototypes":
        return PrototypeHead(num_classes, metric=metric, temperature=temperature, name=HEAD_NAME)
    return keras.layers.Dense(
        num_classes, activation="sigmoid" if multi_label else "softmax", dtype="float32", name=HEAD_NAME
    )
