"""`TextClassifier`: token ids -> pretrained text encoder -> pooling -> head."""

import keras
import tensorflow as tf

from tfl import __version__
from tfl.backbones.encoders import encoder_stages
from tfl.config.class_names import check_class_names
from tfl.model.classifier import FROZEN_HEAD_KEY
from tfl.model.classifier import Classifier
from tfl.model.dtype_policy import dtype_policy
from tfl.model.model_file import VERSION_KEY
from tfl.model.prototype_head import build_head
from tfl.model.prototype_head import check_head
from tfl.model.text_pooling import BidirectionalLSTMPooling
from tfl.model.text_pooling import FirstTokenPooling
from tfl.model.text_pooling import MaskedMeanPooling
from tfl.serialization import keras_serializable

POOLINGS = ("cls", "mean", "lstm")
TOKEN_INPUTS = ("token_ids", "segment_ids", "padding_mask")


@keras_serializable
class TextClassifier(Classifier):
    """A functional text classifier around a KerasHub BERT-family encoder.

    Takes the outputs of the encoder's own preprocessor under the input names
    `token_ids`, `segment_ids` (BERT and ALBERT only) and `padding_mask`, and
    returns class probabilities (softmax, or one sigmoid per class when
    `multi_label`). The preprocessor travels with the model (its vocabulary
    included, through `.keras` files) as `model.preprocessor`, so raw text can
    be tokenized exactly as in training.

    Args:
        encoder: a KerasHub backbone (see `tfl.backbones.build_encoder`).
        preprocessor: its KerasHub `TextClassifierPreprocessor`.
        class_names: the names of the classes, in output order.
        encoder_name: what the encoder was loaded from (preset name or folder),
            for reports.
        pooling: "cls" (the encoder's pooled [CLS] output, or the first token
            for encoders without a pooler), "mean" (masked mean of the token
            outputs) or "lstm" (a bidirectional LSTM over the token outputs).
        dropout: dropout rate before the output layer.
        multi_label: sigmoid outputs (several classes per text) instead of a
            softmax.
        lstm_units: units per direction of the "lstm" pooling.
        text_pairs: whether it classifies sentence pairs (two segments); the
            export then serves pairs of strings.
        head: "dense" (a softmax or sigmoid `Dense` layer) or "prototypes"
            (a `tfl.model.PrototypeHead`: distances to class prototypes,
            single-label only; new classes come with `add_classes`).
        prototype_metric: "cosine" or "euclidean" (prototype head only).
        prototype_temperature: the prototype head's temperature, or None
            for the metric's default (0.1 cosine, 1.0 euclidean).
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Examples:

    >>> encoder, preprocessor = tfl.backbones.build_encoder("all_minilm_l6_v2", 64)
    >>> model = TextClassifier(encoder, preprocessor, ["negative", "positive"],
    ...                        encoder_name="all_minilm_l6_v2")
    >>> model.predict(preprocessor(tf.constant(["What a lovely day"]))).shape
    (1, 2)
    """

    def __init__(
        self,
        encoder,
        preprocessor,
        class_names,
        encoder_name,
        pooling="mean",
        dropout=0.2,
        multi_label=False,
        lstm_units=64,
        text_pairs=False,
        head="dense",
        prototype_metric="cosine",
        prototype_temperature=None,
        **kwargs,
    ):
        class_names = check_class_names(class_names, multi_label=multi_label)
        head, prototype_metric, prototype_temperature = check_head(
            head, prototype_metric, prototype_temperature, multi_label=multi_label
        )
        if pooling not in POOLINGS:
            raise ValueError(f"Unknown text pooling {pooling!r}. Known: {', '.join(POOLINGS)}.")

        has_pooler = isinstance(encoder.output, dict) and "pooled_output" in encoder.output

        # === Layers ===
        self.backbone = encoder
        self.preprocessor = preprocessor
        if pooling == "mean":
            self.pooler = MaskedMeanPooling(name="pooling")
        elif pooling == "lstm":
            self.pooler = BidirectionalLSTMPooling(lstm_units, name="pooling")
        elif has_pooler:
            self.pooler = keras.layers.Identity(name="pooling")
        else:
            self.pooler = FirstTokenPooling(name="pooling")
        self.head_dropout = keras.layers.Dropout(dropout, name="dropout")
        self.head = build_head(
            len(class_names),
            multi_label=multi_label,
            head=head,
            metric=prototype_metric,
            temperature=prototype_temperature,
        )

        # === Functional model ===
        names = [name for name in TOKEN_INPUTS if name in _input_names(encoder)]
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in names}
        features = _pooled(self.pooler, pooling, encoder(inputs), inputs["padding_mask"])
        predictions = self.head(self.head_dropout(features))
        super().__init__(inputs=inputs, outputs=predictions, **kwargs)

        # === Config ===
        self.class_names = class_names
        self.encoder_name = str(encoder_name)
        self.pooling = pooling
        self.dropout = dropout
        self.multi_label = multi_label
        self.lstm_units = lstm_units
        self.text_pairs = bool(text_pairs)
        self.head_type = head
        self.prototype_metric = prototype_metric
        self.prototype_temperature = prototype_temperature

    task = "text"

    @property
    def features(self):
        return self.pooler.output

    @property
    def sequence_length(self):
        return self.preprocessor.sequence_length

    def stage_layers(self):
        """The encoder's layers per named stage, from input to output:
        `embeddings`, `layer_0` ... `layer_{n-1}`, and `pooler` when the
        pooling uses it ("cls" on BERT and ALBERT)."""
        stages = encoder_stages(self.backbone)
        if self.pooling != "cls":
            stages.pop("pooler", None)  # unused: it stays frozen
        return stages

    def head_layers(self):
        """The layers after the encoder: they train in every stage."""
        return [self.pooler, self.head_dropout, self.head]

    def pooled_features(self, encoder_outputs, padding_mask):
        """The features the head reads, from the encoder's outputs (what
        `encoder(inputs)` returns) and the padding mask: this model's pooling,
        for callers that run the encoder themselves (token attributions)."""
        return _pooled(self.pooler, self.pooling, encoder_outputs, padding_mask)

    def _example_inputs(self, name, items):
        """Strings -> one batch of token inputs, tokenized by the model's preprocessor."""
        texts = [items] if isinstance(items, str) else list(items)
        if self.text_pairs or not texts or not all(isinstance(text, str) for text in texts):
            raise ValueError(
                f"The examples of class {name!r} must be a list of strings"
                f"{' (add_classes does not take sentence pairs)' if self.text_pairs else ''}. "
                f"Received: {items!r:.200}"
            )
        tokens = self.preprocessor(tf.constant(texts))
        return [{key: tokens[key] for key in self.input}]

    def get_config(self):
        return {
            "encoder": keras.layers.serialize(self.backbone),
            "preprocessor": keras.layers.serialize(self.preprocessor),
            "class_names": self.class_names,
            "encoder_name": self.encoder_name,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "multi_label": self.multi_label,
            "lstm_units": self.lstm_units,
            "text_pairs": self.text_pairs,
            "head": self.head_type,
            "prototype_metric": self.prototype_metric,
            "prototype_temperature": self.prototype_temperature,
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,  # the mixed-precision policy its own layers were built under
            VERSION_KEY: __version__,
            # A KerasHub backbone's config keeps no per-layer `trainable`;
            # without this, a loaded model has more trainable variables than
            # the saved optimizer state, which Keras then skips.
            "frozen_encoder_layers": [
                layer.name for layer in self.backbone.layers if layer.weights and not layer.trainable
            ],
            FROZEN_HEAD_KEY: self.frozen_head_layer_names(),
        }

    def _with_class_names(self, class_names):
        """A new model of this model's config with other class names, and this model's preprocessor:
        its tokenizer's vocabulary is an asset (written beside the config in a `.keras` file), which
        a preprocessor made from `get_config()` alone lacks."""
        return self._from_config({**self.get_config(), "class_names": class_names}, self.preprocessor)

    @classmethod
    def from_config(cls, config):
        with dtype_policy(config.get("dtype")):
            preprocessor = keras.layers.deserialize(config["preprocessor"])
        return cls._from_config(config, preprocessor)

    @classmethod
    def _from_config(cls, config, preprocessor):
        config = dict(config)
        config.pop(VERSION_KEY, None)
        frozen = set(config.pop("frozen_encoder_layers", ()))
        frozen_head = config.pop(FROZEN_HEAD_KEY, ())
        with dtype_policy(config.pop("dtype", None)):
            config["encoder"] = keras.layers.deserialize(config["encoder"])
            config["preprocessor"] = preprocessor
            model = cls(**config)
        for layer in model.backbone.layers:
            if layer.name in frozen:
                layer.trainable = False
        model.freeze_head_layers(frozen_head)
        return model


def _pooled(pooler, pooling, encoder_outputs, padding_mask):
    """The pooled features of the encoder's outputs, by the pooling's rule."""
    outputs = encoder_outputs
    sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
    if pooling == "cls":
        has_pooler = isinstance(outputs, dict) and "pooled_output" in outputs
        return pooler(outputs["pooled_output"] if has_pooler else sequence)
    return pooler(sequence, padding_mask)


def _input_names(encoder):
    inputs = encoder.input
    return set(inputs) if isinstance(inputs, dict) else {"token_ids"}
