"""A tiny real KerasHub preprocessor (a 24-word vocabulary) and helpers for text tests."""

import numpy as np

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",  # 0..4
    "the", "a", "cat", "dog", "sat", "on", "mat",  # 5..11
    "good", "bad", "movie", "is", "was", "very", "not",  # 12..18
    "i", "it", "fun", "boring", "and",  # 19..23
]
ID = {word: i for i, word in enumerate(VOCAB)}
CLS, SEP, PAD = ID["[CLS]"], ID["[SEP]"], ID["[PAD]"]


def preprocessor(sequence_length=16):
    import keras_hub

    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCAB, lowercase=True)
    return keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=sequence_length)


def words(count, word="cat"):
    """A text of `count` tokens of the tiny vocabulary."""
    return " ".join([word] * count)


def write(path, content):
    """Writes str (as UTF-8) or bytes; returns the path as a str."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


def texts_and_labels(dataset, key="text"):
    """All `(text, label)` pairs of a raw-string pipeline, in its order."""
    pairs = []
    for inputs, labels in dataset:
        for text, label in zip(inputs[key].numpy(), labels.numpy()):
            pairs.append((text.decode("utf-8"), label.tolist()))
    return pairs


def labels_of(dataset):
    return np.concatenate([labels.numpy() for _, labels in dataset])
