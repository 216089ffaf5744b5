"""`Classifier`: the contract every tfl classifier keeps, and its `compile` defaults.

Training, evaluation, adaptation and export read a model only through this
contract (`task`, `class_names`, `multi_label`, `stage_layers()`,
`head_layers()`, `feature_model()`, `head_model()`, `training_options`), so
none of them needs to ask what kind of model it holds.
"""

import dataclasses
import math
import numbers

import keras
import tensorflow as tf

from tfl.config.class_names import check_class_names
from tfl.model.losses import balanced_class_weights
from tfl.model.losses import head_loss
from tfl.model.losses import head_metrics
from tfl.model.prebuild import prebuild_optimizer
from tfl.model.prototype_head import PrototypeHead
from tfl.model.prototypes import class_prototypes
from tfl.serialization import keras_serializable

TASKS = ("image", "text", "image_text")
_OPTIONS_KEY = "tfl_training_options"


@dataclasses.dataclass(frozen=True)
class TrainingOptions:
    """What a user chose in `Classifier.compile` besides the optimizer, kept
    by every stage's recompile.

    Args:
        loss: a Keras loss (object or name), or None for the head's own
            cross-entropy (`tfl.model.head_loss`).
        metrics: a list of Keras metrics, or None for `accuracy`.
        label_smoothing: in [0, 1), for the default loss.
        class_weight: None, "balanced" (resolved from the training labels by
            `tfl.fit_stages`), or {class name or index: weight}; through the
            default loss.
        weight_decay: decoupled weight decay of every stage's optimizer, or None.
        balanced: `class_weight` holds the weights "balanced" resolved from
            the last training data (`Classifier.balance_classes`); the next
            `tfl.fit_stages` counts its own training data again.

    Examples:

    >>> TrainingOptions(label_smoothing=0.1).label_smoothing
    0.1
    >>> TrainingOptions().loss is None
    True
    """

    loss: object = None
    metrics: object = None
    label_smoothing: float = 0.0
    class_weight: object = None
    weight_decay: float | None = None
    balanced: bool = False


# The key of `get_config` that lists the head layers frozen by hand.
FROZEN_HEAD_KEY = "frozen_head_layers"


@keras_serializable
class Classifier(keras.Model):
    """The base class of tfl's classifiers (image, text, fusion).

    Subclasses build a functional model `inputs -> backbone(s) -> pooled
    features -> dropout -> head` and set `class_names`, `multi_label`,
    `head_dropout` and `head`, and define `features` (the symbolic pooled
    features). The
    base class gives them the rest of the contract and a `compile()` whose
    defaults fit the head, which users can change.

    Examples:

    >>> backbone = tfl.backbones.build_backbone("mobilenet_v3_small", weights=None, image_size=32)
    >>> model = tfl.ImageClassifier(backbone, ["cat", "dog"], "mobilenet_v3_small", (32, 32))
    >>> isinstance(model, Classifier), model.task
    (True, 'image')
    >>> model.compile(label_smoothing=0.1, class_weight={"dog": 2.0})
    >>> model.loss.class_weights
    [1.0, 2.0]
    """

    #: "image", "text", or "image_text" (a fusion of both).
    task = "image"
    #: The image augmentation layer, or None.
    augmenter = None
    #: Whether the model reads sentence pairs (a `TextClassifier` trained with a second text).
    text_pairs = False
    _training_options = TrainingOptions()

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def training_options(self):
        """The `TrainingOptions` of the last `compile` (defaults before any)."""
        return self._training_options

    @property
    def features(self):
        """The symbolic features the head reads (the pooled backbone output)."""
        raise NotImplementedError(f"{type(self).__name__} must implement features.")

    def stage_layers(self):
        """The backbone's layers per named stage, from input to output."""
        raise NotImplementedError(f"{type(self).__name__} must implement stage_layers().")

    def head_layers(self):
        """The layers after the backbone(s): they train in every stage."""
        raise NotImplementedError(f"{type(self).__name__} must implement head_layers().")

    def frozen_head_layer_names(self):
        """The head layers with weights frozen by hand (`layer.trainable = False`), which a
        `.keras` file keeps frozen (`FROZEN_HEAD_KEY`): the classifier rebuilds these layers
        when it loads, and would otherwise train more variables than its saved optimizer
        state holds (Keras then skips that state)."""
        return [layer.name for layer in self.head_layers() if layer.weights and not layer.trainable]

    def freeze_head_layers(self, names):
        """Sets `trainable = False` on the head layers named (`frozen_head_layer_names` of a saved model)."""
        for layer in self.head_layers():
            if layer.name in set(names):
                layer.trainable = False

    def feature_model(self):
        """A model from this model's inputs to the features the head reads."""
        return keras.Model(self.inputs, self.features)

    def head_model(self):
        """A model from features to probabilities that shares this model's
        dropout and output layers: training it trains this model's head."""
        features = keras.Input(shape=self.features.shape[1:], name="features")
        return keras.Model(features, self.head(self.head_dropout(features)), name="head")

    def class_scores(self, features):
        """The head's score of each class for `features`, before its
        activation: what explanations differentiate.

        Sigmoid heads (multi-label): each class's logit. Softmax heads (a
        prototype head's scores included): each
        logit minus the mean logit; a softmax is unchanged by adding one
        number to every logit, so only these centred logits are fixed by the
        model (with two classes, half the logit difference).

        Args:
            features: the pooled features `[B, features]` (symbolic or not).

        Returns:
            A float32 tensor `[B, num_classes]`.

        Examples:

        >>> backbone = tfl.backbones.build_backbone("mobilenet_v3_small", weights=None, image_size=32)
        >>> model = tfl.ImageClassifier(backbone, ["cat", "dog"], "mobilenet_v3_small", (32, 32))
        >>> scores = model.class_scores(np.ones((1, 576), "float32"))
        >>> scores.shape, round(float(scores[0, 0] + scores[0, 1]), 5)  # centred: they sum to 0
        (TensorShape([1, 2]), 0.0)
        """
        features = keras.ops.cast(features, "float32")
        if self.prototype_head:
            logits = self.head.scores(features)
        else:
            logits = keras.ops.matmul(features, self.head.kernel)
            if self.head.use_bias:
                logits = logits + self.head.bias
        if self.multi_label:
            return logits
        return logits - keras.ops.mean(logits, axis=-1, keepdims=True)

    @property
    def prototype_head(self):
        """Whether the head is a `PrototypeHead` (`head="prototypes"`)."""
        return isinstance(self.head, PrototypeHead)

    def add_classes(self, examples):
        """A copy of this model that also knows the classes of `examples`,
        each with one new prototype: the mean of its examples' features
        (in the head's metric), without any training. This model is left
        unchanged; the copy is not compiled.

        Args:
            examples: {class name: examples}, a handful each: image file
                paths or arrays `[N, height, width, 3]` in [0, 255] (image
                models), strings (text models).

        Returns:
            A classifier of the same kind with `class_names` extended by the
            new names, in the order given.

        Raises:
            ValueError: the head is not a prototype head (build with
                `head="prototypes"`), a name is already a class or invalid,
                or a class has no example.

        Examples:

        >>> backbone = tfl.backbones.build_backbone("mobilenet_v3_small", weights=None, image_size=32)
        >>> model = tfl.ImageClassifier(backbone, ["cat", "dog"], "mobilenet_v3_small", (32, 32),
        ...                             head="prototypes")
        >>> bigger = model.add_classes({"bird": np.zeros((2, 32, 32, 3))})
        >>> bigger.class_names, model.class_names
        (['cat', 'dog', 'bird'], ['cat', 'dog'])
        """
        if not self.prototype_head:
            raise ValueError(
                f"add_classes adds prototypes, and this {type(self).__name__} has a dense head. Build the model "
                "with head='prototypes' (ModelConfig(head='prototypes'), tfl train --head prototypes), fit it, "
                "then add classes."
            )
        if not isinstance(examples, dict) or not examples:
            raise ValueError(
                "add_classes takes {class name: examples}, e.g. {'bird': ['bird1.jpg', 'bird2.jpg']}. "
                f"Received: {examples!r:.200}"
            )
        check_class_names(list(examples), strings_only=True)
        class_names = check_class_names([*self.class_names, *examples])
        feature_model = self.feature_model()
        features, labels = [], []
        for index, (name, items) in enumerate(examples.items()):
            for inputs in self._example_inputs(name, items):
                batch = keras.ops.convert_to_numpy(feature_model(inputs, training=False))
                features.append(batch)
                labels += [index] * len(batch)
        added = class_prototypes(
            keras.ops.concatenate(features), labels, len(examples), metric=self.head.metric
        )
        model = self._with_class_names(class_names)
        for old, new in zip(self.layers, model.layers):
            if old is not self.head:
                new.set_weights(old.get_weights())
        model.head.prototypes.assign(keras.ops.concatenate([self.head.prototypes, added]))
        return model

    def _with_class_names(self, class_names):
        """A new model of this model's config with other class names (its weights freshly initialised)."""
        return type(self).from_config({**self.get_config(), "class_names": class_names})

    def _example_inputs(self, name, items):
        """This model's input dicts (batches) for one class's raw examples."""
        raise NotImplementedError(f"{type(self).__name__} takes no raw examples for add_classes.")

    def backbone_input_model(self):
        """A model from this model's inputs to its backbone's input (images
        resized and preprocessed), for BatchNorm statistics; None for models
        without image backbones."""
        return None

    def compile(
        self,
        optimizer="adam",
        loss="auto",
        metrics="auto",
        *,
        label_smoothing=0.0,
        class_weight=None,
        weight_decay=None,
        soft_targets=False,
        **kwargs,
    ):
        """Configures training; the defaults fit the head.

        `tfl.fit_stages` recompiles for every stage with the stage's optimizer
        and keeps everything else chosen here.

        Args:
            optimizer: a Keras optimizer or its name.
            loss: "auto" (cross-entropy for the softmax or sigmoid head, with
                `label_smoothing` and `class_weight`) or any Keras loss.
            metrics: "auto" (`accuracy`) or a list of Keras metrics.
            label_smoothing: in [0, 1): targets move this far towards uniform.
            class_weight: None, "balanced" (n / (classes * count), resolved
                from the training labels by `tfl.fit_stages`), or a dict
                {class name or index: weight} (missing classes weigh 1).
                Applied through the loss, so it works with `tf.data` and
                survives every stage's recompile.
            weight_decay: decoupled weight decay for the optimizer (every
                Keras optimizer takes it), e.g. 1e-4.
            soft_targets: single-label training targets are class
                probabilities `[B, C]` (MixUp, CutMix; validation keeps class
                ids): the head's own loss and accuracy accept both. For this
                compile only (`tfl.fit_stages` sets it per stage); not with a
                `loss` of your own.
            **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`).
        """
        options = self._check_training_options(loss, metrics, label_smoothing, class_weight, weight_decay)
        self._training_options = options
        optimizer = keras.optimizers.get(optimizer)
        if options.weight_decay is not None:
            optimizer.weight_decay = options.weight_decay
        super().compile(
            optimizer=optimizer,
            loss=self.training_loss(soft_targets),
            metrics=self.training_metrics(soft_targets),
            **kwargs,
        )

    def recompile(self, optimizer, **kwargs):
        """Compiles again with a new optimizer, keeping the training options."""
        options = self._training_options
        self.compile(
            optimizer,
            options.loss or "auto",
            options.metrics or "auto",
            label_smoothing=options.label_smoothing,
            class_weight=options.class_weight,
            weight_decay=options.weight_decay,
            **kwargs,
        )
        if options.balanced:  # resolved weights, to be counted again on other training data
            self._training_options = dataclasses.replace(self._training_options, balanced=True)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config:
            options = self._training_options
            config[_OPTIONS_KEY] = {
                "default_loss": options.loss is None,
                "default_metrics": options.metrics is None,
                "label_smoothing": options.label_smoothing,
                "class_weight": options.class_weight
                if not isinstance(options.class_weight, dict)
                else sorted(options.class_weight.items()),
                "weight_decay": options.weight_decay,
                "balanced": options.balanced,
            }
        return config

    def compile_from_config(self, config):
        config = dict(config)
        options = config.pop(_OPTIONS_KEY, None)
        config = keras.saving.deserialize_keras_object(config)
        if options is not None:
            class_weight = options["class_weight"]
            config.update(
                loss="auto" if options["default_loss"] else config.get("loss"),
                metrics="auto" if options["default_metrics"] else config.get("metrics"),
                label_smoothing=options["label_smoothing"],
                class_weight=dict((int(i), w) for i, w in class_weight) if isinstance(class_weight, list) else class_weight,
                weight_decay=options["weight_decay"],
            )
        self.compile(**config)
        if options is not None and options.get("balanced"):
            self._training_options = dataclasses.replace(self._training_options, balanced=True)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def training_loss(self, soft_targets=False):
        """The loss of the training options (the head's cross-entropy by
        default); `soft_targets`: one that also takes class probabilities."""
        options = self._training_options
        if options.loss is not None:
            if soft_targets:
                raise ValueError(
                    "MixUp and CutMix train on soft targets through the head's own loss; this classifier was "
                    f"compiled with its own loss. Received: loss={options.loss!r}. Compile with loss='auto' "
                    "(label_smoothing= and class_weight= still apply), or turn mixup and cutmix off."
                )
            return options.loss
        return head_loss(self.multi_label, options.label_smoothing, self.class_weights(), soft_targets=soft_targets)

    def class_weights(self):
        """One loss weight per class from `class_weight`, or None (no weights,
        or "balanced" not yet resolved by `balance_classes`)."""
        class_weight = self._training_options.class_weight
        if not isinstance(class_weight, dict):
            return None
        return [float(class_weight.get(index, 1.0)) for index in range(self.num_classes)]

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`, refusing an unresolved `class_weight="balanced"`;
        `shuffle` is False by default for a `tf.data.Dataset`, which shuffles
        itself (Keras would ignore `shuffle=True` and warn). The optimizer is
        built before the first step (`tfl.model.prebuild`)."""
        if self._training_options.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' needs the training labels. Train with tfl.fit_stages(model, data, ...), "
                "which counts them, or pass the weights: "
                "model.compile(class_weight=dict(enumerate(tfl.model.balanced_class_weights(counts))))."
            )
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        prebuild_optimizer(self)  # one trace of the training step, not two
        return super().fit(x, *args, **kwargs)

    def training_metrics(self, soft_targets=False):
        """The metrics of the training options (`accuracy` by default, for
        soft targets too with `soft_targets`)."""
        metrics = self._training_options.metrics
        return head_metrics(self.multi_label, soft_targets) if metrics is None else list(metrics)

    def balance_classes(self, class_counts):
        """Resolves `class_weight="balanced"` from the training set's class
        counts (positives per class when multi-label), again for each training
        set (`TrainingOptions.balanced`); no-op otherwise."""
        if not self.counts_classes:
            return
        weights = dict(enumerate(balanced_class_weights(class_counts)))
        self._training_options = dataclasses.replace(self._training_options, class_weight=weights, balanced=True)

    @property
    def counts_classes(self):
        """Whether training needs the training data's class counts (`class_weight="balanced"`)."""
        options = self._training_options
        return options.balanced or options.class_weight == "balanced"

    def _check_training_options(self, loss, metrics, label_smoothing, class_weight, weight_decay):
        if isinstance(loss, str) and loss == "auto":
            loss = None
        if isinstance(metrics, str) and metrics == "auto":
            metrics = None
        if not isinstance(label_smoothing, numbers.Real) or not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be a number in [0, 1). Received: label_smoothing={label_smoothing!r}")
        if weight_decay is not None and (not isinstance(weight_decay, numbers.Real) or not 0 <= weight_decay < math.inf):
            raise ValueError(
                f"weight_decay must be a finite number >= 0 or None. Received: weight_decay={weight_decay!r}"
            )
        if loss is not None and (label_smoothing or class_weight is not None):
            raise ValueError(
                "label_smoothing and class_weight apply to tfl's default loss; with your own loss, build them "
                f"into it. Received: loss={loss!r}, label_smoothing={label_smoothing!r}, "
                f"class_weight={class_weight!r}"
            )
        return TrainingOptions(
            loss=loss,
            metrics=metrics,
            label_smoothing=float(label_smoothing),
            class_weight=self._class_weight_by_index(class_weight),
            weight_decay=None if weight_decay is None else float(weight_decay),
        )

    def _class_weight_by_index(self, class_weight):
        if class_weight is None or class_weight == "balanced":
            return class_weight
        if not isinstance(class_weight, dict):
            raise ValueError(
                "class_weight must be None, 'balanced' or a dict {class name or index: weight}. "
                f"Received: class_weight={class_weight!r}"
            )
        weights = {}
        for key, weight in class_weight.items():
            index = self.class_names.index(key) if key in self.class_names else key
            if not isinstance(index, int) or not 0 <= index < self.num_classes:
                raise ValueError(
                    f"Unknown class {key!r} in class_weight. Known: {', '.join(self.class_names)} "
                    f"(or indices 0 to {self.num_classes - 1})."
                )
            if not isinstance(weight, numbers.Real) or not 0 <= weight < math.inf:
                raise ValueError(f"A class weight is a finite number >= 0. Received: class_weight[{key!r}]={weight!r}")
            weights[index] = float(weight)
        return weights
