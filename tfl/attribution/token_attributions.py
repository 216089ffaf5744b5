"""Token attributions for text classifiers: integrated gradients and gradient x input.

Both attribute the class score (`Classifier.class_scores`, the head before
its activation) to the token embeddings, the output of the encoder's token
embedding layer; position and segment embeddings are added after it, as the
encoder adds them (`tfl.backbones.encoders.token_embedding_split`). The
baseline replaces every word piece with the padding (or mask) token and keeps
the special tokens ([CLS], [SEP]), so special tokens get exactly 0.

- integrated gradients (Sundararajan et al. 2017): the mean gradient along
  the straight path from the baseline to the input embeddings (`steps`
  intervals, trapezoid rule) times `(input - baseline)`, summed over the
  embedding dimensions. The attributions add up to `score(input) -
  score(baseline)` up to the rule's error: the completeness gap, reported.
- gradient x input: the gradient at the input times `(input - baseline)`, one
  forward and backward pass (with a zero baseline, the classic gradient x
  input); no completeness.

`merge_word_pieces` then sums the pieces of each word and drops special tokens.
"""

import numpy as np
import tensorflow as tf

from tfl.attribution.grad_cam import check_method
from tfl.backbones.encoders import token_embedding_split
from tfl.model import TextClassifier
from tfl.traced import traced

METHODS = ("integrated_gradients", "gradient_x_input")
BASELINES = ("pad", "mask")
MIN_STEPS, MAX_STEPS = 1, 512


class TokenAttributor:
    """Batched token attributions in graph mode for a `tfl.TextClassifier`.

    Args:
        model: a `tfl.TextClassifier` (built by tfl or loaded from `.keras`).
        method: "integrated_gradients" or "gradient_x_input".
        steps: integrated gradients' intervals along the path (32-64 give
            completeness gaps of a few percent or less of the score change).
        baseline: "pad" (the padding token's embedding) or "mask" (the
            [MASK] token's) in place of every word piece.

    Call arguments:
        inputs: the preprocessor's dict (`token_ids`, `padding_mask`, and
            `segment_ids` for BERT) of a batch.
        class_indices: `[B]` ints, the class to explain per input; -1 (or
            None for all) for the highest-scoring class.

    Returns:
        A dict of numpy arrays: `attributions` `[B, T]` (per token, 0 for
        special and padding tokens), `scores` `[B, C]`, `classes` `[B]`,
        `score_change` `[B]` (score of the input minus score of the baseline,
        for the class explained) and `completeness_gap` `[B]`
        (|sum(attributions) - score_change|).

    Examples:

    >>> classifier = tfl.TextClassifier(encoder, preprocessor, ["neg", "pos"], encoder_name="tiny")
    >>> attributor = TokenAttributor(classifier, steps=16)
    >>> result = attributor(preprocessor(tf.constant(["the cat sat", "a good movie"])))
    >>> result["attributions"].shape, bool(result["completeness_gap"].max() < 0.05)
    ((2, 16), True)
    """

    def __init__(self, model, method="integrated_gradients", steps=32, baseline="pad"):
        if not isinstance(model, TextClassifier):
            raise ValueError(
                f"Token attributions explain a TextClassifier; {model.name!r} is a {type(model).__name__} "
                f"({model.task}), which has no single text encoder to attribute to. For a FusionClassifier, "
                "explain each branch's own model; for an ImageClassifier, use grad_cam_model (tfl.explain picks it)."
            )
        self.method = check_method(method, METHODS, "texts")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not MIN_STEPS <= steps <= MAX_STEPS:
            raise ValueError(
                f"steps must be a whole number from {MIN_STEPS} to {MAX_STEPS} (integrated gradients' "
                f"intervals; 32 to 64 are usual). Received: steps={steps!r}"
            )
        if baseline not in BASELINES:
            raise ValueError(f"Unknown baseline {baseline!r}. Known: {', '.join(BASELINES)}.")
        tokenizer = model.preprocessor.tokenizer
        self.model = model
        self.steps = int(steps)
        self.baseline = baseline
        self.baseline_id = int(tokenizer.pad_token_id if baseline == "pad" else tokenizer.mask_token_id)
        self.special_ids = tf.constant(sorted(int(i) for i in tokenizer.special_token_ids), tf.int32)
        self.embed, self.forward = token_embedding_split(model.backbone)
        names = [name for name in ("token_ids", "segment_ids", "padding_mask") if name in model.input]
        signature = {name: tf.TensorSpec([None, None], tf.int32) for name in names}
        self.function = traced(self._attribute, input_signature=[signature, tf.TensorSpec([None], tf.int32)])

    def __call__(self, inputs, class_indices=None):
        inputs = {name: tf.cast(inputs[name], tf.int32) for name in self.function.input_signature[0]}
        batch = int(inputs["token_ids"].shape[0])
        if class_indices is None:
            class_indices = [-1] * batch
        class_indices = tf.constant(np.asarray(class_indices, dtype=np.int32).reshape(batch))
        return {name: value.numpy() for name, value in self.function(inputs, class_indices).items()}

    def scores(self, token_embeddings, inputs):
        """The class scores `[B, C]` of the classifier from token embeddings."""
        outputs = self.forward(token_embeddings, inputs)
        return self.model.class_scores(self.model.pooled_features(outputs, inputs["padding_mask"]))

    def _attribute(self, inputs, class_indices):
        token_ids = tf.cast(inputs["token_ids"], tf.int32)
        kept = tf.reduce_any(token_ids[..., None] == self.special_ids, axis=-1)
        kept |= ~tf.cast(inputs["padding_mask"], tf.bool)
        embedded = tf.cast(self.embed(token_ids), tf.float32)
        baseline = tf.cast(self.embed(tf.where(kept, token_ids, self.baseline_id)), tf.float32)
        if self.method == "integrated_gradients":
            alphas = tf.linspace(0.0, 1.0, self.steps + 1)
            weights = tf.concat([[0.5], tf.ones([self.steps - 1]), [0.5]], 0) / self.steps  # trapezoid
        else:
            alphas, weights = tf.ones([1]), tf.ones([1])
        points = tf.shape(alphas)[0]
        path = baseline[None] + alphas[:, None, None, None] * (embedded - baseline)[None]
        flat = tf.reshape(path, tf.concat([[-1], tf.shape(embedded)[1:]], 0))
        tiled = {name: tf.tile(value, tf.concat([[points], tf.ones([tf.rank(value) - 1], tf.int32)], 0))
                 for name, value in inputs.items()}
        with tf.GradientTape() as tape:
            tape.watch(flat)
            scores = self.scores(flat, tiled)
            chosen = tf.where(class_indices < 0, tf.argmax(scores[-tf.shape(token_ids)[0]:], -1, output_type=tf.int32),
                              class_indices)
            score = tf.gather(scores, tf.tile(chosen, [points]), axis=1, batch_dims=1)
        gradients = tf.reshape(tape.gradient(score, flat), tf.shape(path))
        mean_gradient = tf.reduce_sum(weights[:, None, None, None] * gradients, axis=0)
        attributions = tf.reduce_sum(mean_gradient * (embedded - baseline), axis=-1)
        attributions = tf.where(kept, 0.0, attributions)
        class_scores = tf.reshape(scores, [points, -1, tf.shape(scores)[-1]])
        at_input = tf.gather(class_scores[-1], chosen, axis=1, batch_dims=1)
        at_baseline = tf.gather(self._baseline_scores(class_scores, baseline, inputs), chosen, axis=1, batch_dims=1)
        change = at_input - at_baseline
        return {
            "attributions": attributions,
            "scores": class_scores[-1],
            "classes": chosen,
            "score_change": change,
            "completeness_gap": tf.abs(tf.reduce_sum(attributions, axis=-1) - change),
        }

    def _baseline_scores(self, class_scores, baseline, inputs):
        if self.method == "integrated_gradients":
            return class_scores[0]
        return self.scores(baseline, inputs)


def merge_word_pieces(tokens, attributions, special_tokens=()):
    """Word pieces merged back into words, their attributions summed; special tokens dropped.

    WordPiece (BERT) marks a piece that continues a word with "##";
    SentencePiece (ALBERT, DeBERTa) and byte-level BPE (RoBERTa) mark a
    piece that starts a word with "▁" or "Ġ". Padding and the tokens in
    `special_tokens` ([CLS], [SEP], [PAD], ...) are dropped.

    Args:
        tokens: the tokens of one text, as strings.
        attributions: one number per token.
        special_tokens: the tokens to drop.

    Returns:
        `(words, scores, spans)`: the words, the sum of their pieces'
        attributions, and each word's token positions.

    Examples:

    >>> merge_word_pieces(["[CLS]", "un", "##bel", "##ievable", "film", "[SEP]", "[PAD]"],
    ...                   [0.0, 1.0, 0.5, 0.25, -1.0, 0.0, 0.0], ["[CLS]", "[SEP]", "[PAD]"])
    (['unbelievable', 'film'], [1.75, -1.0], [[1, 2, 3], [4]])
    """
    special = set(special_tokens)
    starts = ("▁", "Ġ")
    word_start_style = any(str(token).startswith(starts) for token in tokens if token not in special)
    words, scores, spans = [], [], []
    for position, (token, value) in enumerate(zip(tokens, attributions)):
        token = str(token)
        if token in special:
            continue
        if word_start_style:
            continues = words and not token.startswith(starts) and spans[-1][-1] == position - 1
            piece = token.lstrip("".join(starts))
        else:
            continues = words and token.startswith("##") and spans[-1][-1] == position - 1
            piece = token[2:] if continues else token
        if continues:
            words[-1] += piece
            scores[-1] += float(value)
            spans[-1].append(position)
        else:
            words.append(piece)
            scores.append(float(value))
            spans.append([position])
    return words, scores, spans
