"""A tiny random BERT for fast text tests: 2 layers, hidden 16, a 30-word vocabulary."""

from tfl.backbones.encoders import random_bert_encoder
from tfl.backbones.encoders import save_encoder

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["the", "a", "cat", "dog", "sat", "on", "mat", "good", "bad", "great", "awful", "movie", "film", "was", "is", "very", "not", "really", "plot", "acting", "fun", "boring"]


def tiny_encoder(sequence_length=16, num_layers=2, hidden_dim=16):
    """A random `(encoder, preprocessor)` with the test vocabulary."""
    return random_bert_encoder(
        VOCABULARY,
        sequence_length=sequence_length,
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=hidden_dim,
        intermediate_dim=2 * hidden_dim,
        max_sequence_length=64,
    )


def tiny_encoder_folder(path, **kwargs):
    """A KerasHub preset folder holding a tiny random encoder; returns its path."""
    encoder, preprocessor = tiny_encoder(**kwargs)
    return save_encoder(encoder, preprocessor, path)
