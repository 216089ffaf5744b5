"""`build_scratch_text_model`: the from-scratch baseline for text transfer.

What a Keras user writes without a pretrained encoder: `TextVectorization`
adapted on the training texts, a word embedding trained from random weights,
masked average pooling and a softmax head. Takes raw strings under the input
name `text` (the batches of `tfl.data` sources with `preprocessor=None`).
"""

import keras
import numpy as np


def build_scratch_text_model(
    train_texts,
    class_names,
    *,
    max_tokens=20_000,
    sequence_length=64,
    embedding_dim=64,
    dropout=0.2,
    multi_label=False,
):
    """A bag-of-embeddings classifier whose vocabulary comes from `train_texts`.

    Args:
        train_texts: the training texts (strings); the vocabulary is adapted
            on them, so no held-out text leaks into it.
        class_names: the class names, in output order.
        max_tokens: vocabulary size, out-of-vocabulary token included.
        sequence_length: words kept per text.
        embedding_dim: size of the word vectors.
        dropout: dropout rate before the head.
        multi_label: sigmoid outputs instead of a softmax.

    Returns:
        A compiled-ready functional `keras.Model` from `{"text": strings}` to
        probabilities; it has `class_names` and `multi_label` attributes, as
        tfl classifiers do.

    Examples:

    >>> model = build_scratch_text_model(["good film", "bad film"], ["neg", "pos"])
    >>> model({"text": tf.constant(["a good one"])}).shape
    TensorShape([1, 2])
    """
    texts = np.asarray([str(t) for t in train_texts], dtype=object)
    if texts.size == 0:
        raise ValueError("build_scratch_text_model needs training texts to adapt its vocabulary on.")
    vectorize = keras.layers.TextVectorization(
        max_tokens=max_tokens, output_sequence_length=sequence_length, name="vectorize"
    )
    vectorize.adapt(texts, batch_size=1024)
    text = keras.Input(shape=(), dtype="string", name="text")
    tokens = vectorize(text)
    vectors = keras.layers.Embedding(
        vectorize.vocabulary_size(), embedding_dim, mask_zero=True, name="embedding"
    )(tokens)
    pooled = keras.layers.GlobalAveragePooling1D(name="pooling")(vectors)
    pooled = keras.layers.Dropout(dropout, name="dropout")(pooled)
    outputs = keras.layers.Dense(
        len(class_names), activation="sigmoid" if multi_label else "softmax", name="predictions"
    )(pooled)
    model = keras.Model({"text": text}, outputs, name="scratch_text_classifier")
    model.class_names = [str(name) for name in class_names]
    model.multi_label = multi_label
    return model
